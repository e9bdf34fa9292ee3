package tracesbackend_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/opensearch-project/opensearch-go/v4/opensearchapi"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/openchoreo/obsplane/internal/gateway/dualwritetest"
	"github.com/openchoreo/obsplane/internal/opensearch"
	"github.com/openchoreo/obsplane/internal/opensearch/opensearchtest"
	"github.com/openchoreo/obsplane/internal/opensearch/tracesbackend"
	"github.com/openchoreo/obsplane/internal/readmodel"
	"github.com/openchoreo/obsplane/internal/readmodel/clickhouse"
	"github.com/openchoreo/obsplane/internal/schema"
	"github.com/openchoreo/obsplane/internal/store/chdb"
	"github.com/openchoreo/obsplane/internal/store/chdb/chdbtest"
)

// The parity tests send the same spans through the gateway's two real
// exporters — clickhousestore into the embedded ClickHouse, opensearch (dual
// write, ss4o documents in otel-traces-*) into the real OpenSearch — then ask
// both backends the same queries through readmodel.Traces and compare the
// typed answers field by field.

var (
	st         *chdb.Store
	osURL      string
	skipReason string
)

func TestMain(m *testing.M) {
	osURL, skipReason = opensearchtest.ForMain("tracesbackend")
	chdbtest.Main(m, &st)
}

// Tenancy of the fixture: OpenChoreo uids as the collector's k8sattributes
// processor copies the pod labels.
const (
	projShop = "11111111-1111-4111-8111-111111111111"
	compA    = "33333333-3333-4333-8333-333333333333"
	compB    = "44444444-4444-4444-8444-444444444444"
	envDev   = "66666666-6666-4666-8666-666666666666"
	envProd  = "77777777-7777-4777-8777-777777777777"
)

type fixture struct {
	ns, other  string
	start, end time.Time // the range every span of the fixture lies in
	traceIDs   []string  // in ns, in start order
	rootless   string    // a trace whose root starts before cut
	cut        time.Time // a range start that leaves rootless without its root
	otherSpan  [2]string // trace and span id of a span in the other namespace
}

func traceID(r *rand.Rand) pcommon.TraceID {
	var id pcommon.TraceID
	binary.BigEndian.PutUint64(id[:8], r.Uint64())
	binary.BigEndian.PutUint64(id[8:], r.Uint64())
	return id
}

func spanID(r *rand.Rand) pcommon.SpanID {
	var id pcommon.SpanID
	binary.BigEndian.PutUint64(id[:], r.Uint64()|1)
	return id
}

// build makes 30 traces in ns and 3 in other on one day: 1 to 5 spans each,
// trace starts a distinct millisecond apart (OpenSearch orders traces at
// millisecond resolution), some spans in error, attributes of every type.
func build(seed uint64) (ptrace.Traces, fixture) {
	r := rand.New(rand.NewPCG(seed, 7))
	day := time.Date(2003, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, r.IntN(3000))
	fx := fixture{
		ns: fmt.Sprintf("acme-%d", r.IntN(1e9)), other: fmt.Sprintf("other-%d", r.IntN(1e9)),
		start: day.Add(time.Hour), end: day.Add(3 * time.Hour),
	}
	td := ptrace.NewTraces()
	kinds := []ptrace.SpanKind{ptrace.SpanKindServer, ptrace.SpanKindClient, ptrace.SpanKindInternal, ptrace.SpanKindProducer}
	for i := range 33 {
		ns := fx.ns
		if i >= 30 {
			ns = fx.other
		}
		rs := td.ResourceSpans().AppendEmpty()
		ra := rs.Resource().Attributes()
		ra.PutStr("service.name", fmt.Sprintf("svc-%d", i%4))
		ra.PutStr("openchoreo.dev/namespace", ns)
		ra.PutStr("openchoreo.dev/project-uid", projShop)
		ra.PutStr("openchoreo.dev/component-uid", []string{compA, compB}[i%2])
		ra.PutStr("openchoreo.dev/environment-uid", []string{envDev, envProd}[i%3/2])
		ra.PutStr("k8s.pod.name", fmt.Sprintf("pod-%d", i))
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName("fixture")
		tid := traceID(r)
		// 90 s apart plus a few ms, so no two traces share a millisecond.
		t0 := fx.start.Add(time.Duration(i)*90*time.Second + time.Duration(r.IntN(500))*time.Millisecond + time.Duration(r.IntN(1000))*time.Nanosecond)
		n := 1 + r.IntN(5)
		var root pcommon.SpanID
		for j := range n {
			sp := ss.Spans().AppendEmpty()
			sp.SetTraceID(tid)
			id := spanID(r)
			sp.SetSpanID(id)
			if j == 0 {
				root = id
			} else {
				sp.SetParentSpanID(root)
			}
			sp.SetName(fmt.Sprintf("op-%d-%d", i%5, j))
			sp.SetKind(kinds[(i+j)%len(kinds)])
			st := t0.Add(time.Duration(j) * 7 * time.Millisecond)
			sp.SetStartTimestamp(pcommon.NewTimestampFromTime(st))
			sp.SetEndTimestamp(pcommon.NewTimestampFromTime(st.Add(time.Duration(1+r.IntN(40000)) * time.Microsecond)))
			switch (i + j) % 7 {
			case 0:
				sp.Status().SetCode(ptrace.StatusCodeError)
				sp.Status().SetMessage("boom " + fmt.Sprint(i))
			case 1, 2:
				sp.Status().SetCode(ptrace.StatusCodeOk)
			}
			a := sp.Attributes()
			a.PutStr("http.route", fmt.Sprintf("/r/%d", j))
			a.PutInt("http.status_code", int64(200+100*((i+j)%4)))
			a.PutBool("cache.hit", j%2 == 0)
			a.PutDouble("ratio", float64(r.IntN(1000))/8)
			if i >= 30 && j == 0 {
				fx.otherSpan = [2]string{tid.String(), id.String()}
			}
		}
		if i < 30 {
			fx.traceIDs = append(fx.traceIDs, tid.String())
		}
		if i == 10 && n > 1 {
			fx.rootless = tid.String()
			fx.cut = t0.Add(time.Millisecond)
		}
	}
	if fx.rootless == "" {
		// Trace 10 had one span: make the cut after trace 9 instead, and
		// let the rootless check be skipped by an empty id.
		fx.cut = fx.start.Add(10 * 90 * time.Second)
	}
	return td, fx
}

