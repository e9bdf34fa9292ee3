package metricsql

import (
	"context"

	"github.com/openchoreo/obsplane/internal/readmodel"
)

// The read model's Metrics: each read checks the caller may read the
// query's namespace, then runs the query scoped to it.
var _ readmodel.Metrics = (*DB)(nil)

// ResourceMetrics implements readmodel.Metrics.
func (db *DB) ResourceMetrics(ctx context.Context, t readmodel.Tenancy, q readmodel.MetricsQuery) (map[string][]Point, error) {
	if err := t.Require(q.Scope.Namespace); err != nil {
		return nil, err
	}
	return db.Resource(ctx, q.Scope, q.Range)
}

// HTTPMetrics implements readmodel.Metrics.
func (db *DB) HTTPMetrics(ctx context.Context, t readmodel.Tenancy, q readmodel.MetricsQuery) (map[string][]Point, Source, error) {
	if err := t.Require(q.Scope.Namespace); err != nil {
		return nil, "", err
	}
	return db.HTTP(ctx, q.Scope, q.Range)
}

// RuntimeTopology implements readmodel.Metrics.
func (db *DB) RuntimeTopology(ctx context.Context, t readmodel.Tenancy, q readmodel.TopologyWindow) ([]Edge, error) {
	if err := t.Require(q.Scope.Namespace); err != nil {
		return nil, err
	}
	return db.Topology(ctx, q.Scope, q.Scope.ComponentUID, q.Start, q.End)
}

// UsagePercent implements readmodel.Metrics.
func (db *DB) UsagePercent(ctx context.Context, t readmodel.Tenancy, q readmodel.UsageQuery) ([]Point, error) {
	if err := t.Require(q.Scope.Namespace); err != nil {
		return nil, err
	}
	return db.Usage(ctx, q.Scope, q.Metric, q.Window, q.Range)
}
