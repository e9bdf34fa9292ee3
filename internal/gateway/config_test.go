package gateway

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/otelcol"
	"go.opentelemetry.io/collector/otelcol/otelcoltest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pipeline"

	"github.com/openchoreo/obsplane/internal/gateway/exporter/clickhousestoreexporter"
	"github.com/openchoreo/obsplane/internal/gateway/processor/openchoreoprocessor"
)

// stubOpenSearch stands in for the OpenSearch dual-write exporter (a
// teammate's package) with the keys the whitepaper's config gives it, so
// the test proves everything else in that config loads with our factories.
type stubOpenSearchConfig struct {
	Endpoints []string `mapstructure:"endpoints"`
	Index     string   `mapstructure:"index"`
}

func stubOpenSearchFactory() exporter.Factory {
	return exporter.NewFactory(TypeOpenSearch,
		func() component.Config { return &stubOpenSearchConfig{} },
		exporter.WithLogs(func(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Logs, error) {
			return exporterhelper.NewLogs(ctx, set, cfg, func(context.Context, plog.Logs) error { return nil },
				exporterhelper.WithCapabilities(consumer.Capabilities{}))
		}, component.StabilityLevelDevelopment))
}

func loadConfig(t *testing.T, yamlText string, extra ...exporter.Factory) *otelcol.Config {
	t.Helper()
	f, err := Components(ComponentOptions{Store: nil, Exporters: extra})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(yamlText), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := otelcoltest.LoadConfigAndValidate(path, f)
	if err != nil {
		t.Fatalf("config does not load: %v\n%s", err, yamlText)
	}
	return cfg
}