// load sends td through both exporters and waits until both stores hold it.
func load(t *testing.T) fixture {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
	ctx := context.Background()
	if _, err := schema.Apply(ctx, st, schema.Options{Database: "otel"}); err != nil {
		t.Fatal(err)
	}
	td, fx := build(rand.Uint64())

	dualwritetest.Traces(t, st, osURL, td)
	c := client(t)
	idx := opensearch.OtelTracesIndex(fx.start)
	if _, err := c.API.Indices.Refresh(ctx, &opensearchapi.IndicesRefreshReq{Index: []string{idx}}); err != nil {
		t.Fatalf("refresh %s: %v", idx, err)
	}
	t.Cleanup(func() {
		req, _ := http.NewRequest(http.MethodDelete, "/"+idx+"?ignore_unavailable=true", nil)
		if resp, err := c.API.Client.Perform(req); err == nil {
			resp.Body.Close()
		}
	})
	return fx
}

func client(t *testing.T) *opensearch.Client {
	t.Helper()
	c, err := opensearch.New(osURL)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// render renders an answer as JSON, for comparison and failure messages.
func render(t *testing.T, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestTracesParityWithClickHouse(t *testing.T) {
	fx := load(t)
	ctx := context.Background()
	admin := readmodel.Tenancy{Subject: "admin", All: true}
	tenant := readmodel.Tenancy{Subject: "u", Namespaces: []string{fx.ns}}
	chr, err := clickhouse.New(st, "otel", clickhouse.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	var chb, osb readmodel.Traces = chr, &tracesbackend.Backend{Client: client(t)}

	base := readmodel.TracesQuery{Start: fx.start, End: fx.end, Limit: 100, Desc: true, Selector: readmodel.Selector{Namespace: fx.ns}}
	with := func(f func(*readmodel.TracesQuery)) readmodel.TracesQuery {
		q := base
		f(&q)
		return q
	}
	traceQueries := map[string]readmodel.TracesQuery{
		"all, newest first":   base,
		"oldest five":         with(func(q *readmodel.TracesQuery) { q.Desc, q.Limit = false, 5 }),
		"newest seven":        with(func(q *readmodel.TracesQuery) { q.Limit = 7 }),
		"component":           with(func(q *readmodel.TracesQuery) { q.Component = compB }),
		"project and env":     with(func(q *readmodel.TracesQuery) { q.Project, q.Environment = projShop, envProd }),
		"range cuts a root":   with(func(q *readmodel.TracesQuery) { q.Start = fx.cut }),
		"range holds nothing": with(func(q *readmodel.TracesQuery) { q.Start, q.End = fx.end, fx.end.Add(time.Hour) }),
		"unknown component":   with(func(q *readmodel.TracesQuery) { q.Component = "99999999-9999-4999-8999-999999999999" }),
	}
	for name, q := range traceQueries {
		for who, ten := range map[string]readmodel.Tenancy{"admin": admin, "tenant": tenant} {
			t.Run("traces/"+name+"/"+who, func(t *testing.T) {
				a, err := chb.QueryTraces(ctx, ten, q)
				if err != nil {
					t.Fatalf("clickhouse: %v", err)
				}
				b, err := osb.QueryTraces(ctx, ten, q)
				if err != nil {
					t.Fatalf("opensearch: %v", err)
				}
				if ra, rb := render(t, a), render(t, b); ra != rb {
					t.Errorf("answers differ\nclickhouse: %s\nopensearch: %s", ra, rb)
				}
			})
		}
	}

	// The listing itself is checked against the fixture, not only between
	// the two stores: all 30 traces of ns, newest first; the rootless one
	// is gone once the range cuts its root.
	all, err := osb.QueryTraces(ctx, admin, base)
	if err != nil {
		t.Fatal(err)
	}
	if all.Total != 30 || len(all.Traces) != 30 {
		t.Fatalf("total %d, %d traces; want 30 of the namespace (not the other one's 3)", all.Total, len(all.Traces))
	}
	for i, tr := range all.Traces {
		if want := fx.traceIDs[29-i]; tr.TraceID != want {
			t.Fatalf("trace %d is %s, want %s (newest first)", i, tr.TraceID, want)
		}
	}
	if fx.rootless != "" {
		cut, err := osb.QueryTraces(ctx, admin, traceQueries["range cuts a root"])
		if err != nil {
			t.Fatal(err)
		}
		for _, tr := range cut.Traces {
			if tr.TraceID == fx.rootless {
				t.Errorf("trace %s is listed though its root span starts before the range", fx.rootless)
			}
		}
	}

	for i, id := range []string{fx.traceIDs[0], fx.traceIDs[7], fx.traceIDs[29]} {
		for _, q := range []readmodel.TracesQuery{
			with(func(q *readmodel.TracesQuery) { q.TraceID = id }),
			with(func(q *readmodel.TracesQuery) { q.TraceID, q.Desc, q.Attributes = id, false, true }),
			with(func(q *readmodel.TracesQuery) { q.TraceID, q.Limit, q.Attributes = id, 2, true }),
		} {
			t.Run(fmt.Sprintf("spans/%d/desc=%v/attrs=%v/limit=%d", i, q.Desc, q.Attributes, q.Limit), func(t *testing.T) {
				a, err := chb.QuerySpans(ctx, tenant, q)
				if err != nil {
					t.Fatalf("clickhouse: %v", err)
				}
				b, err := osb.QuerySpans(ctx, tenant, q)
				if err != nil {
					t.Fatalf("opensearch: %v", err)
				}
				if len(a.Spans) == 0 {
					t.Fatal("no spans: the fixture trace should be there")
				}
				if ra, rb := render(t, a), render(t, b); ra != rb {
					t.Errorf("answers differ\nclickhouse: %s\nopensearch: %s", ra, rb)
				}
			})
		}
	}

	t.Run("span details", func(t *testing.T) {
		spans, err := chb.QuerySpans(ctx, admin, with(func(q *readmodel.TracesQuery) { q.TraceID = fx.traceIDs[3] }))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range spans.Spans {
			ref := readmodel.SpanRef{TraceID: fx.traceIDs[3], SpanID: s.SpanID}
			a, err := chb.GetSpan(ctx, tenant, ref)
			if err != nil {
				t.Fatalf("clickhouse: %v", err)
			}
			b, err := osb.GetSpan(ctx, tenant, ref)
			if err != nil {
				t.Fatalf("opensearch: %v", err)
			}
			if ra, rb := render(t, a), render(t, b); ra != rb {
				t.Errorf("answers differ\nclickhouse: %s\nopensearch: %s", ra, rb)
			}
			if len(b.Attributes) != 4 || b.Attributes["cache.hit"] == "" || b.Resource["openchoreo.dev/namespace"] != fx.ns {
				t.Errorf("span details attributes %v / %v: want the span's 4 and its resource's", b.Attributes, b.Resource)
			}
		}
	})

	t.Run("span of another namespace is not found in either", func(t *testing.T) {
		ref := readmodel.SpanRef{TraceID: fx.otherSpan[0], SpanID: fx.otherSpan[1]}
		for name, b := range map[string]readmodel.Traces{"clickhouse": chb, "opensearch": osb} {
			_, err := b.GetSpan(ctx, tenant, ref)
			if readmodel.KindOf(err) != readmodel.KindNotFound {
				t.Errorf("%s: err %v, want NotFound", name, err)
			}
			if _, err := b.GetSpan(ctx, admin, ref); err != nil {
				t.Errorf("%s: an admin should see it: %v", name, err)
			}
		}
	})

	t.Run("tenant cannot list another namespace", func(t *testing.T) {
		q := with(func(q *readmodel.TracesQuery) { q.Namespace = fx.other })
		for name, b := range map[string]readmodel.Traces{"clickhouse": chb, "opensearch": osb} {
			if _, err := b.QueryTraces(ctx, tenant, q); readmodel.KindOf(err) != readmodel.KindForbidden {
				t.Errorf("%s: a tenant of %s listed %s", name, fx.ns, fx.other)
			}
		}
	})
}
