package metricsql

import (
	"context"
	"strconv"

	"github.com/openchoreo/obsplane/internal/readmodel"
)

// The HTTP metrics, as OpenChoreo's Prometheus module defines them from
// Hubble's server-side flow metrics (joined on destination_namespace and
// destination_pod to kube_pod_labels, which obsplane did at ingest):
//
//	requestCount              sum(rate(hubble_http_requests_total{reporter="server"}[2m])) >= 0
//	successfulRequestCount    ... {reporter="server",status=~"^[123]..?$"} ...
//	unsuccessfulRequestCount  ... {reporter="server",status=~"^[45]..?$"} ...
//	meanLatency               sum(rate(hubble_http_request_duration_seconds_sum{reporter="server"}[2m]))
//	                            / sum(rate(hubble_http_requests_total{reporter="server"}[2m])) >= 0
//	latencyP50|P90|P99        histogram_quantile(0.5|0.9|0.99, sum by (le) (rate(
//	                            hubble_http_request_duration_seconds_bucket{reporter="server"}[2m]))) >= 0
//
// PromQL's =~ is anchored, so is match() here.
var (
	httpRates = []measure{
		{"requestCount", "hubble_http_requests_total", server},
		{"successfulRequestCount", "hubble_http_requests_total", server + " AND match(Attributes['status'], '^[123]..?$')"},
		{"unsuccessfulRequestCount", "hubble_http_requests_total", server + " AND match(Attributes['status'], '^[45]..?$')"},
		{latencySum, "hubble_http_request_duration_seconds_sum", server},
	}
	httpBuckets = measure{Metric: "hubble_http_request_duration_seconds_bucket", Where: server}
)

const (
	server     = "Attributes['reporter'] = 'server'"
	latencySum = "latencySum"
)

// Quantiles of the contract's latency series, by name.
var httpQuantiles = []struct {
	Name string
	Q    float64
}{{"latencyP50", 0.5}, {"latencyP90", 0.9}, {"latencyP99", 0.99}}

// Sources of HTTP metrics.
const (
	SourceHubble = readmodel.MetricsSourceHubble
	SourceSpans  = readmodel.MetricsSourceSpans
	SourceNone   = readmodel.MetricsSourceNone
)

// HTTP answers the HTTP metrics of scope over r from Hubble's series, or,
// when there are none, from server spans (see Spans).
func (db *DB) HTTP(ctx context.Context, s Scope, r Range) (map[string][]Point, Source, error) {
	out, err := db.Hubble(ctx, s, r)
	if err != nil {
		return nil, "", err
	}
	if len(out) > 0 {
		return out, SourceHubble, nil
	}
	out, err = db.Spans(ctx, s, r)
	if err != nil {
		return nil, "", err
	}
	if len(out) > 0 {
		return out, SourceSpans, nil
	}
	return out, SourceNone, nil
}

// Hubble answers the HTTP metrics from Hubble's series alone.
func (db *DB) Hubble(ctx context.Context, s Scope, r Range) (map[string][]Point, error) {
	out, err := db.perStep(ctx, "rate.sql", queryData{Measures: httpRates}, s, r, db.rateWindow())
	if err != nil {
		return nil, err
	}
	// meanLatency: the two sums' quotient where both have a value; 0/0
	// (no requests) has none, as PromQL's `>= 0` drops NaN.
	sums := out[latencySum]
	delete(out, latencySum)
	counts := map[int64]float64{}
	for _, p := range out["requestCount"] {
		counts[p.T.UnixMilli()] = p.V
	}
	var mean []Point
	for _, p := range sums {
		if c, ok := counts[p.T.UnixMilli()]; ok && c > 0 {
			mean = append(mean, Point{T: p.T, V: p.V / c})
		}
	}
	if len(mean) > 0 {
		out["meanLatency"] = mean
	}
	qs, err := db.quantiles(ctx, s, r)
	if err != nil {
		return nil, err
	}
	for k, v := range qs {
		out[k] = v
	}
	return out, nil
}

type quantileRow struct {
	Q     float64 `json:"q"`
	I     int     `json:"i"`
	Value float64 `json:"value"`
}

func (db *DB) quantiles(ctx context.Context, s Scope, r Range) (map[string][]Point, error) {
	d := queryData{Bucket: httpBuckets}
	byQ := map[float64]string{}
	for _, q := range httpQuantiles {
		d.Quantiles = append(d.Quantiles, strconv.FormatFloat(q.Q, 'g', -1, 64))
		byQ[q.Q] = q.Name
	}
	rows, err := runRows[quantileRow](ctx, db, "quantile.sql", d, s, r, db.rateWindow())
	if err != nil {
		return nil, err
	}
	out := map[string][]Point{}
	for _, row := range rows {
		// histogram_quantile(...) >= 0 drops negative and NaN results.
		if !(row.Value >= 0) {
			continue
		}
		name := byQ[row.Q]
		out[name] = append(out[name], Point{T: r.Time(row.I).UTC(), V: row.Value})
	}
	return out, nil
}
