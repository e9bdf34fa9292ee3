package obsplaneapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/openchoreo/obsplane/internal/api/httpx"
	"github.com/openchoreo/obsplane/internal/api/tracingadapter"
	"github.com/openchoreo/obsplane/internal/readmodel"
)

// TraceResponse is GET /api/traces/{traceId}.
type TraceResponse struct {
	TraceID string      `json:"traceId"`
	Spans   []TraceSpan `json:"spans"`
}

// TraceSpan is a span with its service.
type TraceSpan struct {
	tracingadapter.Span
	Service string `json:"service"`
}

func (a *API) traceByID(w http.ResponseWriter, r *http.Request) error {
	if _, err := readParams(r); err != nil {
		return err
	}
	id, err := tracingadapter.ValidTraceID(r.PathValue("traceId"))
	if err != nil {
		return err
	}
	tr, err := a.Reads.GetTrace(r.Context(), httpx.Tenancy(r), id)
	if err != nil {
		return err
	}
	out := TraceResponse{TraceID: tr.TraceID, Spans: make([]TraceSpan, 0, len(tr.Spans))}
	for _, s := range tr.Spans {
		out.Spans = append(out.Spans, TraceSpan{Span: tracingadapter.SpanOf(s), Service: s.Service})
	}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}

// TraceSearchResponse is GET /api/traces.
type TraceSearchResponse struct {
	Traces []tracingadapter.TraceSummary `json:"traces"`
}

var spanKinds = map[string]string{"server": "Server", "client": "Client", "internal": "Internal", "producer": "Producer", "consumer": "Consumer",
	"span_kind_server": "Server", "span_kind_client": "Client", "span_kind_internal": "Internal", "span_kind_producer": "Producer", "span_kind_consumer": "Consumer"}

func (a *API) traceSearch(w http.ResponseWriter, r *http.Request) error {
	p, err := readParams(r, "service", "operation", "minDuration", "maxDuration", "status", "since", "until", "limit",
		"namespace", "project", "component", "environment", "kind")
	if err != nil {
		return err
	}
	q := readmodel.TraceSearch{Service: p.str("service"), Operation: p.str("operation")}
	if q.Limit, err = p.intIn("limit", DefaultTraceLim, 1, MaxTraceLim); err != nil {
		return err
	}
	if q.Selector, q.Window, err = a.selected(p); err != nil {
		return err
	}
	if s := p.str("kind"); s != "" {
		k, ok := spanKinds[strings.ToLower(s)]
		if !ok {
			return httpx.BadRequest("kind=%q: want server, client, internal, producer or consumer", httpx.Truncate(s, 32))
		}
		q.Kind = k
	}
	for _, d := range []struct {
		name string
		dst  **time.Duration
	}{{"minDuration", &q.MinDuration}, {"maxDuration", &q.MaxDuration}} {
		if s := p.str(d.name); s != "" {
			dur, err := time.ParseDuration(s)
			if err != nil || dur < 0 {
				return httpx.BadRequest("%s=%q: want a duration such as 250ms or 2s", d.name, httpx.Truncate(s, 32))
			}
			*d.dst = &dur
		}
	}
	if s := p.str("status"); s != "" {
		m := map[string]string{"error": "Error", "ok": "Ok", "unset": "Unset"}[strings.ToLower(s)]
		if m == "" {
			return httpx.BadRequest("status=%q: want error, ok or unset", httpx.Truncate(s, 32))
		}
		q.Status = m
	}
	traces, err := a.Reads.SearchTraces(r.Context(), httpx.Tenancy(r), q)
	if err != nil {
		return err
	}
	out := TraceSearchResponse{Traces: make([]tracingadapter.TraceSummary, 0, len(traces))}
	for _, t := range traces {
		out.Traces = append(out.Traces, tracingadapter.Summary(t))
	}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}
