package opensearchexporter

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"

	"github.com/openchoreo/obsplane/internal/opensearch"
)

// osExporter writes queued log batches into OpenSearch.
type osExporter struct {
	cfg    *Config
	client *opensearch.Client
	tel    *Telemetry
	tr     *lagTracker
	logger *zap.Logger
	// templatesOK is set once OpenChoreo's templates are installed; no
	// document is written before, or the first daily index would be created
	// with dynamic mapping (log as text) and the Observer's queries on it
	// would break for the whole day.
	templatesOK atomic.Bool
}

func newExporter(cfg *Config, tel *Telemetry, logger *zap.Logger) (*osExporter, error) {
	c, err := opensearch.New(cfg.URL(), opensearch.Options{
		Username:           cfg.Username,
		Password:           string(cfg.Password),
		InsecureSkipVerify: cfg.InsecureSkipVerify,
		Timeout:            cfg.TimeoutConfig.Timeout,
	})
	if err != nil {
		return nil, fmt.Errorf("opensearch exporter: %w", err)
	}
	return &osExporter{cfg: cfg, client: c, tel: tel, tr: &lagTracker{now: time.Now}, logger: logger}, nil
}

func (e *osExporter) start(ctx context.Context, _ component.Host) error {
	e.tel.lag.track(e.tr)
	// OpenSearch down at start is not fatal (that is what the queue is
	// for); the templates are installed before the first write instead.
	if err := e.ensureTemplates(ctx); err != nil {
		e.logger.Warn("OpenSearch not ready at start; log batches will queue and retry", zap.String("endpoint", e.client.URL), zap.Error(err))
	}
	return nil
}

func (e *osExporter) shutdown(context.Context) error {
	e.tel.lag.untrack(e.tr)
	return nil
}

func (e *osExporter) ensureTemplates(ctx context.Context) error {
	if !e.cfg.EnsureTemplates || e.templatesOK.Load() {
		return nil
	}
	if err := e.client.EnsureTemplates(ctx); err != nil {
		return err
	}
	e.templatesOK.Store(true)
	return nil
}

// indexFor names the daily index of a record time (UTC day, as Fluent Bit).
func (e *osExporter) indexFor(t time.Time) string {
	return e.cfg.Index + "-" + t.UTC().Format(e.cfg.IndexDateFormat)
}

// pushLogs writes one batch. Retryable failures (OpenSearch down, 429,
// 5xx) return an error the retry sender retries, the batch staying in the
// queue; documents already stored by an earlier try come back as
// "existing", so nothing is doubled. Documents OpenSearch rejects for good
// are counted, logged with their reasons and the batch is then done.
func (e *osExporter) pushLogs(ctx context.Context, ld plog.Logs) error {
	return e.export(ctx, ld.LogRecordCount(), "log record", func(add func(opensearch.BulkDoc, error)) {
		rls := ld.ResourceLogs()
		for i := 0; i < rls.Len(); i++ {
			rl := rls.At(i)
			for j := 0; j < rl.ScopeLogs().Len(); j++ {
				sl := rl.ScopeLogs().At(j)
				for k := 0; k < sl.LogRecords().Len(); k++ {
					rec := opensearch.RecordFromOTel(rl.Resource(), sl.Scope(), sl.LogRecords().At(k))
					// Kubernetes events go where OpenChoreo's collector puts
					// them (k8s-events-*, ss4o documents); container logs
					// where Fluent Bit does.
					encode, index := opensearch.EncodeLogDocument, e.indexFor(rec.Timestamp)
					if opensearch.IsEvent(rec) {
						encode, index = opensearch.EncodeEventDocument, e.cfg.EventsIndex+"-"+rec.Timestamp.UTC().Format(e.cfg.TracesIndexDateFormat)
					}
					src, err := encode(rec)
					add(opensearch.BulkDoc{Index: index, Source: src}, err)
				}
			}
		}
	})
}

// pushTraces writes one batch of spans into OpenChoreo's otel-traces-*
// indices as the collector's opensearch exporter does (ss4o documents), one
// index per UTC day of the span's start. The _id is the trace and span id,
// so a retried batch overwrites rather than doubles.
func (e *osExporter) pushTraces(ctx context.Context, td ptrace.Traces) error {
	return e.export(ctx, td.SpanCount(), "span", func(add func(opensearch.BulkDoc, error)) {
		rss := td.ResourceSpans()
		for i := 0; i < rss.Len(); i++ {
			rs := rss.At(i)
			for j := 0; j < rs.ScopeSpans().Len(); j++ {
				ss := rs.ScopeSpans().At(j)
				for k := 0; k < ss.Spans().Len(); k++ {
					sp := ss.Spans().At(k)
					src, err := opensearch.EncodeSpanDocument(rs.Resource(), ss.Scope(), sp)
					add(opensearch.BulkDoc{
						Index:  e.cfg.TracesIndex + "-" + sp.StartTimestamp().AsTime().UTC().Format(e.cfg.TracesIndexDateFormat),
						ID:     sp.TraceID().String() + "-" + sp.SpanID().String(),
						Source: src,
					}, err)
				}
			}
		}
	})
}

