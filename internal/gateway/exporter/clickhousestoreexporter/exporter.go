package clickhousestoreexporter

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/cespare/xxhash/v2"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"

	"github.com/openchoreo/obsplane/internal/store"
)

type storeExporter struct {
	cfg    *Config
	st     store.Store
	tel    *Telemetry
	logger *zap.Logger
	signal string
	// recoverUntil is when crash recovery (SkipStored inserts) ends; zero
	// when the last run shut down cleanly.
	recoverUntil time.Time
}

// marker is the file that exists while the exporter runs.
func (e *storeExporter) marker() string {
	return filepath.Join(e.cfg.StateDir, "clickhousestore-"+e.signal+".running")
}

func (e *storeExporter) recovering() bool {
	return !e.recoverUntil.IsZero() && time.Now().Before(e.recoverUntil)
}

func (e *storeExporter) start(ctx context.Context, _ component.Host) error {
	if e.cfg.StateDir != "" {
		if err := os.MkdirAll(e.cfg.StateDir, 0o755); err != nil {
			return fmt.Errorf("clickhousestore: state dir: %w", err)
		}
		if _, err := os.Stat(e.marker()); err == nil && e.cfg.RecoveryWindow > 0 {
			e.recoverUntil = time.Now().Add(e.cfg.RecoveryWindow)
			e.logger.Warn("the last run did not shut down cleanly; replayed batches skip rows already stored",
				zap.String("signal", e.signal), zap.Duration("for", e.cfg.RecoveryWindow))
		}
		f, err := os.Create(e.marker())
		if err != nil {
			return fmt.Errorf("clickhousestore: run marker: %w", err)
		}
		if err := errors.Join(f.Sync(), f.Close()); err != nil {
			return fmt.Errorf("clickhousestore: run marker: %w", err)
		}
	}
	// A store that is down at start is not fatal: batches wait in the
	// (persistent) queue and are retried. Say so, though.
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := e.st.Ping(pctx); err != nil {
		e.logger.Warn("store not reachable at start; batches will queue and retry", zap.String("store", e.st.Kind()), zap.Error(err))
	}
	return nil
}

func (e *storeExporter) pushLogs(ctx context.Context, ld plog.Logs) error {
	if ld.LogRecordCount() == 0 {
		return nil
	}
	token := e.token("logs", func() ([]byte, error) { return (&plog.ProtoMarshaler{}).MarshalLogs(ld) })
	return e.insert(ctx, logsBatch(e.cfg.Database, e.cfg.LogsTableName, ld), token)
}

func (e *storeExporter) pushTraces(ctx context.Context, td ptrace.Traces) error {
	if td.SpanCount() == 0 {
		return nil
	}
	token := e.token("traces", func() ([]byte, error) { return (&ptrace.ProtoMarshaler{}).MarshalTraces(td) })
	return e.insert(ctx, tracesBatch(e.cfg.Database, e.cfg.TracesTableName, td), token)
}

func (e *storeExporter) pushMetrics(ctx context.Context, md pmetric.Metrics) error {
	if md.DataPointCount() == 0 {
		return nil
	}
	token := e.token("metrics", func() ([]byte, error) { return (&pmetric.ProtoMarshaler{}).MarshalMetrics(md) })
	batches, skipped := metricsBatches(e.cfg.Database, e.cfg.MetricsTables, md)
	if skipped > 0 {
		e.tel.Skipped.WithLabelValues("metrics", "type_unset").Add(float64(skipped))
		e.logger.Warn("metrics with no data type were not written", zap.Int("count", skipped))
	}
	// Tables are written one after another. If one fails the whole request
	// is retried; the tables already written skip the replay by token.
	for _, b := range batches {
		if err := e.insert(ctx, b, token); err != nil {
			return err
		}
	}
	return nil
}

// token derives the batch's deduplication token from its serialized
// content, so a batch retried as it is (a failed insert, a retry after a
// time-out the engine completed) hashes to the same token and the engine
// skips the rows it already has. A crash is different: the queue re-batches
// what was in flight, which SkipStored covers (see Config.StateDir). Identical content sent twice on purpose is
// also written once, which for telemetry (same timestamps, same ids) is the
// right answer.
func (e *storeExporter) token(signal string, marshal func() ([]byte, error)) string {
	if !e.cfg.Dedup {
		return ""
	}
	b, err := marshal()
	if err != nil {
		// No token means no dedup for this batch, never a lost batch.
		e.logger.Warn("cannot serialize batch for its dedup token; inserting without one", zap.String("signal", signal), zap.Error(err))
		return ""
	}
	e.tel.Payload.WithLabelValues(signal).Add(float64(len(b)))
	return "obsplane-" + signal + "-" + strconv.FormatUint(xxhash.Sum64(b), 16) + "-" + strconv.Itoa(len(b))
}

// insert writes one table's batch and classifies a failure: errors worth
// retrying with the same data go back to exporterhelper's retry (and, when
// retries are exhausted or shutdown comes, stay in the persistent queue);
// anything else is permanent, because retrying a batch the engine rejects
// for what it is would block the queue forever.
// shutdown runs after the queue has stopped: nothing is in flight, so the
// next start needs no recovery.
func (e *storeExporter) shutdown(context.Context) error {
	if e.cfg.StateDir == "" {
		return nil
	}
	if err := os.Remove(e.marker()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("clickhousestore: run marker: %w", err)
	}
	return nil
}

func (e *storeExporter) insert(ctx context.Context, b *store.Batch, token string) error {
	if token != "" {
		b.DedupToken = token + "-" + b.Table
	}
	b.SkipStored = e.recovering()
	start := time.Now()
	err := e.st.Insert(ctx, b)
	e.tel.Latency.WithLabelValues(b.Table).Observe(time.Since(start).Seconds())
	if err == nil {
		e.tel.Rows.WithLabelValues(b.Table).Add(float64(b.Rows))
		e.tel.Batches.WithLabelValues(b.Table, "ok").Inc()
		return nil
	}
	err = fmt.Errorf("insert %d rows into %s.%s (%s store): %w", b.Rows, b.Database, b.Table, e.st.Kind(), err)
	// A closed store is the process shutting down under the exporter: keep
	// the batch (in the persistent queue) for the next start rather than
	// dropping it as store.Retryable's "not worth retrying" would.
	if store.Retryable(err) || errors.Is(err, store.ErrClosed) {
		e.tel.Batches.WithLabelValues(b.Table, "retryable").Inc()
		return err
	}
	e.tel.Batches.WithLabelValues(b.Table, "permanent").Inc()
	e.logger.Error("batch rejected by the store and dropped", zap.String("table", b.Table), zap.Int("rows", b.Rows), zap.Error(err))
	return consumererror.NewPermanent(err)
}
