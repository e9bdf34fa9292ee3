package gateway

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"
)

// Off disables a listener, as everywhere in obsplane's flags.
const Off = "off"

// Defaults: the ports of README's command table, and the reference config's
// batch of 5s / 100000 (docs/DESIGN.md, Ingest).
const (
	DefaultOTLPGRPCAddr  = ":4317"
	DefaultOTLPHTTPAddr  = ":4318"
	DefaultForwardAddr   = ":24224"
	DefaultBatchTimeout  = 5 * time.Second
	DefaultBatchSize     = 100000
	DefaultQueueSize     = 500
	DefaultQueueWorkers  = 4
	defaultCheckInterval = time.Second
)

// Params are the knobs of the default pipeline. Zero values take the
// defaults; an address of "off" drops that receiver.
type Params struct {
	OTLPGRPCAddr string
	OTLPHTTPAddr string
	ForwardAddr  string
	// HealthCheckAddr serves the collector's health_check extension; ""
	// or "off" leaves it out (serve's /readyz covers the process).
	HealthCheckAddr string
	// TelemetryAddr serves the collector's own metrics (otelcol_*: queue
	// size and capacity, refused and sent items) for Prometheus; "" or
	// "off" disables them.
	TelemetryAddr string

	// DataDir holds the persistent sending queues (<DataDir>/queue). Empty
	// keeps the queue in memory (lost on a crash): tests only.
	DataDir string

	// MemoryLimitMiB is memory_limiter's hard limit; 0 uses 80% of the
	// memory the process may use (the cgroup limit in a container).
	MemoryLimitMiB int
	// BatchTimeout and BatchSize tune the batch processor.
	BatchTimeout time.Duration
	BatchSize    int
	// QueueSize (batches) and QueueWorkers tune the exporter's queue.
	QueueSize    int
	QueueWorkers int

	// LogExporters are extra exporters for the logs pipeline, e.g.
	// "opensearch" during the dual-write migration phases; their configs go
	// in ExporterConfigs. Their factories must be passed to Run.
	LogExporters []string
	// TraceExporters are the same for the traces pipeline.
	TraceExporters  []string
	ExporterConfigs map[string]any

	// Database is where the exporter writes (default "otel").
	Database string

	// LogLevel is the collector's log level (default info).
	LogLevel string
}

func (p Params) withDefaults() Params {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&p.OTLPGRPCAddr, DefaultOTLPGRPCAddr)
	def(&p.OTLPHTTPAddr, DefaultOTLPHTTPAddr)
	def(&p.ForwardAddr, DefaultForwardAddr)
	def(&p.HealthCheckAddr, Off)
	def(&p.TelemetryAddr, Off)
	def(&p.LogLevel, "info")
	if p.BatchTimeout == 0 {
		p.BatchTimeout = DefaultBatchTimeout
	}
	if p.BatchSize == 0 {
		p.BatchSize = DefaultBatchSize
	}
	if p.QueueSize == 0 {
		p.QueueSize = DefaultQueueSize
	}
	if p.QueueWorkers == 0 {
		p.QueueWorkers = DefaultQueueWorkers
	}
	return p
}

func on(addr string) bool { return addr != Off }

