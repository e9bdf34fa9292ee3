package clickhouse

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/openchoreo/obsplane/internal/query"
	"github.com/openchoreo/obsplane/internal/readmodel"
	"github.com/openchoreo/obsplane/internal/store"
)

// Topology is the service call graph in a window (see topology_edges).
func (b *Backend) Topology(ctx context.Context, t readmodel.Tenancy, q readmodel.TopologyQuery) ([]readmodel.Edge, error) {
	s, cond, err := b.begin(t, q.Namespace, false, q, "topology_cond")
	if err != nil {
		return nil, err
	}
	s.set("Cond", cond)
	edgesSQL, err := s.render("topology_edges")
	if err != nil {
		return nil, err
	}
	namesSQL, err := s.render("topology_names")
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	namesDone := make(chan error, 1)
	go func() {
		namesDone <- b.each(ctx, "topology names", namesSQL, s.Params, 0, func(rows store.Rows) error {
			var n struct{ K, Name string }
			if err := rows.Scan(&n); err != nil {
				return err
			}
			names[n.K] = n.Name
			return nil
		})
	}()
	type edgeRow struct {
		Parent, Child string // service hashes, as decimal text
		Calls, Errors uint64
		P50, P95, P99 float64
	}
	var rows []edgeRow
	err = b.each(ctx, "topology", edgesSQL, s.Params, 0, func(r store.Rows) error {
		var e edgeRow
		if err := r.Scan(&e); err != nil {
			return err
		}
		rows = append(rows, e)
		return nil
	})
	if nerr := <-namesDone; err == nil {
		err = nerr
	}
	if err != nil {
		return nil, err
	}
	out := make([]readmodel.Edge, 0, len(rows))
	for _, e := range rows {
		out = append(out, readmodel.Edge{Parent: names[e.Parent], Child: names[e.Child], Calls: e.Calls, Errors: e.Errors, P50Ms: e.P50, P95Ms: e.P95, P99Ms: e.P99})
	}
	slices.SortFunc(out, func(x, y readmodel.Edge) int {
		if x.Calls != y.Calls {
			return cmp.Compare(y.Calls, x.Calls)
		}
		return cmp.Or(strings.Compare(x.Parent, y.Parent), strings.Compare(x.Child, y.Child))
	})
	return out, nil
}

// Latency is P50/P95/P99 of SERVER spans per service and 5 minutes.
func (b *Backend) Latency(ctx context.Context, t readmodel.Tenancy, q readmodel.LatencyQuery) ([]readmodel.LatencyPoint, error) {
	s, sql, err := b.begin(t, q.Namespace, false, q, "latency")
	if err != nil {
		return nil, err
	}
	out := []readmodel.LatencyPoint{}
	err = b.each(ctx, "latency", sql, s.Params, 0, func(rows store.Rows) error {
		var v struct {
			Service, Bucket string
			N               uint64
			P50, P95, P99   float64
		}
		if err := rows.Scan(&v); err != nil {
			return err
		}
		out = append(out, readmodel.LatencyPoint{Service: v.Service, Bucket: store.ParseTime(v.Bucket), Count: v.N, P50Ms: v.P50, P95Ms: v.P95, P99Ms: v.P99})
		return nil
	})
	return out, err
}

// ErrorGroups are error spans grouped by service, span name and message.
func (b *Backend) ErrorGroups(ctx context.Context, t readmodel.Tenancy, q readmodel.ErrorsQuery) ([]readmodel.ErrorGroup, error) {
	s, sql, err := b.begin(t, q.Namespace, false, q, "error_groups")
	if err != nil {
		return nil, err
	}
	out := []readmodel.ErrorGroup{}
	err = b.each(ctx, "errors", sql, s.Params, 0, func(rows store.Rows) error {
		var v struct {
			Service, SpanName, Message, First, Last, Sample string
			N                                               uint64
		}
		if err := rows.Scan(&v); err != nil {
			return err
		}
		out = append(out, readmodel.ErrorGroup{Service: v.Service, SpanName: v.SpanName, Message: v.Message, Count: v.N,
			FirstSeen: store.ParseTime(v.First), LastSeen: store.ParseTime(v.Last), SampleTraceID: v.Sample})
		return nil
	})
	return out, err
}

// PPL compiles q for the tenancy (rows capped at q.MaxRows, by default the
// row limit) with internal/query (which ANDs the scope
// into the statement, outside anything the query says) and runs it.
func (b *Backend) PPL(ctx context.Context, t readmodel.Tenancy, q readmodel.PPLQuery) (*readmodel.Table, error) {
	if q.MaxRows <= 0 {
		q.MaxRows = b.limits.MaxResultRows
	}
	c, err := query.CompilePPL(q.Query, query.Scope{All: t.All, Namespaces: t.Namespaces},
		query.Options{MaxRows: int64(q.MaxRows), Database: b.db})
	if err != nil {
		var se *query.SyntaxError
		switch {
		case errors.As(err, &se):
			return nil, readmodel.Invalid("query: %s", se.Error())
		case errors.Is(err, query.ErrEmptyScope):
			return nil, t.Guard()
		}
		return nil, readmodel.Invalid("query: %v", err)
	}
	out := &readmodel.Table{Columns: []string{}, Rows: [][]json.RawMessage{}}
	var keys []string
	for _, col := range c.Columns {
		out.Columns = append(out.Columns, col.Name)
		keys = append(keys, col.Key)
	}
	err = b.each(ctx, "ppl", c.SQL, c.Params, 0, func(rows store.Rows) error {
		var m map[string]json.RawMessage
		if err := rows.Scan(&m); err != nil {
			return err
		}
		if c.Star && len(out.Rows) == 0 {
			// Every table column, in the engine's order, then the eval'd ones.
			var ordered []string
			if err := orderedKeys(rows.Raw(), &ordered); err != nil {
				return err
			}
			out.Columns, keys = out.Columns[:0], keys[:0]
			for _, k := range ordered {
				out.Columns = append(out.Columns, k)
				keys = append(keys, k)
			}
		}
		row := make([]json.RawMessage, len(keys))
		for i, k := range keys {
			if v, ok := m[k]; ok {
				row[i] = v
			} else {
				row[i] = json.RawMessage("null")
			}
		}
		out.Rows = append(out.Rows, row)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// orderedKeys lists a JSON object's keys in document order.
func orderedKeys(obj []byte, out *[]string) error {
	dec := json.NewDecoder(bytes.NewReader(obj))
	if _, err := dec.Token(); err != nil {
		return err
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		k, ok := t.(string)
		if !ok {
			return fmt.Errorf("ppl: row key %v is not a string", t)
		}
		*out = append(*out, k)
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return err
		}
	}
	return nil
}
