package gateway

import (
	"fmt"
	"log/slog"
	"net"
	"os"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/openchoreo/obsplane/internal/config"
	"github.com/openchoreo/obsplane/internal/gateway/exporter/opensearchexporter"
	"github.com/openchoreo/obsplane/internal/store"
	"github.com/openchoreo/obsplane/internal/version"
)

// FromConfig returns the Settings that run the gateway for serve's config:
// the built-in pipeline on the configured listeners and database, or the
// collector config file named by --gateway-config (obsplane gateway
// --config FILE). telemetry gathers the collector's own metrics for serve's
// /metrics (nil with a config file, which sets its own telemetry). ok is
// false when every receiver is off and no file is given: nothing to run.
func FromConfig(cfg *config.Config, st store.Store, reg prometheus.Registerer, log *slog.Logger) (s Settings, telemetry prometheus.Gatherer, ok bool, err error) {
	l := cfg.Listen
	if cfg.Gateway.Config == "" && l.OTLPGRPC == config.Off && l.OTLPHTTP == config.Off && l.Forward == config.Off {
		log.Info("gateway not started: every receiver address is off")
		return s, nil, false, nil
	}
	s = Settings{Store: st, Registerer: reg, Version: version.Version, LoggingOptions: SlogLogging(log)}
	if cfg.Gateway.Config != "" {
		if _, err := os.Stat(cfg.Gateway.Config); err != nil {
			return s, nil, false, fmt.Errorf("--gateway-config: %w", err)
		}
		s.ConfigFile = cfg.Gateway.Config
	} else {
		p := Params{OTLPGRPCAddr: l.OTLPGRPC, OTLPHTTPAddr: l.OTLPHTTP, ForwardAddr: l.Forward, DataDir: cfg.DataDir, Database: cfg.Database}
		// The collector's own telemetry on a loopback port, folded into
		// serve's /metrics.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return s, nil, false, fmt.Errorf("gateway telemetry port: %w", err)
		}
		p.TelemetryAddr = ln.Addr().String()
		ln.Close()
		telemetry = ScrapeGatherer{URL: "http://" + p.TelemetryAddr + "/metrics"}
		if cfg.Migration.ShadowWrite.Enabled {
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
			return s, nil, false, err
		}
		s.ConfigYAML = yaml
	}
	s.Exporters = append(s.Exporters, opensearchexporter.NewFactory(opensearchexporter.WithRegisterer(reg)))
	return s, telemetry, true, nil
}
