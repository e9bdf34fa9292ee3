package logsbackend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openchoreo/obsplane/internal/opensearch"
	"github.com/openchoreo/obsplane/internal/opensearch/opensearchtest"
	"github.com/openchoreo/obsplane/internal/readmodel"
	"github.com/openchoreo/obsplane/internal/readmodel/clickhouse"
	"github.com/openchoreo/obsplane/internal/schema"
	"github.com/openchoreo/obsplane/internal/store/chdb"
	"github.com/openchoreo/obsplane/internal/store/chdb/chdbtest"
)

// The parity tests load the same lines into the real embedded ClickHouse
// (otel_logs rows, as the gateway writes them) and the real OpenSearch (the
// documents dual write makes of those rows, through the bulk writer), ask
// both backends the same queries through the read model's interface
// (readmodel.Logs) and compare the typed answers.

var (
	st         *chdb.Store
	osURL      string
	skipReason string
)

func TestMain(m *testing.M) {
	osURL, skipReason = opensearchtest.ForMain("logsbackend")
	chdbtest.Main(m, &st)
}

// Tenants of the fixture. UIDs are UUIDs: the contract reports only those.
const (
	nsAcme, nsOther, nsMany, nsLegacy = "acme", "other", "many", "legacyns"
	projShop                          = "11111111-1111-4111-8111-111111111111"
	projOps                           = "22222222-2222-4222-8222-222222222222"
	compCheckout                      = "33333333-3333-4333-8333-333333333333"
	compCart                          = "44444444-4444-4444-8444-444444444444"
	compJob                           = "55555555-5555-4555-8555-555555555555"
	envDev                            = "66666666-6666-4666-8666-666666666666"
	envProd                           = "77777777-7777-4777-8777-777777777777"
)

var bodies = []string{
	`level=error msg="payment failed" order=42`,
	`2026-01-01T00:00:00Z WARN disk almost full`,
	`INFO server started on :8080`,
	`debug: cache miss key=abc`,
	`Payment FAILED for order 7`,
	`progress 50% *done* ?`,
	`{"severity":"info","msg":"json line"}`,
	`E0501 12:34:56.789 klog error line`,
	`plain line with no level, 日本語`,
	`error=<nil> status=ok`,
}

type tenant struct{ ns, nsName, project, projName, comp, compName, env, envName, pod string }

var tenants = []tenant{
	{nsAcme, "dp-acme-shop-dev", projShop, "shop", compCheckout, "checkout", envDev, "dev", "checkout-1"},
	{nsAcme, "dp-acme-shop-prod", projShop, "shop", compCart, "cart", envProd, "prod", "cart-1"},
	{nsAcme, "dp-acme-ops-dev", projOps, "ops", compJob, "job", envDev, "dev", "job-1"},
	{nsOther, "dp-other-x-dev", projOps, "x", compCart, "cart", envDev, "dev", "other-1"},
}

func record(ts time.Time, body string, tn tenant) opensearch.LogRecord {
	return opensearch.LogRecord{
		Timestamp: ts, Body: body, ServiceName: tn.compName,
		ResourceAttributes: map[string]string{
			"service.name": tn.compName, "k8s.pod.name": tn.pod, "k8s.namespace.name": tn.nsName, "k8s.container.name": "main",
			"openchoreo.namespace": tn.ns, "openchoreo.project": tn.projName, "openchoreo.project.uid": tn.project,
			"openchoreo.component": tn.compName, "openchoreo.component.uid": tn.comp,
			"openchoreo.environment": tn.envName, "openchoreo.environment.uid": tn.env,
		},
		LogAttributes: map[string]string{"log.iostream": "stdout"},
	}
}

func workflowRecord(ts time.Time, body, pod, container, node string) opensearch.LogRecord {
	return opensearch.LogRecord{Timestamp: ts, Body: body, ResourceAttributes: map[string]string{
		"k8s.pod.name": pod, "k8s.namespace.name": "workflows-" + nsAcme, "k8s.container.name": container,
		"k8s.pod.annotation.workflows.argoproj.io/node-name": node,
	}}
}