func TestWhitepaperConfigLoads(t *testing.T) {
	b, err := os.ReadFile("testdata/whitepaper-3.2.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := loadConfig(t, string(b), stubOpenSearchFactory())
	ch := cfg.Exporters[component.NewID(clickhousestoreexporter.Type)].(*clickhousestoreexporter.Config)
	if ch.Database != "otel" || ch.LogsTableName != "otel_logs" || ch.TracesTableName != "otel_traces" || !ch.AsyncInsert {
		t.Errorf("clickhousestore config: %+v", ch)
	}
	logs := cfg.Service.Pipelines[pipeline.NewID(pipeline.SignalLogs)]
	if len(logs.Receivers) != 2 || len(logs.Exporters) != 2 || len(logs.Processors) != 3 {
		t.Errorf("logs pipeline: %+v", logs)
	}
}

func TestDefaultConfigLoads(t *testing.T) {
	y, err := DefaultConfig(Params{DataDir: "/var/lib/obsplane", HealthCheckAddr: "127.0.0.1:13133", TelemetryAddr: "127.0.0.1:8888"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := loadConfig(t, y)
	for _, want := range []string{"otlp", "fluentforward"} {
		if _, ok := cfg.Receivers[component.MustNewID(want)]; !ok {
			t.Errorf("receiver %s missing", want)
		}
	}
	if len(cfg.Service.Pipelines) != 3 {
		t.Errorf("pipelines: %v", cfg.Service.Pipelines)
	}
	ch := cfg.Exporters[component.NewID(clickhousestoreexporter.Type)].(*clickhousestoreexporter.Config)
	q := ch.QueueConfig.Get()
	if q == nil || q.StorageID == nil || q.StorageID.String() != "file_storage" || !q.BlockOnOverflow || q.QueueSize != DefaultQueueSize {
		t.Errorf("sending queue: %+v", q)
	}
	// With a disk queue the batching happens in the queue, after the
	// request is persisted, never in a batch processor before it.
	if b := q.Batch.Get(); b == nil || b.MinSize != DefaultBatchSize || b.FlushTimeout != DefaultBatchTimeout {
		t.Errorf("queue batching: %+v", b)
	}
	if _, ok := cfg.Processors[component.MustNewID("batch")]; ok {
		t.Error("a batch processor in front of the persistent queue acknowledges records it only holds in memory")
	}
	if ch.BackOffConfig.MaxElapsedTime != 0 || !ch.BackOffConfig.Enabled {
		t.Errorf("retry must be on and unbounded: %+v", ch.BackOffConfig)
	}
	for _, want := range []string{
		"check_interval: 1s", "min_size: 100000", "flush_timeout: 5s",
		"directory: " + filepath.Join("/var/lib/obsplane", "queue"), "endpoint: :24224", "endpoint: :4317", "endpoint: :4318",
	} {
		if !strings.Contains(y, want) {
			t.Errorf("default config lacks %q:\n%s", want, y)
		}
	}
	oc := cfg.Processors[component.NewID(openchoreoprocessor.Type)].(*openchoreoprocessor.Config)
	if oc.DefaultSeverity != "INFO" {
		t.Errorf("openchoreo processor defaults: %+v", oc)
	}
}

func TestDefaultConfigVariants(t *testing.T) {
	// Forward only: logs pipeline only, no otlp receiver.
	y, err := DefaultConfig(Params{OTLPGRPCAddr: Off, OTLPHTTPAddr: Off, RemoteWriteAddr: Off, ForwardAddr: "127.0.0.1:0", MemoryLimitMiB: 512, BatchTimeout: 200 * time.Millisecond, BatchSize: 5000})
	if err != nil {
		t.Fatal(err)
	}
	cfg := loadConfig(t, y)
	if len(cfg.Service.Pipelines) != 1 || len(cfg.Receivers) != 1 {
		t.Errorf("forward only: %v / %v", cfg.Service.Pipelines, cfg.Receivers)
	}
	if !strings.Contains(y, "limit_mib: 512") || !strings.Contains(y, "send_batch_size: 5000") || !strings.Contains(y, "timeout: 200ms") {
		t.Errorf("tuning not rendered:\n%s", y)
	}
	if strings.Contains(y, "file_storage") {
		t.Errorf("no data dir must mean no file_storage:\n%s", y)
	}

	// OTLP HTTP only.
	y, err = DefaultConfig(Params{OTLPGRPCAddr: Off, ForwardAddr: Off})
	if err != nil {
		t.Fatal(err)
	}
	cfg = loadConfig(t, y)
	if len(cfg.Service.Pipelines) != 3 || strings.Contains(y, "grpc") {
		t.Errorf("http only:\n%s", y)
	}

	// Remote write only: the metrics pipeline alone.
	y, err = DefaultConfig(Params{OTLPGRPCAddr: Off, OTLPHTTPAddr: Off, ForwardAddr: Off, RemoteWriteAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	cfg = loadConfig(t, y)
	if p, ok := cfg.Service.Pipelines[pipeline.NewID(pipeline.SignalMetrics)]; len(cfg.Service.Pipelines) != 1 || !ok || len(p.Receivers) != 1 || p.Receivers[0].Type().String() != "promremotewrite" {
		t.Errorf("remote write only:\n%s", y)
	}

	// Dual write: an extra logs exporter with its config.
	y, err = DefaultConfig(Params{LogExporters: []string{"opensearch"}, ExporterConfigs: map[string]any{
		"opensearch": map[string]any{"endpoints": []string{"http://127.0.0.1:9200"}, "index": "container-logs"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	cfg = loadConfig(t, y, stubOpenSearchFactory())
	if got := cfg.Service.Pipelines[pipeline.NewID(pipeline.SignalLogs)].Exporters; len(got) != 2 {
		t.Errorf("dual write exporters: %v", got)
	}

	for _, bad := range []Params{
		{OTLPGRPCAddr: Off, OTLPHTTPAddr: Off, ForwardAddr: Off, RemoteWriteAddr: Off},
		{ForwardAddr: "24224"},
		{RemoteWriteAddr: "9201"},
		{BatchSize: -1},
	} {
		if _, err := DefaultConfig(bad); err == nil {
			t.Errorf("%+v: want an error", bad)
		}
	}
}

func TestRunRejectsBadSettings(t *testing.T) {
	ctx := context.Background()
	if err := Run(ctx, Settings{ConfigYAML: "receivers: {}"}); err == nil || !strings.Contains(err.Error(), "no store") {
		t.Errorf("no store: %v", err)
	}
	if err := Run(ctx, Settings{Store: engine}); err == nil || !strings.Contains(err.Error(), "no config") {
		t.Errorf("no config: %v", err)
	}
	err := Run(ctx, Settings{Store: engine, ConfigYAML: "receivers:\n  nosuch: {}\n"})
	if err == nil || !strings.Contains(err.Error(), "nosuch") {
		t.Errorf("unknown component: %v", err)
	}
	err = Run(ctx, Settings{Store: engine, ConfigFile: "/nonexistent/gateway.yaml"})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/gateway.yaml") {
		t.Errorf("missing file: %v", err)
	}
}
