package obsplaneapi

import (
	"net/http"
	"time"

	"github.com/openchoreo/obsplane/internal/api/httpx"
	"github.com/openchoreo/obsplane/internal/readmodel"
)

// Edge is one caller->callee pair of the service topology.
type Edge struct {
	Parent    string  `json:"parent"`
	Child     string  `json:"child"`
	Calls     uint64  `json:"calls"`
	Errors    uint64  `json:"errors"`
	ErrorRate float64 `json:"errorRate"`
	P50Ms     float64 `json:"p50Ms"`
	P95Ms     float64 `json:"p95Ms"`
	P99Ms     float64 `json:"p99Ms"`
}

// TopologyResponse is GET /api/topology.
type TopologyResponse struct {
	Edges []Edge `json:"edges"`
}

func (a *API) topology(w http.ResponseWriter, r *http.Request) error {
	p, err := readParams(r, "since", "until", "namespace", "project", "component", "environment")
	if err != nil {
		return err
	}
	var q readmodel.TopologyQuery
	if q.Selector, q.Window, err = a.selected(p); err != nil {
		return err
	}
	edges, err := a.Reads.Topology(r.Context(), httpx.Tenancy(r), q)
	if err != nil {
		return err
	}
	out := TopologyResponse{Edges: make([]Edge, 0, len(edges))}
	for _, e := range edges {
		edge := Edge{Parent: e.Parent, Child: e.Child, Calls: e.Calls, Errors: e.Errors, P50Ms: e.P50Ms, P95Ms: e.P95Ms, P99Ms: e.P99Ms}
		if e.Calls > 0 {
			edge.ErrorRate = float64(e.Errors) / float64(e.Calls)
		}
		out.Edges = append(out.Edges, edge)
	}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}

// LatencyPoint is one 5-minute bucket of one service's SERVER spans.
type LatencyPoint struct {
	Service string    `json:"service"`
	Bucket  time.Time `json:"bucket"`
	Count   uint64    `json:"count"`
	P50Ms   float64   `json:"p50Ms"`
	P95Ms   float64   `json:"p95Ms"`
	P99Ms   float64   `json:"p99Ms"`
}

// LatencyResponse is GET /api/latency.
type LatencyResponse struct {
	Points []LatencyPoint `json:"points"`
}

func (a *API) latency(w http.ResponseWriter, r *http.Request) error {
	p, err := readParams(r, "since", "until", "service", "namespace", "project", "component", "environment")
	if err != nil {
		return err
	}
	q := readmodel.LatencyQuery{Service: p.str("service")}
	if q.Selector, q.Window, err = a.selected(p); err != nil {
		return err
	}
	points, err := a.Reads.Latency(r.Context(), httpx.Tenancy(r), q)
	if err != nil {
		return err
	}
	out := LatencyResponse{Points: make([]LatencyPoint, 0, len(points))}
	for _, v := range points {
		out.Points = append(out.Points, LatencyPoint{Service: v.Service, Bucket: v.Bucket, Count: v.Count, P50Ms: v.P50Ms, P95Ms: v.P95Ms, P99Ms: v.P99Ms})
	}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}

// ErrorGroup is one (service, span name, message) group of error spans.
type ErrorGroup struct {
	Service     string    `json:"service"`
	SpanName    string    `json:"spanName"`
	Message     string    `json:"message"`
	Count       uint64    `json:"count"`
	FirstSeen   time.Time `json:"firstSeen"`
	LastSeen    time.Time `json:"lastSeen"`
	SampleTrace string    `json:"sampleTraceId"`
}

// ErrorsResponse is GET /api/errors.
type ErrorsResponse struct {
	Errors []ErrorGroup `json:"errors"`
}

func (a *API) errorGroups(w http.ResponseWriter, r *http.Request) error {
	p, err := readParams(r, "since", "until", "service", "namespace", "project", "component", "environment", "limit")
	if err != nil {
		return err
	}
	q := readmodel.ErrorsQuery{Service: p.str("service")}
	if q.Limit, err = p.intIn("limit", 100, 1, 1000); err != nil {
		return err
	}
	if q.Selector, q.Window, err = a.selected(p); err != nil {
		return err
	}
	groups, err := a.Reads.ErrorGroups(r.Context(), httpx.Tenancy(r), q)
	if err != nil {
		return err
	}
	out := ErrorsResponse{Errors: make([]ErrorGroup, 0, len(groups))}
	for _, v := range groups {
		out.Errors = append(out.Errors, ErrorGroup{Service: v.Service, SpanName: v.SpanName, Message: v.Message, Count: v.Count,
			FirstSeen: v.FirstSeen, LastSeen: v.LastSeen, SampleTrace: v.SampleTraceID})
	}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}
