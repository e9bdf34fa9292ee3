// Package metricsql answers OpenChoreo's metrics adapter from the ClickStack
// metric tables, in SQL: the Prometheus series that cAdvisor,
// kube-state-metrics and Hubble expose (remote-written into obsplane, one row
// per sample, see the promremotewrite receiver) turned into the time series
// OpenChoreo's Prometheus module computes with PromQL. Counter rates follow
// Prometheus's extrapolatedRate (resets added back, extrapolation to the
// window's edges), instant values its lookback and staleness rules, and
// latency percentiles its histogram_quantile over classic buckets, so both
// give the same numbers for the same samples (docs/METRICS.md says where they
// can differ). HTTP metrics fall back to server spans when a component has
// no Hubble series.
//
// Every query is scoped to one OpenChoreo namespace (and the UIDs the
// caller gives) through the tenant columns the gateway's kube_pod_labels
// join fills.
package metricsql

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"text/template"
	"time"

	"github.com/openchoreo/obsplane/internal/readmodel"
	"github.com/openchoreo/obsplane/internal/store"
)

//go:embed sql/*.sql
var sqlFiles embed.FS

var templates = template.Must(template.New("").ParseFS(sqlFiles, "sql/*.sql"))

// DB runs the metric queries against one database.
type DB struct {
	Store store.Store
	// Database holds the metric tables (default "otel").
	Database string
	// Settings apply to every query (resource limits).
	Settings []store.Setting
	// RateWindow is the range of OpenChoreo's rate() selectors (2m).
	RateWindow time.Duration
	// Lookback is how far back an instant selector looks for a sample
	// (Prometheus's --query.lookback-delta, 5m).
	Lookback time.Duration
}

// Defaults of the module's queries and Prometheus's engine.
const (
	DefaultRateWindow = 2 * time.Minute
	DefaultLookback   = 5 * time.Minute
)

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (db *DB) database() (string, error) {
	d := db.Database
	if d == "" {
		d = "otel"
	}
	if !identRE.MatchString(d) {
		return "", fmt.Errorf("metricsql: database name %q: use letters, digits and underscores", d)
	}
	return "`" + d + "`", nil
}

func (db *DB) rateWindow() time.Duration {
	if db.RateWindow > 0 {
		return db.RateWindow
	}
	return DefaultRateWindow
}

func (db *DB) lookback() time.Duration {
	if db.Lookback > 0 {
		return db.Lookback
	}
	return DefaultLookback
}

// The read model's types, which these queries answer in.
type (
	Scope       = readmodel.MetricsScope
	Range       = readmodel.MetricsRange
	Point       = readmodel.MetricPoint
	Source      = readmodel.MetricsSource
	Edge        = readmodel.RuntimeEdge
	EdgeMetrics = readmodel.RuntimeEdgeMetrics
)

// measure is one output series: the rows of Metric that satisfy Where (a
// constant SQL condition on the row, never user input).
type measure struct {
	Name, Metric, Where string
}

// queryData is what the templates render from.
type queryData struct {
	DB          string
	Scope       Scope
	Measures    []measure
	MetricNames []string
	Running     []string
	Bucket      measure
	Quantiles   []string
	// Spans filter: none today, reserved for the fallback's options.
}

func names(ms []measure) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range ms {
		if !seen[m.Metric] {
			seen[m.Metric] = true
			out = append(out, m.Metric)
		}
	}
	return out
}

func render(name string, d queryData) (string, error) {
	var b bytes.Buffer
	if err := templates.ExecuteTemplate(&b, name, d); err != nil {
		return "", fmt.Errorf("metricsql: render %s: %w", name, err)
	}
	return b.String(), nil
}

func ms(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// params binds the scope and the step grid; window is the selector's range.
func params(s Scope, r Range, window time.Duration) store.Params {
	n := r.Steps()
	return store.Params{
		"ns": s.Namespace, "project": s.ProjectUID, "component": s.ComponentUID, "environment": s.EnvironmentUID,
		"from": ms(r.Start), "to": ms(r.Time(n - 1)), "step": strconv.FormatInt(r.Step.Milliseconds(), 10),
		"window": strconv.FormatInt(window.Milliseconds(), 10), "last": strconv.Itoa(n - 1),
	}
}

// ErrNoSteps is a range without evaluation times.
var ErrNoSteps = errors.New("metricsql: the range has no evaluation time (step must be positive and end not before start)")

type stepRow struct {
	Measure string  `json:"measure"`
	I       int     `json:"i"`
	Value   float64 `json:"value"`
	Series  int     `json:"series"`
}

// runRows renders a template for scope s over r and scans its rows.
func runRows[R any](ctx context.Context, db *DB, tmpl string, d queryData, s Scope, r Range, window time.Duration) ([]R, error) {
	return runRowsWith[R](ctx, db, tmpl, d, s, r, window, "")
}

// runRowsWith is runRows with the topology's edge filter bound.
func runRowsWith[R any](ctx context.Context, db *DB, tmpl string, d queryData, s Scope, r Range, window time.Duration, edgeComponent string) ([]R, error) {
	if r.Steps() == 0 || r.Step < time.Millisecond {
		return nil, ErrNoSteps
	}
	dbName, err := db.database()
	if err != nil {
		return nil, err
	}
	d.DB, d.Scope, d.MetricNames = dbName, s, names(d.Measures)
	q, err := render(tmpl, d)
	if err != nil {
		return nil, err
	}
	p := params(s, r, window)
	p["edge_component"] = edgeComponent
	rows, err := store.ScanAll[R](ctx, db.Store, q, p, db.Settings...)
	if err != nil {
		return nil, fmt.Errorf("metricsql: %s: %w", tmpl, err)
	}
	return rows, nil
}

// perStep runs a template returning (measure, i, value, series) rows and
// collects them into series keyed by measure, in step order.
func (db *DB) perStep(ctx context.Context, tmpl string, d queryData, s Scope, r Range, window time.Duration) (map[string][]Point, error) {
	rows, err := runRows[stepRow](ctx, db, tmpl, d, s, r, window)
	if err != nil {
		return nil, err
	}
	out := map[string][]Point{}
	for _, row := range rows {
		if row.Series == 0 {
			continue
		}
		out[row.Measure] = append(out[row.Measure], Point{T: r.Time(row.I).UTC(), V: row.Value})
	}
	return out, nil
}
