package bench

import (
	"encoding/hex"
	"math"
	"math/rand/v2"
	"time"

	"github.com/openchoreo/obsplane/internal/store"
)

// Traces of the peer workload: each trace enters a namespace at its
// api-gateway-like first component and fans out over the namespace's
// components (a component calls only components after it, so call graphs
// are acyclic): every received call is a SERVER span with the CLIENT span
// that made it as its parent; servers also run INTERNAL work (database
// queries) and some publish to a queue (PRODUCER) that another component
// consumes (CONSUMER). Fan-out thins with depth; about nine spans a trace.
// Durations are log-normal around each component's own latency, a server
// lasting at least as long as the calls it waits for. Each component fails
// a small share of its calls (0.5-3%); a failure marks the span, its
// client span and, more often than not, the callers above.

// traceSvc is one component as traces see it.
type traceSvc struct {
	pod      *Pod // a representative pod (resource attributes)
	pods     []*Pod
	baseMs   float64
	failRate float64
}

type traceTopology struct {
	byNS  [][]traceSvc // per namespace, its ten components in call order
	pickN picker       // namespace weights
}

func (w *Workload) traceTopology(pods []*Pod, weights []float64) *traceTopology {
	r := rand.New(rand.NewPCG(w.Seed, 200))
	t := &traceTopology{}
	nsw := make([]float64, len(wlNamespaces))
	for ni := range wlNamespaces {
		var svcs []traceSvc
		for ci := range 10 {
			k := ni*10 + ci
			svcs = append(svcs, traceSvc{pod: pods[k*5], pods: pods[k*5 : k*5+5], baseMs: 2 + r.Float64()*40, failRate: 0.005 + r.Float64()*0.025})
			nsw[ni] += weights[k]
		}
		t.byNS = append(t.byNS, svcs)
	}
	t.pickN = newPicker(nsw)
	return t
}

// spanRows holds otel_traces columns.
type spanRows struct {
	ts                                                    []time.Time
	traceID, spanID, parentID, state, name, kind, service []string
	res                                                   []map[string]string
	scopeName, scopeVer                                   []string
	attrs                                                 []map[string]string
	dur                                                   []uint64
	status, statusMsg                                     []string
	evTS                                                  [][]time.Time
	evName                                                [][]string
	evAttrs                                               [][]map[string]string
	lkTrace, lkSpan, lkState                              [][]string
	lkAttrs                                               [][]map[string]string
}

func (s *spanRows) add(t time.Time, tid, sid, pid, name, kind string, p *Pod, attrs map[string]string, d time.Duration, failed bool, msg string) {
	s.ts = append(s.ts, t)
	s.traceID = append(s.traceID, tid)
	s.spanID = append(s.spanID, sid)
	s.parentID = append(s.parentID, pid)
	s.state = append(s.state, "")
	s.name = append(s.name, name)
	s.kind = append(s.kind, kind)
	s.service = append(s.service, p.Component)
	s.res = append(s.res, p.Resource)
	s.scopeName = append(s.scopeName, "io.opentelemetry.http")
	s.scopeVer = append(s.scopeVer, "1.32.0")
	s.attrs = append(s.attrs, attrs)
	s.dur = append(s.dur, uint64(d))
	st := "Ok"
	if failed {
		st = "Error"
	} else if kind == "SPAN_KIND_INTERNAL" {
		st, msg = "Unset", ""
	}
	s.status = append(s.status, st)
	s.statusMsg = append(s.statusMsg, msg)
	s.evTS = append(s.evTS, []time.Time{})
	s.evName = append(s.evName, []string{})
	s.evAttrs = append(s.evAttrs, []map[string]string{})
	s.lkTrace = append(s.lkTrace, []string{})
	s.lkSpan = append(s.lkSpan, []string{})
	s.lkState = append(s.lkState, []string{})
	s.lkAttrs = append(s.lkAttrs, []map[string]string{})
}

func (s *spanRows) batch() *store.Batch {
	return &store.Batch{Database: "otel", Table: "otel_traces", Rows: len(s.ts), Columns: []store.Column{
		{Name: "Timestamp", Type: "DateTime64(9)", Values: s.ts},
		{Name: "TraceId", Type: "String", Values: s.traceID},
		{Name: "SpanId", Type: "String", Values: s.spanID},
		{Name: "ParentSpanId", Type: "String", Values: s.parentID},
		{Name: "TraceState", Type: "String", Values: s.state},
		{Name: "SpanName", Type: "LowCardinality(String)", Values: s.name},
		{Name: "SpanKind", Type: "LowCardinality(String)", Values: s.kind},
		{Name: "ServiceName", Type: "LowCardinality(String)", Values: s.service},
		{Name: "ResourceAttributes", Type: "Map(LowCardinality(String), String)", Values: s.res},
		{Name: "ScopeName", Type: "String", Values: s.scopeName},
		{Name: "ScopeVersion", Type: "String", Values: s.scopeVer},
		{Name: "SpanAttributes", Type: "Map(LowCardinality(String), String)", Values: s.attrs},
		{Name: "Duration", Type: "UInt64", Values: s.dur},
		{Name: "StatusCode", Type: "LowCardinality(String)", Values: s.status},
		{Name: "StatusMessage", Type: "String", Values: s.statusMsg},
		{Name: "Events.Timestamp", Type: "Array(DateTime64(9))", Values: s.evTS},
		{Name: "Events.Name", Type: "Array(LowCardinality(String))", Values: s.evName},
		{Name: "Events.Attributes", Type: "Array(Map(LowCardinality(String), String))", Values: s.evAttrs},
		{Name: "Links.TraceId", Type: "Array(String)", Values: s.lkTrace},
		{Name: "Links.SpanId", Type: "Array(String)", Values: s.lkSpan},
		{Name: "Links.TraceState", Type: "Array(String)", Values: s.lkState},
		{Name: "Links.Attributes", Type: "Array(Map(LowCardinality(String), String))", Values: s.lkAttrs},
	}}
}

