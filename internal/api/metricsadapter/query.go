package metricsadapter

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/openchoreo/obsplane/internal/api/httpx"
	"github.com/openchoreo/obsplane/internal/readmodel"
)

// QueryRequest is the contract's MetricsQueryRequest; pointers tell a
// missing field from an empty one.
type QueryRequest struct {
	Metric      *string `json:"metric"`
	StartTime   *string `json:"startTime"`
	EndTime     *string `json:"endTime"`
	Step        *string `json:"step"`
	SearchScope *Scope  `json:"searchScope"`
}

// Query is a checked QueryRequest.
type Query struct {
	Metric string
	Scope  readmodel.MetricsScope
	Range  readmodel.MetricsRange
}

// ParseQuery checks a request as the contract and the Prometheus module do,
// plus what the module leaves to Prometheus: a step must leave at most
// maxPoints points in the range. Errors are 400s naming the field.
func ParseQuery(req QueryRequest, maxRange time.Duration, maxPoints int) (Query, error) {
	var missing []string
	for _, f := range []struct {
		name string
		ok   bool
	}{{"metric", req.Metric != nil}, {"startTime", req.StartTime != nil}, {"endTime", req.EndTime != nil}, {"searchScope", req.SearchScope != nil}} {
		if !f.ok {
			missing = append(missing, "'"+f.name+"'")
		}
	}
	if len(missing) > 0 {
		return Query{}, httpx.BadRequest("missing required fields %s", strings.Join(missing, ", "))
	}
	q := Query{Metric: *req.Metric}
	if q.Metric != "resource" && q.Metric != "http" {
		return Query{}, httpx.BadRequest("unknown metric type %q: want resource or http", httpx.Truncate(q.Metric, 64))
	}
	var err error
	if q.Scope, err = req.SearchScope.parse(); err != nil {
		return Query{}, err
	}
	h := Handler{MaxRange: maxRange}
	if q.Range.Start, q.Range.End, err = h.window(req.StartTime, req.EndTime); err != nil {
		return Query{}, err
	}
	q.Range.Step = DefaultStep
	if req.Step != nil && *req.Step != "" {
		d, err := httpx.ParseDuration(*req.Step)
		if err != nil {
			return Query{}, httpx.BadRequest("invalid step format: %q (want a duration such as 1m, 5m, 1h)", httpx.Truncate(*req.Step, 32))
		}
		if d <= 0 {
			return Query{}, httpx.BadRequest("step must be greater than 0, got %s", *req.Step)
		}
		if d < time.Millisecond {
			return Query{}, httpx.BadRequest("step %s is below the resolution of a millisecond", *req.Step)
		}
		q.Range.Step = d
	}
	if n := int64(q.Range.End.Sub(q.Range.Start)/q.Range.Step) + 1; n > int64(maxPoints) {
		return Query{}, httpx.BadRequest("step %s is too small for a %s range: %d points per series, at most %d; use a step of at least %s",
			q.Range.Step, q.Range.End.Sub(q.Range.Start), n, maxPoints, (q.Range.End.Sub(q.Range.Start)/time.Duration(maxPoints-1)).Round(time.Second)+time.Second)
	}
	return q, nil
}

// Item is the contract's MetricsTimeSeriesItem.
type Item struct {
	Timestamp time.Time `json:"timestamp"`
	Value     float64   `json:"value"`
}

func items(ps []readmodel.MetricPoint) []Item {
	out := make([]Item, len(ps))
	for i, p := range ps {
		out[i] = Item{Timestamp: p.T, Value: p.V}
	}
	return out
}

// series renders a metricsql answer as the contract's object: each named
// series with at least one point, in the contract's order (absent series
// are left out, as the module leaves them).
func series(names []string, m map[string][]readmodel.MetricPoint) map[string][]Item {
	out := map[string][]Item{}
	for _, n := range names {
		if ps := m[n]; len(ps) > 0 {
			out[n] = items(ps)
		}
	}
	return out
}

func (h *Handler) query(w http.ResponseWriter, r *http.Request) error {
	var req QueryRequest
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return err
	}
	q, err := ParseQuery(req, h.MaxRange, h.MaxPoints)
	if err != nil {
		return err
	}
	t := httpx.Tenancy(r)
	mq := readmodel.MetricsQuery{Scope: q.Scope, Range: q.Range}
	switch q.Metric {
	case "resource":
		res, err := h.Reads.ResourceMetrics(r.Context(), t, mq)
		if err != nil {
			return fmt.Errorf("resource metrics: %w", err)
		}
		httpx.WriteJSON(w, http.StatusOK, series(readmodel.ResourceMetricNames, res))
	default:
		res, src, err := h.Reads.HTTPMetrics(r.Context(), t, mq)
		if err != nil {
			return fmt.Errorf("http metrics: %w", err)
		}
		w.Header().Set(SourceHeader, string(src))
		httpx.WriteJSON(w, http.StatusOK, series(readmodel.HTTPMetricNames, res))
	}
	return nil
}
