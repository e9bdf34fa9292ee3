package readmodel_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/opensearch-project/opensearch-go/v4/opensearchapi"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/openchoreo/obsplane/internal/gateway/dualwritetest"
	"github.com/openchoreo/obsplane/internal/opensearch"
	"github.com/openchoreo/obsplane/internal/opensearch/logsbackend"
	"github.com/openchoreo/obsplane/internal/opensearch/opensearchtest"
	"github.com/openchoreo/obsplane/internal/opensearch/tracesbackend"
	"github.com/openchoreo/obsplane/internal/readmodel"
	"github.com/openchoreo/obsplane/internal/readmodel/clickhouse"
	"github.com/openchoreo/obsplane/internal/schema"
	"github.com/openchoreo/obsplane/internal/store/chdb"
	"github.com/openchoreo/obsplane/internal/store/chdb/chdbtest"
)

var (
	st         *chdb.Store
	osURL      string
	skipReason string
)

func TestMain(m *testing.M) {
	osURL, skipReason = opensearchtest.ForMain("readmodel")
	chdbtest.Main(m, &st)
}

// tenant is one namespace of the fixture. Everything of tenant b carries
// the marker "SECRET-B" (bodies, services, span names, messages) so any of
// its rows in an answer shows in the answer's JSON; everything of a carries
// "MINE-A", so an answer that is not empty can be told from one that lost
// its rows.
type tenant struct {
	ns, marker     string
	trace, span    string // a trace of the tenant and its root span
	component, uid string
}

