package metricsql

import (
	"context"
	"strconv"
)

type spanRow struct {
	I            int       `json:"i"`
	Requests     float64   `json:"requests"`
	Successful   float64   `json:"successful"`
	Unsuccessful float64   `json:"unsuccessful"`
	NOK          uint64    `json:"n_ok"`
	NFailed      uint64    `json:"n_failed"`
	Mean         float64   `json:"mean"`
	QS           []float64 `json:"qs"`
}

// Spans answers the HTTP metrics from the scope's server spans (see
// sql/spans.sql): the same series as Hubble's, with exact quantiles instead
// of bucket interpolation. Spans are counted at their end; one that started
// more than an hour before the range is not read.
func (db *DB) Spans(ctx context.Context, s Scope, r Range) (map[string][]Point, error) {
	d := queryData{}
	for _, q := range httpQuantiles {
		d.Quantiles = append(d.Quantiles, strconv.FormatFloat(q.Q, 'g', -1, 64))
	}
	rows, err := runRows[spanRow](ctx, db, "spans.sql", d, s, r, db.rateWindow())
	if err != nil {
		return nil, err
	}
	out := map[string][]Point{}
	add := func(name string, i int, v float64) {
		out[name] = append(out[name], Point{T: r.Time(i).UTC(), V: v})
	}
	for _, row := range rows {
		add("requestCount", row.I, row.Requests)
		// As with Hubble, a status class with no request has no value.
		if row.NOK > 0 {
			add("successfulRequestCount", row.I, row.Successful)
		}
		if row.NFailed > 0 {
			add("unsuccessfulRequestCount", row.I, row.Unsuccessful)
		}
		add("meanLatency", row.I, row.Mean)
		for k, q := range httpQuantiles {
			if k < len(row.QS) {
				add(q.Name, row.I, row.QS[k])
			}
		}
	}
	return out, nil
}
