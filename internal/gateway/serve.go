package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/collector/exporter"

	"github.com/openchoreo/obsplane/internal/config"
	"github.com/openchoreo/obsplane/internal/gateway/exporter/opensearchexporter"
	"github.com/openchoreo/obsplane/internal/gateway/processor/openchoreoprocessor"
	"github.com/openchoreo/obsplane/internal/metricsql"
	"github.com/openchoreo/obsplane/internal/router/flags"
	"github.com/openchoreo/obsplane/internal/store"
	"github.com/openchoreo/obsplane/internal/version"
)

// FromConfig returns the Settings that run the gateway for serve's config:
// the built-in pipeline on the configured listeners and database, or the
// collector config file named by --gateway-config (obsplane gateway
// --config FILE). telemetry gathers the collector's own metrics for serve's
// /metrics (nil with a config file, which sets its own telemetry). ok is
// false when every receiver is off and no file is given: nothing to run.
//
// fl is the process's flag service, given when an OpenSearch is configured:
// the dual-write exporter is then in the logs and traces pipelines and its
// shadow_write flag switches it per batch, without a restart.
func FromConfig(cfg *config.Config, st store.Store, fl *flags.Service, reg prometheus.Registerer, log *slog.Logger) (s Settings, telemetry prometheus.Gatherer, ok bool, err error) {
	l := cfg.Listen
	if cfg.Gateway.Config == "" && l.OTLPGRPC == config.Off && l.OTLPHTTP == config.Off && l.Forward == config.Off && l.RemoteWrite == config.Off {
		log.Info("gateway not started: every receiver address is off")
		return s, nil, false, nil
	}
	s = Settings{Store: st, Registerer: reg, Version: version.Version, LoggingOptions: SlogLogging(log),
		PodLabels: StoredPodLabels(&metricsql.DB{Store: st, Database: cfg.Database})}
	if cfg.Gateway.Config != "" {
		if _, err := os.Stat(cfg.Gateway.Config); err != nil {
			return s, nil, false, fmt.Errorf("--gateway-config: %w", err)
		}
		s.ConfigFile = cfg.Gateway.Config
	} else {
		g := cfg.Gateway
		p := Params{OTLPGRPCAddr: l.OTLPGRPC, OTLPHTTPAddr: l.OTLPHTTP, ForwardAddr: l.Forward, RemoteWriteAddr: l.RemoteWrite, DataDir: cfg.DataDir, Database: cfg.Database,
			OTLPAuth: OTLPAuth{BearerTokenFile: g.OTLPBearerTokenFile, CertFile: g.OTLPTLSCertFile,
				KeyFile: g.OTLPTLSKeyFile, ClientCAFile: g.OTLPTLSClientCAFile},
			TrustedLabels: g.TrustedTenantLabels,
			HTTP:          HTTPLimits{ReadHeaderTimeout: l.ReadHeaderTimeout, ReadTimeout: l.ReadTimeout, WriteTimeout: l.WriteTimeout, IdleTimeout: l.IdleTimeout},
		}
		if l.RemoteWrite != config.Off && (p.OTLPAuth.On() || p.TrustedLabels) {
			log.Warn("the remote-write port takes no credentials: keep it reachable only by Prometheus (a NetworkPolicy), or any sender can write metrics and pod labels (docs/SECURITY.md)", "addr", l.RemoteWrite)
		}
		if l.Forward != config.Off && (p.OTLPAuth.On() || p.TrustedLabels) {
			log.Warn("the forward port takes no credentials: keep it reachable only by Fluent Bit (a NetworkPolicy), or any sender can write logs (docs/SECURITY.md)", "addr", l.Forward)
		}
		// The collector's own telemetry on a loopback port, folded into
		// serve's /metrics.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return s, nil, false, fmt.Errorf("gateway telemetry port: %w", err)
		}
		p.TelemetryAddr = ln.Addr().String()
		ln.Close()
		telemetry = ScrapeGatherer{URL: "http://" + p.TelemetryAddr + "/metrics"}
		if fl != nil {
			// Dual write: with an OpenSearch configured the logs and traces
			// pipelines always feed OpenChoreo's container-logs-* and
			// otel-traces-* indices, through the exporter's own disk
			// queue (an OpenSearch outage never holds up ClickHouse), and
			// the shadow_write flag gates each batch (OpenSearchExporter).
			p.LogExporters = []string{"opensearch"}
			p.TraceExporters = []string{"opensearch"}
			p.ExporterConfigs = map[string]any{"opensearch": OpenSearchExporterConfig(cfg.OpenSearch.URL, cfg.DataDir != "")}
		}
		yaml, err := DefaultConfig(p)
		if err != nil {
			return s, nil, false, err
		}
		s.ConfigYAML = yaml
	}
	s.Exporters = append(s.Exporters, OpenSearchExporter(fl, opensearchexporter.WithRegisterer(reg)))
	return s, telemetry, true, nil
}

// OpenSearchExporterConfig is the dual-write exporter's config in the
// built-in pipeline: on, writing to url, its queue on disk when the
// pipeline has a file_storage extension (a data directory).
func OpenSearchExporterConfig(url string, persistent bool) map[string]any {
	c := map[string]any{"enabled": true, "endpoint": url}
	if persistent {
		c["sending_queue"] = map[string]any{"storage": "file_storage"}
	}
	return c
}

// OpenSearchExporter returns the dual-write exporter's factory, gated by
// the shadow_write flag of fl when fl is set (a config file's exporter
// then follows the flag too).
func OpenSearchExporter(fl *flags.Service, opts ...opensearchexporter.Option) exporter.Factory {
	if fl != nil {
		opts = append(opts, opensearchexporter.WithGate(func() bool {
			f, _ := fl.Get(flags.ShadowWrite)
			return f.Enabled
		}))
	}
	return opensearchexporter.NewFactory(opts...)
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