func hexID(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return hex.EncodeToString(b)
}

// TraceBatch returns the spans of traces [first, first+n) and their trace
// ids. Trace i starts at Start + i*Span/Traces plus jitter, so traces fill
// the logs' time span.
func (w *Workload) TraceBatch(first, n int, pods []*Pod, weights []float64) (*store.Batch, []string) {
	topo := w.traceTopology(pods, weights)
	var s spanRows
	ids := make([]string, 0, n)
	step := w.Span / time.Duration(max(w.Traces, 1))
	for i := first; i < first+n; i++ {
		r := rand.New(rand.NewPCG(w.Seed, uint64(i)+1<<40))
		svcs := topo.byNS[topo.pickN.pick(r)]
		tid := hexID(r, 16)
		ids = append(ids, tid)
		t0 := w.Start.Add(time.Duration(i)*step + time.Duration(r.Int64N(int64(step))))
		// serve emits the SERVER span of svc at t (and everything below
		// it) and returns its duration and whether it failed.
		var serve func(ci int, parent string, t time.Time, depth int, kind, name string) (time.Duration, bool)
		serve = func(ci int, parent string, t time.Time, depth int, kind, name string) (time.Duration, bool) {
			svc := svcs[ci]
			pod := svc.pods[r.IntN(len(svc.pods))]
			sid := hexID(r, 8)
			self := time.Duration(svc.baseMs * math.Exp(r.NormFloat64()*0.6) * float64(time.Millisecond))
			failed := r.Float64() < svc.failRate
			at := t.Add(time.Duration(r.IntN(300)) * time.Microsecond)
			var waited time.Duration
			// INTERNAL work: a database query half the time.
			for range r.IntN(2) {
				d := time.Duration((0.3 + r.ExpFloat64()*2) * float64(time.Millisecond))
				s.add(at.Add(waited), tid, hexID(r, 8), sid, "SELECT "+wlPaths[r.IntN(len(wlPaths))], "SPAN_KIND_INTERNAL", pod,
					map[string]string{"db.system": "postgresql"}, d, false, "")
				waited += d
			}
			// Calls to later components: fewer the deeper.
			calls := 0
			if ci < len(svcs)-1 {
				switch depth {
				case 0:
					calls = 1 + r.IntN(3)
				case 1:
					calls = r.IntN(2)
				case 2:
					if r.IntN(4) == 0 {
						calls = 1
					}
				}
			}
			for range calls {
				callee := ci + 1 + r.IntN(len(svcs)-ci-1)
				if r.IntN(8) == 0 {
					// Asynchronous: publish, consumed later.
					pid := hexID(r, 8)
					pd := time.Duration((0.2 + r.ExpFloat64()) * float64(time.Millisecond))
					s.add(at.Add(waited), tid, pid, sid, "publish "+svcs[callee].pod.Component, "SPAN_KIND_PRODUCER", pod,
						map[string]string{"messaging.system": "kafka"}, pd, false, "")
					waited += pd
					serve(callee, pid, at.Add(waited+time.Duration(1+r.IntN(20))*time.Millisecond), depth+1, "SPAN_KIND_CONSUMER", "process "+svcs[callee].pod.Component)
					continue
				}
				cid := hexID(r, 8)
				method, path := wlMethods[r.IntN(len(wlMethods))], wlPaths[r.IntN(len(wlPaths))]
				callAt := at.Add(waited)
				d, cf := serve(callee, cid, callAt.Add(200*time.Microsecond), depth+1, "SPAN_KIND_SERVER", method+" /api/v1/"+path)
				d += time.Duration(300+r.IntN(1500)) * time.Microsecond
				msg := ""
				if cf {
					msg = "upstream " + svcs[callee].pod.Component + " failed"
				}
				s.add(callAt, tid, cid, sid, method, "SPAN_KIND_CLIENT", pod,
					map[string]string{"http.request.method": method, "server.address": svcs[callee].pod.Component}, d, cf, msg)
				waited += d
				if cf && r.IntN(10) < 7 {
					failed = true
				}
			}
			total := self + waited
			msg := ""
			if failed {
				msg = "request failed"
			}
			attrs := map[string]string{"http.route": name}
			if kind == "SPAN_KIND_CONSUMER" {
				attrs = map[string]string{"messaging.system": "kafka"}
			}
			s.add(at, tid, sid, parent, name, kind, pod, attrs, total, failed, msg)
			return total, failed
		}
		serve(0, "", t0, 0, "SPAN_KIND_SERVER", wlMethods[r.IntN(len(wlMethods))]+" /api/v1/"+wlPaths[r.IntN(len(wlPaths))])
	}
	return s.batch(), ids
}
