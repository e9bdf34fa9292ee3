package clickhouse

import (
	"context"

	"github.com/openchoreo/obsplane/internal/readmodel"
)

var _ readmodel.Counts = (*Backend)(nil)

// countTables are a signal's table and the condition that picks its rows:
// events are the otel_logs rows with a k8s.event.reason attribute.
var countTables = map[string][2]string{
	readmodel.SignalLogs:   {"otel_logs", "NOT mapContains(LogAttributes, 'k8s.event.reason')"},
	readmodel.SignalEvents: {"otel_logs", "mapContains(LogAttributes, 'k8s.event.reason')"},
	readmodel.SignalTraces: {"otel_traces", "1"},
}

var countGroups = map[string]string{"": "''", "namespace": "OpenChoreoNamespace", "component": "OpenChoreoComponent"}

// CountWindow implements readmodel.Counts.
func (b *Backend) CountWindow(ctx context.Context, t readmodel.Tenancy, q readmodel.WindowCount) (*readmodel.WindowCounts, error) {
	if err := q.Check(); err != nil {
		return nil, err
	}
	tbl := countTables[q.Signal]
	s := b.stmt(t, q).set("Table", tbl[0], "Filter", tbl[1], "Group", countGroups[q.GroupBy])
	sql, err := s.render("count_window")
	if err != nil {
		return nil, err
	}
	rows, err := scanAll[struct {
		G string `json:"g"`
		N int64  `json:"n"`
	}](ctx, b, "count "+q.Signal, sql, s.Params)
	if err != nil {
		return nil, err
	}
	out := &readmodel.WindowCounts{Groups: map[string]int64{}}
	for _, r := range rows {
		out.Total += r.N
		if q.GroupBy != "" {
			out.Groups[r.G] += r.N
		}
	}
	return out, nil
}