// fixture sends two tenants' logs, events, workflow logs and traces
// through the gateway's two real exporters into ClickHouse and OpenSearch.
// Tenant a's namespace holds a quote and a backslash.
func fixture(t *testing.T) (a, b tenant, w readmodel.Window) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
	ctx := context.Background()
	if _, err := schema.Apply(ctx, st, schema.Options{Database: "otel"}); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(rand.Uint64(), 1))
	day := time.Date(2003, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, r.IntN(3000))
	start := day.Add(2 * time.Hour)
	w = readmodel.Window{Since: start.Add(-time.Hour), Until: start.Add(time.Hour)}
	id := fmt.Sprintf("%x", r.Uint32())
	a = tenant{ns: `it's\a-` + id, marker: "MINE-A", component: "a-api", uid: "11111111-1111-4111-8111-11111111111a"}
	b = tenant{ns: "ns-b-" + id, marker: "SECRET-B", component: "b-api", uid: "22222222-2222-4222-8222-22222222222b"}

	ld, td := plog.NewLogs(), ptrace.NewTraces()
	for i, tn := range []*tenant{&a, &b} {
		// Logs carry the gateway's tenant attributes (openchoreo.*), spans
		// the pod-label form OpenChoreo's collector copies
		// (openchoreo.dev/*), which OpenSearch's traces module reads; the
		// ClickHouse tenant columns read either.
		res := func(ra pcommon.Map, svc string, labels bool) {
			key := func(k string) string {
				if labels {
					return "openchoreo.dev/" + strings.ReplaceAll(k, ".uid", "-uid")
				}
				return "openchoreo." + k
			}
			for k, v := range map[string]string{key("namespace"): tn.ns, key("project"): "shop", key("component"): tn.component,
				key("environment"): "dev", key("project.uid"): "33333333-3333-4333-8333-333333333333",
				key("component.uid"): tn.uid, key("environment.uid"): "44444444-4444-4444-8444-444444444444",
				"k8s.namespace.name": "dp-" + id, "k8s.pod.name": tn.component + "-1", "k8s.container.name": "main", "service.name": svc} {
				ra.PutStr(k, v)
			}
		}
		var tid pcommon.TraceID
		binary.BigEndian.PutUint64(tid[:8], r.Uint64())
		binary.BigEndian.PutUint64(tid[8:], r.Uint64())
		// Container logs, one linked to the trace.
		rl := ld.ResourceLogs().AppendEmpty()
		res(rl.Resource().Attributes(), tn.marker+"-svc", false)
		for j := range 5 {
			lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
			lr.SetTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Duration(10*i+j) * time.Second)))
			lr.Body().SetStr(fmt.Sprintf("level=error %s line %d payment failed", tn.marker, j))
			lr.SetTraceID(tid)
		}
		// A Kubernetes event of the tenant's pod.
		er := ld.ResourceLogs().AppendEmpty()
		for k, v := range map[string]string{"k8s.object.kind": "Pod", "k8s.object.name": tn.component + "-1",
			"k8s.object.label.openchoreo.dev/namespace": tn.ns, "k8s.object.label.openchoreo.dev/component-uid": tn.uid} {
			er.Resource().Attributes().PutStr(k, v)
		}
		ev := er.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
		ev.SetTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Duration(30+i) * time.Second)))
		ev.SetSeverityText("Warning")
		ev.Body().SetStr(tn.marker + " back-off restarting failed container")
		ev.Attributes().PutStr("k8s.event.reason", "BackOff")
		ev.Attributes().PutStr("k8s.namespace.name", "dp-"+id)
		// A workflow run's pod in workflows-<namespace>.
		wr := ld.ResourceLogs().AppendEmpty()
		for k, v := range map[string]string{"k8s.namespace.name": "workflows-" + tn.ns, "k8s.pod.name": "run-1-step-" + id, "k8s.container.name": "main"} {
			wr.Resource().Attributes().PutStr(k, v)
		}
		wl := wr.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
		wl.SetTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Duration(40+i) * time.Second)))
		wl.Body().SetStr(tn.marker + " building")
		// A trace: a client span of the frontend calling the api's server
		// span, which fails.
		tn.trace = tid.String()
		var parent pcommon.SpanID
		for j, s := range []struct {
			svc  string
			kind ptrace.SpanKind
		}{{tn.marker + "-frontend", ptrace.SpanKindClient}, {tn.marker + "-svc", ptrace.SpanKindServer}} {
			rs := td.ResourceSpans().AppendEmpty()
			res(rs.Resource().Attributes(), s.svc, true)
			sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
			sp.SetTraceID(tid)
			var sid pcommon.SpanID
			binary.BigEndian.PutUint64(sid[:], r.Uint64()|1)
			sp.SetSpanID(sid)
			if j == 0 {
				tn.span = sid.String()
			} else {
				sp.SetParentSpanID(parent)
				sp.Status().SetCode(ptrace.StatusCodeError)
				sp.Status().SetMessage(tn.marker + " upstream timeout")
			}
			parent = sid
			sp.SetName(tn.marker + " GET /pay")
			sp.SetKind(s.kind)
			st := start.Add(time.Duration(i)*time.Minute + time.Duration(j)*time.Millisecond)
			sp.SetStartTimestamp(pcommon.NewTimestampFromTime(st))
			sp.SetEndTimestamp(pcommon.NewTimestampFromTime(st.Add(20 * time.Millisecond)))
		}
	}
	dualwritetest.Logs(t, st, osURL, ld)
	dualwritetest.Traces(t, st, osURL, td)
	c, err := opensearch.New(osURL)
	if err != nil {
		t.Fatal(err)
	}
	indices := []string{opensearch.ContainerLogsIndex(day), opensearch.K8sEventsIndex(day), opensearch.OtelTracesIndex(day)}
	if _, err := c.API.Indices.Refresh(ctx, &opensearchapi.IndicesRefreshReq{Index: indices}); err != nil {
		t.Fatalf("refresh: %v", err)
	}
	t.Cleanup(func() {
		req, _ := http.NewRequest(http.MethodDelete, "/"+strings.Join(indices, ",")+"?ignore_unavailable=true", nil)
		if resp, err := c.API.Client.Perform(req); err == nil {
			resp.Body.Close()
		}
	})
	return a, b, w
}