// DefaultConfig renders the default collector config for p: the
// receivers that are on, memory_limiter -> openchoreo -> batch, and the
// clickhousestore exporter behind a persistent queue under <data>/queue.
func DefaultConfig(p Params) (string, error) {
	p = p.withDefaults()
	if p.BatchSize < 0 || p.BatchTimeout < 0 || p.QueueSize < 0 || p.QueueWorkers < 0 || p.MemoryLimitMiB < 0 {
		return "", errors.New("gateway: batch size/timeout, queue size/workers and memory limit must not be negative")
	}
	for name, a := range map[string]string{"otlp grpc": p.OTLPGRPCAddr, "otlp http": p.OTLPHTTPAddr, "forward": p.ForwardAddr, "health check": p.HealthCheckAddr, "telemetry": p.TelemetryAddr} {
		if !on(a) {
			continue
		}
		if _, _, err := net.SplitHostPort(a); err != nil {
			return "", fmt.Errorf("gateway: %s address %q: %w (want host:port, :port or %q)", name, a, err, Off)
		}
	}

	receivers := map[string]any{}
	var logRecv, otlpRecv []string
	if on(p.OTLPGRPCAddr) || on(p.OTLPHTTPAddr) {
		protocols := map[string]any{}
		if on(p.OTLPGRPCAddr) {
			protocols["grpc"] = map[string]any{"endpoint": p.OTLPGRPCAddr}
		}
		if on(p.OTLPHTTPAddr) {
			protocols["http"] = map[string]any{"endpoint": p.OTLPHTTPAddr}
		}
		receivers["otlp"] = map[string]any{"protocols": protocols}
		otlpRecv = []string{"otlp"}
		logRecv = append(logRecv, "otlp")
	}
	if on(p.ForwardAddr) {
		receivers["fluentforward"] = map[string]any{"endpoint": p.ForwardAddr}
		logRecv = append(logRecv, "fluentforward")
	}
	if len(receivers) == 0 {
		return "", errors.New("gateway: every receiver is off (otlp grpc, otlp http, forward); turn one on or don't run the gateway")
	}

	memLimiter := map[string]any{"check_interval": defaultCheckInterval.String()}
	if p.MemoryLimitMiB > 0 {
		memLimiter["limit_mib"] = p.MemoryLimitMiB
		memLimiter["spike_limit_mib"] = p.MemoryLimitMiB / 5
	} else {
		memLimiter["limit_percentage"] = 80
		memLimiter["spike_limit_percentage"] = 20
	}

	queue := map[string]any{
		"enabled":           true,
		"queue_size":        p.QueueSize,
		"num_consumers":     p.QueueWorkers,
		"block_on_overflow": true,
	}
	extensions := map[string]any{}
	var extNames []string
	if p.DataDir != "" {
		extensions["file_storage"] = map[string]any{
			"directory":        filepath.Join(p.DataDir, "queue"),
			"create_directory": true,
			// Reclaim the space of drained queues at start and after a
			// backlog, so a long outage does not leave a huge file behind.
			"compaction": map[string]any{"on_start": true, "on_rebound": true, "directory": filepath.Join(p.DataDir, "queue")},
		}
		extNames = append(extNames, "file_storage")
		queue["storage"] = "file_storage"
		// Batch in the persistent queue, not in a batch processor: the
		// receiver acknowledges a request once the pipeline returns, and a
		// batch processor returns while the records are still only in
		// memory, so a kill -9 would lose acknowledged data. Here the
		// request is on disk when the receiver answers, and batches are
		// formed as the queue is drained.
		queue["batch"] = map[string]any{
			"flush_timeout": p.BatchTimeout.String(),
			"min_size":      p.BatchSize,
			"max_size":      p.BatchSize,
			"sizer":         "items",
		}
	}
	if on(p.HealthCheckAddr) {
		extensions["health_check"] = map[string]any{"endpoint": p.HealthCheckAddr}
		extNames = append(extNames, "health_check")
	}

	store := map[string]any{"sending_queue": queue}
	if p.DataDir != "" {
		store["state_dir"] = filepath.Join(p.DataDir, "queue")
	}
	if p.Database != "" {
		store["database"] = p.Database
	}
	exporters := map[string]any{"clickhousestore": store}
	for name, c := range p.ExporterConfigs {
		exporters[name] = c
	}
	logExp := append([]string{"clickhousestore"}, p.LogExporters...)
	traceExp := append([]string{"clickhousestore"}, p.TraceExporters...)
	for _, name := range append(slices.Clone(p.LogExporters), p.TraceExporters...) {
		if _, ok := exporters[name]; !ok {
			exporters[name] = nil
		}
	}

	procs := []string{"memory_limiter", "openchoreo"}
	processors := map[string]any{"memory_limiter": memLimiter, "openchoreo": nil}
	if p.DataDir == "" {
		// No disk queue (tests): nothing to lose that the queue would keep,
		// so a batch processor (as in the reference config) does the
		// batching.
		procs = append(procs, "batch")
		processors["batch"] = map[string]any{
			"timeout":             p.BatchTimeout.String(),
			"send_batch_size":     p.BatchSize,
			"send_batch_max_size": p.BatchSize,
		}
	}
	pipelines := map[string]any{}
	if len(logRecv) > 0 {
		pipelines["logs"] = map[string]any{"receivers": logRecv, "processors": procs, "exporters": logExp}
	}
	if len(otlpRecv) > 0 {
		pipelines["traces"] = map[string]any{"receivers": otlpRecv, "processors": procs, "exporters": traceExp}
		pipelines["metrics"] = map[string]any{"receivers": otlpRecv, "processors": procs, "exporters": []string{"clickhousestore"}}
	}

	metricsTel := map[string]any{"level": "none"}
	if on(p.TelemetryAddr) {
		host, portText, _ := net.SplitHostPort(p.TelemetryAddr)
		if host == "" {
			host = "0.0.0.0"
		}
		port, err := strconv.Atoi(portText)
		if err != nil {
			return "", fmt.Errorf("gateway: telemetry address %q: port is not a number", p.TelemetryAddr)
		}
		metricsTel = map[string]any{"level": "normal", "readers": []any{map[string]any{
			"pull": map[string]any{"exporter": map[string]any{"prometheus": map[string]any{"host": host, "port": port}}},
		}}}
	}
	service := map[string]any{
		"pipelines": pipelines,
		"telemetry": map[string]any{"logs": map[string]any{"level": p.LogLevel}, "metrics": metricsTel},
	}
	if len(extNames) > 0 {
		service["extensions"] = extNames
	}
	cfg := map[string]any{
		"receivers":  receivers,
		"processors": processors,
		"exporters":  exporters,
		"service":    service,
	}
	if len(extensions) > 0 {
		cfg["extensions"] = extensions
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		return "", fmt.Errorf("gateway: render config: %w", err)
	}
	return string(out), nil
}