// fixture is the loaded data: the day it starts on.
type fixture struct {
	start time.Time
}

func load(t *testing.T) fixture {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
	ctx := context.Background()
	if _, err := schema.Apply(ctx, st, schema.Options{Database: "otel"}); err != nil {
		t.Fatal(err)
	}
	// 22:00 on a random day no real data uses; the lines run past midnight,
	// so the answers span two daily indices.
	day := time.Date(2003, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, rand.IntN(3000))
	start := day.Add(22 * time.Hour)
	var recs, legacy []opensearch.LogRecord
	ts := start
	next := func() time.Time { ts = ts.Add(97 * time.Second); return ts }
	for i := 0; i < 120; i++ {
		recs = append(recs, record(next(), bodies[i%len(bodies)], tenants[i%len(tenants)]))
	}
	for i, c := range []struct{ pod, container, node string }{
		{"build-run-1-step-a-111", "main", "build-run-1.step-a"},
		{"build-run-1-step-a-111", "init", "build-run-1.step-a"},
		{"build-run-1-step-a-111", "wait", "build-run-1.step-a"},
		{"build-run-1-step-b-222", "main", "build-run-1.step-b"},
		{"build-run-2-step-a-333", "main", "build-run-2.step-a"},
	} {
		for j := 0; j < 3; j++ {
			recs = append(recs, workflowRecord(next(), fmt.Sprintf("wf %d/%d %s", i, j, c.container), c.pod, c.container, c.node))
		}
	}
	many := tenant{nsMany, "dp-many", projShop, "shop", compCheckout, "checkout", envDev, "dev", "many-1"}
	for i := 0; i < 1100; i++ {
		recs = append(recs, record(start.Add(time.Duration(i)*time.Millisecond+time.Hour), fmt.Sprintf("many %d", i), many))
	}
	// Lines from before Dec 2025's rename, in a kubernetes-YYYY.MM.DD index
	// with dynamic mapping.
	old := tenant{nsLegacy, "dp-legacy", projShop, "shop", compCheckout, "checkout", envDev, "dev", "legacy-1"}
	for i := 0; i < 6; i++ {
		legacy = append(legacy, record(next(), bodies[i], old))
	}
	all := append(append([]opensearch.LogRecord{}, recs...), legacy...)
	if err := st.Insert(ctx, opensearch.LogsBatch("otel", all)); err != nil {
		t.Fatalf("insert into ClickHouse: %v", err)
	}

	c := client(t)
	if err := c.EnsureTemplates(ctx); err != nil {
		t.Fatal(err)
	}
	var docs []opensearch.BulkDoc
	for _, r := range recs {
		src, err := opensearch.EncodeLogDocument(r)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, opensearch.BulkDoc{Index: opensearch.ContainerLogsIndex(r.Timestamp), Source: src})
	}
	for _, r := range legacy {
		src, err := opensearch.EncodeLogDocument(r)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, opensearch.BulkDoc{Index: opensearch.LegacyKubernetesIndex(r.Timestamp), Source: src})
	}
	if _, err := c.Bulk(ctx, docs, opensearch.BulkOptions{Refresh: "true"}); err != nil {
		t.Fatalf("bulk into OpenSearch: %v", err)
	}
	t.Cleanup(func() {
		var names []string
		for d := day; !d.After(day.AddDate(0, 0, 2)); d = d.AddDate(0, 0, 1) {
			names = append(names, opensearch.ContainerLogsIndex(d), opensearch.LegacyKubernetesIndex(d))
		}
		req, _ := http.NewRequest(http.MethodDelete, "/"+strings.Join(names, ",")+"?ignore_unavailable=true", nil)
		if resp, err := c.API.Client.Perform(req); err == nil {
			resp.Body.Close()
		}
	})
	return fixture{start: start}
}