// TestNoReadCrossesTenants calls every read of the read model with tenant
// a's tenancy over data of a and b, on both backends, and finds no row of b
// in any answer: reads of a's own data answer a's rows (so an empty answer
// cannot pass), reads aimed at b's data are refused or empty. Reads a
// backend cannot answer are listed as Unsupported, and must say so.
func TestNoReadCrossesTenants(t *testing.T) {
	a, b, w := fixture(t)
	chb, err := clickhouse.New(st, "otel", clickhouse.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	c, err := opensearch.New(osURL)
	if err != nil {
		t.Fatal(err)
	}
	backends := map[string]readmodel.Reader{
		"clickhouse": chb,
		"opensearch": readmodel.Backend{Logs: &logsbackend.Backend{Client: c}, Traces: &tracesbackend.Backend{Client: c}, Analytics: readmodel.Unsupported{}},
	}
	// OpenSearch's unsupported reads, as its backends declare them.
	unsupported := map[string]bool{"StreamLogs": true, "TraceLogs": true, "CountLogs": true, "GetTrace": true, "SearchTraces": true,
		"Topology": true, "Latency": true, "ErrorGroups": true, "PPL": true, "TailLogs/search": true}
	ten := readmodel.Tenancy{Subject: "alice", Namespaces: []string{a.ns}}
	ctx := context.Background()
	logsQ := func(ns string) readmodel.LogsQuery {
		return readmodel.LogsQuery{Start: w.Since, End: w.Until, Limit: 100, Desc: true, Namespace: ns}
	}
	tracesQ := func(ns, trace string) readmodel.TracesQuery {
		return readmodel.TracesQuery{Start: w.Since, End: w.Until, Limit: 100, Desc: true, Selector: readmodel.Selector{Namespace: ns}, TraceID: trace}
	}
	stream := func(r readmodel.Reader, f readmodel.LogFilter) (any, error) {
		var lines []readmodel.LogLine
		err := r.StreamLogs(ctx, ten, f, func(l readmodel.LogLine) error { lines = append(lines, l); return nil })
		return lines, err
	}
	// own: the read is of a's data and must answer some of it.
	type read struct {
		name string
		own  bool
		call func(r readmodel.Reader) (any, error)
	}
	reads := []read{
		{"QueryLogs", true, func(r readmodel.Reader) (any, error) { return r.QueryLogs(ctx, ten, logsQ(a.ns)) }},
		{"QueryLogs/other namespace", false, func(r readmodel.Reader) (any, error) { return r.QueryLogs(ctx, ten, logsQ(b.ns)) }},
		{"QueryLogs/workflow", true, func(r readmodel.Reader) (any, error) {
			q := logsQ(a.ns)
			q.WorkflowRunName = "run-1"
			return r.QueryLogs(ctx, ten, q)
		}},
		{"QueryLogs/other namespace's workflow", false, func(r readmodel.Reader) (any, error) {
			q := logsQ(b.ns)
			q.WorkflowRunName = "run-1"
			return r.QueryLogs(ctx, ten, q)
		}},
		{"QueryEvents", true, func(r readmodel.Reader) (any, error) { return r.QueryEvents(ctx, ten, logsQ(a.ns)) }},
		{"QueryEvents/other namespace", false, func(r readmodel.Reader) (any, error) { return r.QueryEvents(ctx, ten, logsQ(b.ns)) }},
		{"TailLogs", true, func(r readmodel.Reader) (any, error) {
			return r.TailLogs(ctx, ten, readmodel.LogFilter{Window: w, Limit: 100})
		}},
		{"TailLogs/other namespace", false, func(r readmodel.Reader) (any, error) {
			return r.TailLogs(ctx, ten, readmodel.LogFilter{Selector: readmodel.Selector{Namespace: b.ns}, Window: w, Limit: 100})
		}},
		{"TailLogs/search", true, func(r readmodel.Reader) (any, error) {
			return r.TailLogs(ctx, ten, readmodel.LogFilter{Window: w, Limit: 100, Search: `"payment failed" OR error`})
		}},
		{"StreamLogs", true, func(r readmodel.Reader) (any, error) { return stream(r, readmodel.LogFilter{Window: w, Limit: 100}) }},
		{"TraceLogs", true, func(r readmodel.Reader) (any, error) {
			return r.TraceLogs(ctx, ten, readmodel.TraceLogsQuery{TraceID: a.trace, Limit: 100})
		}},
		{"TraceLogs/other tenant's trace", false, func(r readmodel.Reader) (any, error) {
			return r.TraceLogs(ctx, ten, readmodel.TraceLogsQuery{TraceID: b.trace, Limit: 100})
		}},
		{"CountLogs/other namespace", false, func(r readmodel.Reader) (any, error) {
			return r.CountLogs(ctx, ten, readmodel.LogCount{Namespace: b.ns, ProjectUID: "33333333-3333-4333-8333-333333333333",
				EnvironmentUID: "44444444-4444-4444-8444-444444444444", ComponentUID: b.uid, From: w.Since, To: w.Until})
		}},
		{"QueryTraces", true, func(r readmodel.Reader) (any, error) { return r.QueryTraces(ctx, ten, tracesQ(a.ns, "")) }},
		{"QueryTraces/other namespace", false, func(r readmodel.Reader) (any, error) { return r.QueryTraces(ctx, ten, tracesQ(b.ns, "")) }},
		{"QuerySpans", true, func(r readmodel.Reader) (any, error) { return r.QuerySpans(ctx, ten, tracesQ(a.ns, a.trace)) }},
		{"QuerySpans/other tenant's trace", false, func(r readmodel.Reader) (any, error) { return r.QuerySpans(ctx, ten, tracesQ(a.ns, b.trace)) }},
		{"GetSpan", true, func(r readmodel.Reader) (any, error) {
			return r.GetSpan(ctx, ten, readmodel.SpanRef{TraceID: a.trace, SpanID: a.span})
		}},
		{"GetSpan/other tenant's span", false, func(r readmodel.Reader) (any, error) {
			return r.GetSpan(ctx, ten, readmodel.SpanRef{TraceID: b.trace, SpanID: b.span})
		}},
		{"GetTrace", true, func(r readmodel.Reader) (any, error) { return r.GetTrace(ctx, ten, a.trace) }},
		{"GetTrace/other tenant's trace", false, func(r readmodel.Reader) (any, error) { return r.GetTrace(ctx, ten, b.trace) }},
		{"SearchTraces", true, func(r readmodel.Reader) (any, error) {
			return r.SearchTraces(ctx, ten, readmodel.TraceSearch{Window: w, Limit: 100, Status: "Error"})
		}},
		{"Topology", true, func(r readmodel.Reader) (any, error) {
			return r.Topology(ctx, ten, readmodel.TopologyQuery{Window: w})
		}},
		{"Latency", true, func(r readmodel.Reader) (any, error) { return r.Latency(ctx, ten, readmodel.LatencyQuery{Window: w}) }},
		{"ErrorGroups", true, func(r readmodel.Reader) (any, error) {
			return r.ErrorGroups(ctx, ten, readmodel.ErrorsQuery{Window: w, Limit: 100})
		}},
		{"PPL/logs", true, func(r readmodel.Reader) (any, error) {
			return r.PPL(ctx, ten, readmodel.PPLQuery{Query: "source=logs | fields namespace, log, service"})
		}},
		{"PPL/traces", true, func(r readmodel.Reader) (any, error) {
			return r.PPL(ctx, ten, readmodel.PPLQuery{Query: "source=traces | stats count() by serviceName"})
		}},
		{"PPL/other namespace, OR cannot widen", false, func(r readmodel.Reader) (any, error) {
			return r.PPL(ctx, ten, readmodel.PPLQuery{Query: "source=logs | where namespace = '" + b.ns + "' or log like '%SECRET-B%' | fields log, namespace"})
		}},
	}
	for name, be := range backends {
		for _, rd := range reads {
			t.Run(name+"/"+rd.name, func(t *testing.T) {
				v, err := rd.call(be)
				key := rd.name
				if !unsupported[key] {
					key = strings.SplitN(key, "/", 2)[0]
				}
				if name == "opensearch" && unsupported[key] {
					if readmodel.KindOf(err) != readmodel.KindUnsupported {
						t.Fatalf("listed as unsupported on OpenSearch, got %v", err)
					}
					return
				}
				if err != nil {
					k := readmodel.KindOf(err)
					if rd.own || (k != readmodel.KindForbidden && k != readmodel.KindNotFound) {
						t.Fatalf("%v (kind %d)", err, k)
					}
					return
				}
				js, _ := json.Marshal(v)
				if strings.Contains(string(js), b.marker) || strings.Contains(string(js), b.trace) || strings.Contains(string(js), b.ns) {
					t.Fatalf("tenant b's data in tenant a's answer: %.600s", js)
				}
				if n, ok := v.(uint64); ok && n != 0 {
					t.Fatalf("counted %d of tenant b's lines", n)
				}
				if rd.own && !strings.Contains(string(js), a.marker) && !strings.Contains(string(js), a.trace) {
					t.Fatalf("no row of tenant a either (the read must answer something): %.600s", js)
				}
			})
		}
	}
}
