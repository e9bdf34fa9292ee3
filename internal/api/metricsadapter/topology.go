package metricsadapter

import (
	"fmt"
	"net/http"
	"time"

	"github.com/openchoreo/obsplane/internal/api/httpx"
	"github.com/openchoreo/obsplane/internal/readmodel"
)

// TopologyRequest is the contract's RuntimeTopologyRequest.
type TopologyRequest struct {
	SearchScope     *Scope  `json:"searchScope"`
	StartTime       *string `json:"startTime"`
	EndTime         *string `json:"endTime"`
	IncludeGateways *bool   `json:"includeGateways"`
	IncludeExternal *bool   `json:"includeExternal"`
}

// NodeRef is the contract's component node reference.
type NodeRef struct {
	Kind         string `json:"kind"`
	Component    string `json:"component"`
	ComponentUID string `json:"componentUid"`
	ProjectUID   string `json:"projectUid,omitempty"`
	Namespace    string `json:"namespace,omitempty"`
}

// TopologyMetrics is the contract's RuntimeTopologyMetrics.
type TopologyMetrics struct {
	RequestCount             float64 `json:"requestCount"`
	UnsuccessfulRequestCount float64 `json:"unsuccessfulRequestCount"`
	MeanLatency              float64 `json:"meanLatency"`
	LatencyP50               float64 `json:"latencyP50"`
	LatencyP90               float64 `json:"latencyP90"`
	LatencyP99               float64 `json:"latencyP99"`
}

// Edge is the contract's RuntimeTopologyEdge.
type Edge struct {
	ID       string          `json:"id"`
	Source   NodeRef         `json:"source"`
	Target   NodeRef         `json:"target"`
	Protocol string          `json:"protocol"`
	Metrics  TopologyMetrics `json:"metrics"`
}

// TopologyResponse is the contract's RuntimeTopologyResponse. As the
// Prometheus module, it lists component-to-component edges and no nodes
// (gateway and external traffic is not in Hubble's pod-to-pod series).
type TopologyResponse struct {
	Edges   []Edge `json:"edges"`
	Summary struct {
		StartTime   time.Time `json:"startTime"`
		EndTime     time.Time `json:"endTime"`
		GeneratedAt time.Time `json:"generatedAt"`
	} `json:"summary"`
}

func (h *Handler) topology(w http.ResponseWriter, r *http.Request) error {
	var req TopologyRequest
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return err
	}
	if req.SearchScope == nil {
		return httpx.BadRequest("searchScope is required")
	}
	s, err := req.SearchScope.parse("projectUid", "environmentUid")
	if err != nil {
		return err
	}
	start, end, err := h.window(req.StartTime, req.EndTime)
	if err != nil {
		return err
	}
	if !end.After(start) {
		return httpx.BadRequest("endTime must be after startTime")
	}
	edges, err := h.Reads.RuntimeTopology(r.Context(), httpx.Tenancy(r), readmodel.TopologyWindow{Scope: s, Start: start, End: end})
	if err != nil {
		return fmt.Errorf("runtime topology: %w", err)
	}
	var out TopologyResponse
	out.Edges = make([]Edge, 0, len(edges))
	for _, e := range edges {
		ref := func(name, uid string) NodeRef {
			return NodeRef{Kind: "component", Component: name, ComponentUID: uid, ProjectUID: s.ProjectUID, Namespace: s.Namespace}
		}
		out.Edges = append(out.Edges, Edge{ID: e.SourceUID + "->" + e.TargetUID, Source: ref(e.SourceName, e.SourceUID), Target: ref(e.TargetName, e.TargetUID),
			Protocol: "http", Metrics: TopologyMetrics(e.Metrics)})
	}
	out.Summary.StartTime, out.Summary.EndTime, out.Summary.GeneratedAt = start, end, h.Now().UTC()
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}
