package metricsql

import (
	"context"
	"strconv"
	"strings"
	"time"
)

var topologyMeasures = []measure{
	{"requests", "hubble_http_requests_total", server},
	{"errors", "hubble_http_requests_total", server + " AND match(Attributes['status'], '^[45]..?$')"},
	{"duration", "hubble_http_request_duration_seconds_sum", server},
}

type edgeRow struct {
	Measure string  `json:"measure"`
	SrcUID  string  `json:"src_uid"`
	SrcName string  `json:"src_name"`
	DstUID  string  `json:"dst_uid"`
	DstName string  `json:"dst_name"`
	Value   float64 `json:"value"`
}

type edgeQuantileRow struct {
	Q     float64 `json:"q"`
	Key   string  `json:"key"`
	Value float64 `json:"value"`
}

// Topology answers the runtime topology of a project in an environment
// over [start, end] from Hubble's series: edges between components with
// traffic in the window (see sql/topology.sql). componentUID, when set,
// keeps the edges touching it.
func (db *DB) Topology(ctx context.Context, s Scope, componentUID string, start, end time.Time) ([]Edge, error) {
	// One evaluation at end over the whole window: PromQL's increase(x[end-start]).
	window := end.Sub(start)
	r := Range{Start: end, End: end, Step: time.Millisecond}
	s.ComponentUID = ""
	rows, err := runRowsWith[edgeRow](ctx, db, "topology.sql", queryData{Measures: topologyMeasures}, s, r, window, componentUID)
	if err != nil {
		return nil, err
	}
	type key struct{ src, dst string }
	edges := map[key]*Edge{}
	var order []key
	for _, row := range rows {
		k := key{row.SrcUID, row.DstUID}
		e, ok := edges[k]
		if !ok {
			e = &Edge{SourceUID: row.SrcUID, SourceName: row.SrcName, TargetUID: row.DstUID, TargetName: row.DstName}
			edges[k] = e
			order = append(order, k)
		}
		switch row.Measure {
		case "requests":
			e.Metrics.RequestCount = row.Value
		case "errors":
			e.Metrics.UnsuccessfulRequestCount = row.Value
		case "duration":
			e.Metrics.MeanLatency = row.Value
		}
	}
	d := queryData{Bucket: httpBuckets}
	for _, q := range httpQuantiles {
		d.Quantiles = append(d.Quantiles, strconv.FormatFloat(q.Q, 'g', -1, 64))
	}
	qrows, err := runRowsWith[edgeQuantileRow](ctx, db, "topology_quantile.sql", d, s, r, window, componentUID)
	if err != nil {
		return nil, err
	}
	for _, row := range qrows {
		src, dst, _ := strings.Cut(row.Key, "\t")
		e, ok := edges[key{src, dst}]
		if !ok || !(row.Value >= 0) {
			continue
		}
		switch row.Q {
		case 0.5:
			e.Metrics.LatencyP50 = row.Value
		case 0.9:
			e.Metrics.LatencyP90 = row.Value
		case 0.99:
			e.Metrics.LatencyP99 = row.Value
		}
	}
	var out []Edge
	for _, k := range order {
		e := edges[k]
		// As the module: an edge exists when requests were seen; the mean
		// is the duration sum over the request count.
		if e.Metrics.RequestCount <= 0 {
			continue
		}
		e.Metrics.MeanLatency /= e.Metrics.RequestCount
		out = append(out, *e)
	}
	return out, nil
}
