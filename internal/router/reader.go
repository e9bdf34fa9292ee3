package router

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/openchoreo/obsplane/internal/readmodel"
)

// Reader returns the read model as the callers see it: a readmodel.Reader
// that answers each read the two stores both serve (the logs adapter's logs
// and events, /api/logs pages, the tracing adapter's traces, spans and span)
// through Do — from the backend chosen for the tenancy's subject, with dual
// read and the rollback windows — and every other read (obsplane's own
// trace, topology, latency, error, correlation, stream and PPL reads, which
// only ClickHouse holds) from clickhouse directly, so those reads stay out
// of the windows that compare the two backends on like reads. opensearch
// is nil when no OpenSearch is configured. A nil Router reads clickhouse
// alone.
func (r *Router) Reader(clickhouse, opensearch readmodel.Reader) readmodel.Reader {
	if r == nil {
		return clickhouse
	}
	return &routed{Reader: clickhouse, r: r, ch: clickhouse, os: opensearch}
}

// routed embeds ClickHouse's Reader for the reads it does not route.
type routed struct {
	readmodel.Reader
	r      *Router
	ch, os readmodel.Reader
}

// route answers one read through Do: call asks a backend, digest is its
// answer's comparable form.
func route[T any](ctx context.Context, rt *routed, t readmodel.Tenancy, op string, rng Range,
	call func(context.Context, readmodel.Reader) (T, error), digest func(T) Result) (T, error) {
	f := func(b readmodel.Reader) Func {
		if b == nil {
			return nil
		}
		// The read runs under the context Do gives it: the request's for
		// the primary, the background one for the dual read, which must
		// not end when the primary's answer has been written.
		return func(ctx context.Context) (any, Result, error) {
			v, err := call(ctx, b)
			if err != nil {
				return nil, Result{}, err
			}
			return v, digest(v), nil
		}
	}
	v, err := rt.r.DoRange(ctx, t.Subject, op, rng, f(rt.ch), f(rt.os))
	if err != nil {
		var zero T
		return zero, err
	}
	return v.(T), nil
}

func (rt *routed) QueryLogs(ctx context.Context, t readmodel.Tenancy, q readmodel.LogsQuery) (*readmodel.LogsPage, error) {
	return route(ctx, rt, t, "logs.query", Range{q.Start, q.End}, func(ctx context.Context, b readmodel.Reader) (*readmodel.LogsPage, error) {
		return b.QueryLogs(ctx, t, q)
	},
		func(p *readmodel.LogsPage) Result {
			// OpenSearch sorts on @timestamp in milliseconds: lines within
			// one millisecond are ties there, in nanosecond order here.
			d := Result{Total: p.Total, IDs: tiesSorted(p.Entries, func(e readmodel.LogEntry) (any, time.Time) {
				if q.Workflow() {
					// A workflow answer shows time and text only.
					return [2]any{e.Timestamp, e.Body}, e.Timestamp.Truncate(time.Millisecond)
				}
				return e, e.Timestamp.Truncate(time.Millisecond)
			})}
			if len(q.Levels) > 0 {
				d.Incomparable = "logLevels: OpenSearch matches the level words anywhere in the text, ClickHouse the line's level"
			}
			return d
		})
}

func (rt *routed) QueryEvents(ctx context.Context, t readmodel.Tenancy, q readmodel.LogsQuery) (*readmodel.EventsPage, error) {
	return route(ctx, rt, t, "events.query", Range{q.Start, q.End}, func(ctx context.Context, b readmodel.Reader) (*readmodel.EventsPage, error) {
		return b.QueryEvents(ctx, t, q)
	},
		func(p *readmodel.EventsPage) Result {
			return Result{Total: p.Total, IDs: tiesSorted(p.Events, func(e readmodel.Event) (any, time.Time) { return e, e.Timestamp.Truncate(time.Millisecond) })}
		})
}

// TailLogs digests each line by its time in milliseconds (what OpenSearch
// date fields keep) and text, what both stores hold alike (cursors are
// ClickHouse's own).
func (rt *routed) TailLogs(ctx context.Context, t readmodel.Tenancy, f readmodel.LogFilter) (*readmodel.LogLines, error) {
	return route(ctx, rt, t, "api.logs", Range{f.Since, f.Until}, func(ctx context.Context, b readmodel.Reader) (*readmodel.LogLines, error) {
		return b.TailLogs(ctx, t, f)
	},
		func(p *readmodel.LogLines) Result {
			res := Result{Total: len(p.Lines), IDs: make([]string, 0, len(p.Lines))}
			for _, l := range p.Lines {
				res.IDs = append(res.IDs, digest([2]any{l.Timestamp.UTC().Truncate(time.Millisecond), l.Body}))
			}
			return res
		})
}

func (rt *routed) QueryTraces(ctx context.Context, t readmodel.Tenancy, q readmodel.TracesQuery) (*readmodel.TracesPage, error) {
	return route(ctx, rt, t, "traces.query", Range{q.Start, q.End}, func(ctx context.Context, b readmodel.Reader) (*readmodel.TracesPage, error) {
		return b.QueryTraces(ctx, t, q)
	},
		func(p *readmodel.TracesPage) Result {
			// OpenSearch orders traces by their start in milliseconds.
			return Result{Total: p.Total, IDs: tiesSorted(p.Traces, func(s readmodel.TraceSummary) (any, time.Time) {
				return s, s.Start.Truncate(time.Millisecond)
			})}
		})
}

func (rt *routed) QuerySpans(ctx context.Context, t readmodel.Tenancy, q readmodel.TracesQuery) (*readmodel.SpansPage, error) {
	return route(ctx, rt, t, "spans.query", Range{q.Start, q.End}, func(ctx context.Context, b readmodel.Reader) (*readmodel.SpansPage, error) {
		return b.QuerySpans(ctx, t, q)
	},
		func(p *readmodel.SpansPage) Result {
			ids := make([]string, 0, len(p.Spans))
			for _, s := range p.Spans {
				ids = append(ids, digest(s))
			}
			return Result{Total: p.Total, IDs: ids}
		})
}

func (rt *routed) GetSpan(ctx context.Context, t readmodel.Tenancy, ref readmodel.SpanRef) (*readmodel.Span, error) {
	return route(ctx, rt, t, "span.get", Range{}, func(ctx context.Context, b readmodel.Reader) (*readmodel.Span, error) { return b.GetSpan(ctx, t, ref) },
		func(s *readmodel.Span) Result { return Result{Total: 1, IDs: []string{digest(s)}} })
}

// tiesSorted digests each item and sorts the digests of items sharing a
// sort key (SortTies): each store orders those its own way.
func tiesSorted[T any](items []T, key func(T) (any, time.Time)) []string {
	ids, keys := make([]string, 0, len(items)), make([]string, 0, len(items))
	for _, it := range items {
		v, k := key(it)
		ids = append(ids, digest(v))
		keys = append(keys, k.UTC().Format(time.RFC3339Nano))
	}
	return SortTies(ids, keys)
}

// digest identifies a typed result item by the first 8 bytes of the SHA-256
// of its JSON encoding (maps in key order), so two stores' answers compare
// item by item without holding either. An item that cannot be encoded gets
// "unencodable", which never matches a real one.
func digest(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "unencodable"
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}
