package gateway

import (
	"context"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/openchoreo/obsplane/internal/config"
	"github.com/openchoreo/obsplane/internal/gateway/exporter/opensearchexporter"
	"github.com/openchoreo/obsplane/internal/gateway/processor/openchoreoprocessor"
	"github.com/openchoreo/obsplane/internal/metricsql"
	"github.com/openchoreo/obsplane/internal/server"
	"github.com/openchoreo/obsplane/internal/version"
)

func init() { server.Register(hook) }

// hook runs the gateway in serve when the gateway component is on: the
// built-in pipeline on the configured listeners, or the collector config
// file named by --gateway-config (obsplane gateway --config FILE).
func hook(_ context.Context, env *server.Env) ([]server.Component, error) {
	cfg := env.Config
	if !cfg.Has("gateway") {
		return nil, nil
	}
	l := cfg.Listen
	if cfg.Gateway.Config == "" && l.OTLPGRPC == config.Off && l.OTLPHTTP == config.Off && l.Forward == config.Off && l.RemoteWrite == config.Off {
		env.Logger.Info("gateway not started: every receiver address is off")
		return nil, nil
	}
	s := Settings{Store: env.Store, Registerer: env.Registry, Version: version.Version, Ready: env.Gate("gateway"),
		LoggingOptions: SlogLogging(env.Logger.With("component", "gateway")),
		PodLabels:      StoredPodLabels(&metricsql.DB{Store: env.Store})}
	if cfg.Gateway.Config != "" {
		if _, err := os.Stat(cfg.Gateway.Config); err != nil {
			return nil, fmt.Errorf("--gateway-config: %w", err)
		}
		s.ConfigFile = cfg.Gateway.Config
	} else {
		p := paramsFor(cfg)
		// The collector's own telemetry on a loopback port, folded into
		// serve's /metrics.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("gateway telemetry port: %w", err)
		}
		p.TelemetryAddr = ln.Addr().String()
		ln.Close()
		env.AddGatherer(server.ScrapeGatherer{URL: "http://" + p.TelemetryAddr + "/metrics"})
		if cfg.Migration.ShadowWrite.Enabled == "true" {
			// Dual write: the logs and traces pipelines also feed
			// OpenChoreo's container-logs-* and otel-traces-* indices,
			// through the exporter's own disk queue, so an OpenSearch
			// outage never holds up ClickHouse.
			p.LogExporters = []string{"opensearch"}
			p.TraceExporters = []string{"opensearch"}
			p.ExporterConfigs = map[string]any{"opensearch": map[string]any{
				"enabled":       true,
				"endpoint":      cfg.OpenSearch.URL,
				"sending_queue": map[string]any{"storage": "file_storage"},
			}}
		}
		yaml, err := DefaultConfig(p)
		if err != nil {
			return nil, err
		}
		s.ConfigYAML = yaml
	}
	s.Exporters = append(s.Exporters, opensearchexporter.NewFactory(opensearchexporter.WithRegisterer(env.Registry)))
	return []server.Component{{Name: "gateway", Run: func(ctx context.Context) error { return Run(ctx, s) }}}, nil
}

// paramsFor maps serve's config onto the default pipeline.
func paramsFor(cfg *config.Config) Params {
	return Params{
		OTLPGRPCAddr:    cfg.Listen.OTLPGRPC,
		OTLPHTTPAddr:    cfg.Listen.OTLPHTTP,
		ForwardAddr:     cfg.Listen.Forward,
		RemoteWriteAddr: cfg.Listen.RemoteWrite,
		DataDir:         cfg.DataDir,
	}
}

// StoredPodLabels reads the kube_pod_labels series stored in db for the
// openchoreo processor's warm start.
func StoredPodLabels(db *metricsql.DB) openchoreoprocessor.PodLabelSource {
	return func(ctx context.Context, since time.Time) ([]openchoreoprocessor.PodLabels, error) {
		rows, err := db.PodLabels(ctx, since)
		if err != nil {
			return nil, err
		}
		out := make([]openchoreoprocessor.PodLabels, len(rows))
		for i, r := range rows {
			out[i] = openchoreoprocessor.PodLabels{PodKey: openchoreoprocessor.PodKey{Namespace: r.Namespace, Pod: r.Pod}, Labels: r.Labels}
		}
		return out, nil
	}
}