// export is what every signal's push shares: the templates are in place
// before the first document; encode hands each of the batch's n records to
// add, with its document or the reason it has none (such a record is
// counted and logged, and the rest go on); the documents are then written.
func (e *osExporter) export(ctx context.Context, n int, what string, encode func(add func(opensearch.BulkDoc, error))) error {
	if n == 0 {
		return nil
	}
	if err := e.ensureTemplates(ctx); err != nil {
		e.tel.Requests.WithLabelValues("retryable").Inc()
		return fmt.Errorf("opensearch exporter: install index templates at %s: %w", e.client.URL, err)
	}
	docs := make([]opensearch.BulkDoc, 0, n)
	unencodable := 0
	encode(func(d opensearch.BulkDoc, err error) {
		if err != nil {
			unencodable++
			e.logger.Error(what+" cannot become an OpenSearch document; not dual-written", zap.Error(err))
			return
		}
		docs = append(docs, d)
	})
	if unencodable > 0 {
		e.tel.Docs.WithLabelValues("failed").Add(float64(unencodable))
	}
	return e.write(ctx, docs, n)
}

// write bulk-indexes docs, the encoded part of a batch of n records.
func (e *osExporter) write(ctx context.Context, docs []opensearch.BulkDoc, n int) error {
	res, err := e.client.Bulk(ctx, docs, opensearch.BulkOptions{MaxAttempts: e.cfg.BulkMaxAttempts})
	e.tel.Docs.WithLabelValues("created").Add(float64(res.Created))
	e.tel.Docs.WithLabelValues("existing").Add(float64(res.Existing))
	if err == nil {
		e.tel.Requests.WithLabelValues("ok").Inc()
		e.tr.ack(n)
		return nil
	}
	var be *opensearch.BulkError
	if !errors.As(err, &be) {
		e.tel.Requests.WithLabelValues("retryable").Inc()
		return fmt.Errorf("opensearch exporter: %w", err)
	}
	if be.Retryable() {
		// The whole batch is retried; what was stored comes back as
		// existing. Permanent failures among it are reported on the final
		// try only, so they are not counted once per retry.
		e.tel.Requests.WithLabelValues("retryable").Inc()
		return fmt.Errorf("opensearch exporter: %w", err)
	}
	perm := be.Permanent()
	e.tel.Docs.WithLabelValues("failed").Add(float64(len(perm)))
	e.tel.Requests.WithLabelValues("permanent").Inc()
	for i, f := range perm {
		if i == 10 {
			e.logger.Error("more documents rejected by OpenSearch", zap.Int("count", len(perm)-i))
			break
		}
		e.logger.Error("document rejected by OpenSearch; not dual-written", zap.String("index", f.Index), zap.String("id", f.ID),
			zap.Int("status", f.Status), zap.String("type", f.Type), zap.String("reason", f.Reason))
	}
	e.tr.ack(n)
	return consumererror.NewPermanent(err)
}

// trackedLogs sits in front of the exporterhelper's queue: it records
// arrivals for the lag metric, and turns a refused enqueue (queue full,
// storage failing) into a counted drop, because the logs pipeline fans out
// to ClickHouse too and an error here would make receivers refuse data
// ClickHouse already has (and clients re-send it).
type trackedLogs struct {
	exporter.Logs
	tr     *lagTracker
	tel    *Telemetry
	logger *zap.Logger
	gate   func() bool // nil: always on
}

// trackedTraces is trackedLogs for spans.
type trackedTraces struct {
	exporter.Traces
	tr     *lagTracker
	tel    *Telemetry
	logger *zap.Logger
	gate   func() bool
}

// off reports whether the gate keeps n records out of the queue.
func off(gate func() bool, tel *Telemetry, n int) bool {
	if gate == nil || gate() {
		return false
	}
	tel.Docs.WithLabelValues("off").Add(float64(n))
	return true
}

func (t *trackedTraces) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	n := td.SpanCount()
	if n == 0 || off(t.gate, t.tel, n) {
		return nil
	}
	entry := t.tr.add(n)
	if err := t.Traces.ConsumeTraces(ctx, td); err != nil {
		t.tr.cancel(entry)
		t.tel.Docs.WithLabelValues("dropped").Add(float64(n))
		t.logger.Error("dual-write queue refused spans; they are not written to OpenSearch",
			zap.Int("spans", n), zap.Error(err))
	}
	return nil
}

func (t *trackedLogs) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	n := ld.LogRecordCount()
	if n == 0 || off(t.gate, t.tel, n) {
		return nil
	}
	entry := t.tr.add(n)
	if err := t.Logs.ConsumeLogs(ctx, ld); err != nil {
		t.tr.cancel(entry)
		t.tel.Docs.WithLabelValues("dropped").Add(float64(n))
		t.logger.Error("dual-write queue refused log records; they are in ClickHouse only, not in OpenSearch",
			zap.Int("records", n), zap.Error(err))
	}
	return nil
}