func client(t *testing.T) *opensearch.Client {
	t.Helper()
	c, err := opensearch.New(osURL)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// backends are the two implementations of readmodel.Logs under test.
func backends(t *testing.T) (ch, os readmodel.Logs) {
	t.Helper()
	chb, err := clickhouse.New(st, "otel", clickhouse.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	return chb, &Backend{Client: client(t)}
}

var all = readmodel.Tenancy{Subject: "admin", All: true}

// asJSON renders an answer for comparison and for the failure message.
func asJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParityWithClickHouse(t *testing.T) {
	fx := load(t)
	ch, osb := backends(t)
	base := readmodel.LogsQuery{Start: fx.start, End: fx.start.Add(6 * time.Hour), Limit: 100, Desc: true, Namespace: nsAcme}
	with := func(f func(*readmodel.LogsQuery)) readmodel.LogsQuery { q := base; f(&q); return q }
	for _, tc := range []struct {
		name      string
		q         readmodel.LogsQuery
		wantTotal int // -1: any, but not none (the fixture must exercise the query)
	}{
		{"namespace, newest first", base, 90},
		{"oldest first, limit 5", with(func(q *readmodel.LogsQuery) { q.Desc, q.Limit = false, 5 }), 90},
		{"component", with(func(q *readmodel.LogsQuery) { q.ComponentUID = compCheckout }), 30},
		{"project and environment", with(func(q *readmodel.LogsQuery) { q.ProjectUID, q.EnvironmentUID = projShop, envProd }), 30},
		{"other namespace", with(func(q *readmodel.LogsQuery) { q.Namespace, q.ComponentUID = nsOther, compCart }), 30},
		{"namespace without data", with(func(q *readmodel.LogsQuery) { q.Namespace = "nobody" }), 0},
		{"phrase, any case", with(func(q *readmodel.LogsQuery) { q.Phrase = "payment failed" }), 24},
		{"phrase with wildcard characters", with(func(q *readmodel.LogsQuery) { q.Phrase = `50% *done* ?` }), -1},
		{"non-ASCII phrase", with(func(q *readmodel.LogsQuery) { q.Phrase = "日本語" }), -1},
		{"level ERROR", with(func(q *readmodel.LogsQuery) { q.Levels = []string{"ERROR"} }), -1},
		{"levels WARN and DEBUG", with(func(q *readmodel.LogsQuery) { q.Levels = []string{"WARN", "DEBUG"} }), -1},
		{"level and phrase and component", with(func(q *readmodel.LogsQuery) {
			q.ComponentUID, q.Levels, q.Phrase = compCart, []string{"ERROR"}, "LINE"
		}), -1},
		{"total capped at 1000", with(func(q *readmodel.LogsQuery) { q.Namespace, q.Limit = nsMany, 1000 }), 1000},
		{"legacy kubernetes-* index", with(func(q *readmodel.LogsQuery) { q.Namespace, q.ComponentUID = nsLegacy, compCheckout }), 6},
		{"legacy index, level", with(func(q *readmodel.LogsQuery) { q.Namespace, q.Levels = nsLegacy, []string{"WARN"} }), 1},
		{"workflow run", with(func(q *readmodel.LogsQuery) { q.WorkflowRunName, q.Desc = "build-run-1", false }), 6},
		{"workflow task", with(func(q *readmodel.LogsQuery) { q.WorkflowRunName, q.TaskName = "build-run-1", "step-b" }), 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fromCH, err := ch.QueryLogs(context.Background(), all, tc.q)
			if err != nil {
				t.Fatalf("ClickHouse: %v", err)
			}
			fromOS, err := osb.QueryLogs(context.Background(), all, tc.q)
			if err != nil {
				t.Fatalf("OpenSearch: %v", err)
			}
			if tc.wantTotal == -1 && fromCH.Total == 0 || tc.wantTotal >= 0 && fromCH.Total != tc.wantTotal {
				t.Errorf("ClickHouse total %d, want %d (-1: some) — the fixture does not exercise this query", fromCH.Total, tc.wantTotal)
			}
			if g, w := asJSON(t, fromOS), asJSON(t, fromCH); g != w {
				t.Errorf("answers differ\nOpenSearch: %s\nClickHouse: %s", firstLines(g, 60), firstLines(w, 60))
			}
		})
	}

	t.Run("exclusive time range ends", func(t *testing.T) {
		// Ends exactly on two lines' timestamps: neither is included.
		first, last := fx.start.Add(97*time.Second), fx.start.Add(5*97*time.Second)
		q := readmodel.LogsQuery{Start: first, End: last, Limit: 100, Desc: true, Namespace: nsAcme}
		fromCH, err := ch.QueryLogs(context.Background(), all, q)
		if err != nil {
			t.Fatal(err)
		}
		fromOS, err := osb.QueryLogs(context.Background(), all, q)
		if err != nil {
			t.Fatal(err)
		}
		if fromCH.Total != 2 {
			t.Errorf("ClickHouse total %d, want 2 (lines 2 and 3; lines 1 and 4 sit on the ends, line 4 is namespace other)", fromCH.Total)
		}
		if g, w := asJSON(t, fromOS), asJSON(t, fromCH); g != w {
			t.Errorf("answers differ\nOpenSearch: %s\nClickHouse: %s", g, w)
		}
	})

	t.Run("whole-second start, lines later in that second", func(t *testing.T) {
		// The "many" lines are 1 ms apart from start+1h, which is a whole
		// second: line 0 sits on the start (left out), lines 1..499 are
		// after it within the same second. OpenSearch reads a bound
		// without fraction digits as the end of its second for gt; the
		// query must not let it drop the whole second.
		from := fx.start.Add(time.Hour)
		q := readmodel.LogsQuery{Start: from, End: from.Add(500 * time.Millisecond), Limit: 1000, Desc: true, Namespace: nsMany}
		fromCH, err := ch.QueryLogs(context.Background(), all, q)
		if err != nil {
			t.Fatal(err)
		}
		fromOS, err := osb.QueryLogs(context.Background(), all, q)
		if err != nil {
			t.Fatal(err)
		}
		if fromCH.Total != 499 || fromOS.Total != 499 {
			t.Errorf("totals: ClickHouse %d, OpenSearch %d, want 499 each", fromCH.Total, fromOS.Total)
		}
		if g, w := asJSON(t, fromOS), asJSON(t, fromCH); g != w {
			t.Errorf("answers differ\nOpenSearch: %s\nClickHouse: %s", firstLines(g, 30), firstLines(w, 30))
		}
	})
}

func firstLines(s string, n int) string {
	l := strings.SplitN(s, "\n", n+1)
	if len(l) > n {
		l = append(l[:n], "...")
	}
	return strings.Join(l, "\n")
}

func TestTenancyIsEnforced(t *testing.T) {
	if skipReason != "" {
		t.Skip(skipReason)
	}
	var osb readmodel.Logs = &Backend{Client: client(t)}
	other := readmodel.Tenancy{Subject: "u", Namespaces: []string{"other"}}
	_, err := osb.QueryLogs(context.Background(), other, readmodel.LogsQuery{Start: time.Now().Add(-time.Hour), End: time.Now(), Limit: 10, Namespace: nsAcme})
	if readmodel.KindOf(err) != readmodel.KindForbidden {
		t.Fatalf("err = %v, want Forbidden", err)
	}
}

// The real node cannot be made to fail a shard or answer 429 on demand;
// these answers are scripted.
func TestPartialResultsAndRetries(t *testing.T) {
	var calls atomic.Int32
	answers := []func(w http.ResponseWriter){}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(calls.Add(1)) - 1
		if i >= len(answers) {
			i = len(answers) - 1
		}
		answers[i](w)
	}))
	defer srv.Close()
	c, err := opensearch.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	b := &Backend{Client: c, Search: opensearch.SearchOptions{Backoff: time.Millisecond}}
	ctx := context.Background()
	q := readmodel.LogsQuery{Start: time.Now().Add(-time.Hour), End: time.Now(), Limit: 10, Namespace: "acme"}
	ok := func(w http.ResponseWriter) {
		fmt.Fprint(w, `{"timed_out":false,"_shards":{"total":2,"successful":2,"failed":0},"hits":{"total":{"value":1,"relation":"eq"},"hits":[{"_index":"container-logs-2026-01-01","_id":"x","_source":{"@timestamp":"2026-01-01T00:00:00.000Z","log":"WARN hi","kubernetes":{"labels":{"openchoreo_dev/namespace":"acme"}}}}]}}`)
	}
	status := func(code int) func(http.ResponseWriter) {
		return func(w http.ResponseWriter) { w.WriteHeader(code); fmt.Fprint(w, `{"error":"busy"}`) }
	}

	answers = []func(http.ResponseWriter){status(429), status(503), ok}
	resp, err := b.QueryLogs(ctx, all, q)
	if err != nil || calls.Load() != 3 || resp.Total != 1 {
		t.Fatalf("after 429, 503, ok: resp %+v err %v calls %d", resp, err, calls.Load())
	}
	if e := resp.Entries[0]; e.Level != "WARN" || e.Namespace != "acme" {
		t.Errorf("entry %+v", e)
	}

	calls.Store(0)
	answers = []func(http.ResponseWriter){status(429)}
	if _, err := b.QueryLogs(ctx, all, q); err == nil || calls.Load() != 4 {
		t.Errorf("429 forever: err %v after %d calls, want an error after 4", err, calls.Load())
	}

	calls.Store(0)
	answers = []func(http.ResponseWriter){status(400)}
	if _, err := b.QueryLogs(ctx, all, q); err == nil || calls.Load() != 1 {
		t.Errorf("400: err %v after %d calls, want an error at once", err, calls.Load())
	}

	calls.Store(0)
	answers = []func(http.ResponseWriter){func(w http.ResponseWriter) {
		fmt.Fprint(w, `{"timed_out":false,"_shards":{"total":2,"successful":1,"failed":1,"failures":[{"shard":1,"reason":{"type":"node_disconnected"}}]},"hits":{"total":{"value":0,"relation":"eq"},"hits":[]}}`)
	}}
	if _, err := b.QueryLogs(ctx, all, q); !errors.Is(err, ErrPartial) || !strings.Contains(err.Error(), "node_disconnected") {
		t.Errorf("shard failure: err %v, want ErrPartial naming the reason", err)
	}
	answers = []func(http.ResponseWriter){func(w http.ResponseWriter) {
		fmt.Fprint(w, `{"timed_out":true,"_shards":{"total":1,"successful":1,"failed":0},"hits":{"total":{"value":0,"relation":"eq"},"hits":[]}}`)
	}}
	if _, err := b.QueryLogs(ctx, all, q); !errors.Is(err, ErrPartial) {
		t.Errorf("timed out: err %v, want ErrPartial", err)
	}
	answers = []func(http.ResponseWriter){func(w http.ResponseWriter) {
		fmt.Fprint(w, `{"_shards":{"total":1,"successful":1,"failed":0},"hits":{"total":{"value":1},"hits":[{"_index":"i","_id":"bad","_source":{"log":"no timestamp"}}]}}`)
	}}
	if _, err := b.QueryLogs(ctx, all, q); !errors.Is(err, opensearch.ErrLogDocument) {
		t.Errorf("malformed document: err %v, want ErrLogDocument", err)
	}
}
