package logsbackend

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opensearch-project/opensearch-go/v4/opensearchapi"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/openchoreo/obsplane/internal/gateway/dualwritetest"
	"github.com/openchoreo/obsplane/internal/opensearch"
	"github.com/openchoreo/obsplane/internal/readmodel"
	"github.com/openchoreo/obsplane/internal/schema"
)

// TestEventsParityWithClickHouse sends Kubernetes events, shaped as the
// collector's k8s events receiver and OpenChoreo's enrich processor make
// them, through the gateway's two real exporters (otel_logs rows; ss4o
// documents in k8s-events-*), then asks both backends the events queries
// through readmodel.Logs and compares the answers.
func TestEventsParityWithClickHouse(t *testing.T) {
	if skipReason != "" {
		t.Skip(skipReason)
	}
	ctx := context.Background()
	if _, err := schema.Apply(ctx, st, schema.Options{Database: "otel"}); err != nil {
		t.Fatal(err)
	}
	day := time.Date(2004, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, rand.IntN(3000))
	ns := fmt.Sprintf("ev-%d", rand.Uint32())
	start := day.Add(time.Hour)
	ld := plog.NewLogs()
	event := func(i int, kind, name, objNS string, labels map[string]string, typ, reason, msg string) {
		rl := ld.ResourceLogs().AppendEmpty()
		ra := rl.Resource().Attributes()
		ra.PutStr("k8s.object.kind", kind)
		ra.PutStr("k8s.object.name", name)
		for k, v := range labels {
			ra.PutStr("k8s.object.label."+k, v)
		}
		lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Duration(i) * 1500 * time.Millisecond)))
		lr.SetSeverityText(typ)
		lr.Body().SetStr(msg)
		lr.Attributes().PutStr("k8s.event.reason", reason)
		lr.Attributes().PutStr("k8s.namespace.name", objNS)
		lr.Attributes().PutStr("k8s.event.name", fmt.Sprintf("%s.%x", name, i))
	}
	labels := func(comp, uid, env string) map[string]string {
		return map[string]string{"openchoreo.dev/namespace": ns, "openchoreo.dev/project": "shop", "openchoreo.dev/project-uid": projShop,
			"openchoreo.dev/component": comp, "openchoreo.dev/component-uid": uid, "openchoreo.dev/environment": "dev",
			"openchoreo.dev/environment-uid": env}
	}
	for i := range 24 {
		l := labels("checkout", compCheckout, envDev)
		if i%3 == 0 {
			l = labels("cart", compCart, envProd)
		}
		typ, reason := "Normal", "Scheduled"
		if i%4 == 0 {
			typ, reason = "Warning", "BackOff"
		}
		event(i, "Pod", fmt.Sprintf("checkout-%d", i), "dp-"+ns, l, typ, reason, fmt.Sprintf("event %d happened", i))
	}
	// Two events share a timestamp (i = 30 twice): their order is the
	// stores' own; the comparison below sorts such ties.
	event(30, "Pod", "tie-a", "dp-"+ns, labels("cart", compCart, envDev), "Normal", "Pulled", "tie a")
	event(30, "Pod", "tie-b", "dp-"+ns, labels("cart", compCart, envDev), "Normal", "Pulled", "tie b")
	// Workflow run events: objects named after the run in workflows-<ns>.
	for i := range 5 {
		event(40+i, "Pod", fmt.Sprintf("run-7-step-%d-12345", i%2), "workflows-"+ns, nil, "Normal", "Started", fmt.Sprintf("wf %d", i))
	}
	// Another tenant's event, and a container log line of ns that is not an
	// event.
	event(50, "Pod", "x", "dp-other", map[string]string{"openchoreo.dev/namespace": "other-" + ns}, "Warning", "Failed", "not yours")
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("openchoreo.dev/namespace", ns)
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Minute)))
	lr.Body().SetStr("a container log line, not an event")

	dualwritetest.Logs(t, st, osURL, ld)
	c := client(t)
	indices := []string{opensearch.K8sEventsIndex(day), opensearch.ContainerLogsIndex(day)}
	if _, err := c.API.Indices.Refresh(ctx, &opensearchapi.IndicesRefreshReq{Index: indices}); err != nil {
		t.Fatalf("refresh: %v", err)
	}
	t.Cleanup(func() {
		for _, ix := range indices {
			req, _ := http.NewRequest(http.MethodDelete, "/"+ix+"?ignore_unavailable=true", nil)
			if resp, err := c.API.Client.Perform(req); err == nil {
				resp.Body.Close()
			}
		}
	})

	tenant := readmodel.Tenancy{Subject: "u", Namespaces: []string{ns}}
	chb, osb := backends(t)
	base := readmodel.LogsQuery{Start: day, End: day.Add(24 * time.Hour), Limit: 100, Desc: true, Namespace: ns}
	with := func(f func(*readmodel.LogsQuery)) readmodel.LogsQuery { q := base; f(&q); return q }
	for name, c := range map[string]struct {
		q    readmodel.LogsQuery
		want int
	}{
		"namespace":        {base, 26},
		"oldest three":     {with(func(q *readmodel.LogsQuery) { q.Desc, q.Limit = false, 3 }), 26},
		"component":        {with(func(q *readmodel.LogsQuery) { q.ComponentUID = compCart }), 10},
		"environment":      {with(func(q *readmodel.LogsQuery) { q.EnvironmentUID = envProd }), 8},
		"narrow range":     {with(func(q *readmodel.LogsQuery) { q.Start, q.End = start, start.Add(6*time.Second) }), 3},
		"workflow run":     {with(func(q *readmodel.LogsQuery) { q.WorkflowRunName = "run-7" }), 5},
		"workflow task":    {with(func(q *readmodel.LogsQuery) { q.WorkflowRunName, q.TaskName = "run-7", "step-1" }), 2},
		"no such run":      {with(func(q *readmodel.LogsQuery) { q.WorkflowRunName = "run-8" }), 0},
		"nothing in range": {with(func(q *readmodel.LogsQuery) { q.Start, q.End = day.Add(-time.Hour), day }), 0},
	} {
		for who, ten := range map[string]readmodel.Tenancy{"admin": all, "tenant": tenant} {
			t.Run(name+"/"+who, func(t *testing.T) {
				a, err := chb.QueryEvents(ctx, ten, c.q)
				if err != nil {
					t.Fatalf("clickhouse: %v", err)
				}
				b, err := osb.QueryEvents(ctx, ten, c.q)
				if err != nil {
					t.Fatalf("opensearch: %v", err)
				}
				if a.Total != c.want {
					t.Errorf("clickhouse total %d, want %d", a.Total, c.want)
				}
				// Events sharing a timestamp come back in each store's own
				// order: compare them sorted.
				tiesSorted(a.Events)
				tiesSorted(b.Events)
				if g, w := asJSON(t, b), asJSON(t, a); g != w {
					t.Errorf("answers differ\nclickhouse: %s\nopensearch: %s", w, g)
				}
			})
		}
	}
	// The entries carry what the contract names.
	r, err := osb.QueryEvents(ctx, tenant, with(func(q *readmodel.LogsQuery) { q.Limit = 1; q.Desc = false }))
	if err != nil {
		t.Fatal(err)
	}
	e := r.Events[0]
	if e.Type != "Warning" || e.Reason != "BackOff" || e.Message != "event 0 happened" ||
		e.Component != "cart" || e.ComponentUID != compCart || e.ObjectKind != "Pod" ||
		e.ObjectName != "checkout-0" || e.ObjectNamespace != "dp-"+ns || e.Namespace != ns {
		t.Errorf("first event = %+v", e)
	}
}

// tiesSorted orders each run of events sharing a timestamp by message,
// leaving the order between distinct timestamps as the store gave it.
func tiesSorted(evs []readmodel.Event) {
	for i := 0; i < len(evs); {
		j := i + 1
		for j < len(evs) && evs[j].Timestamp.Equal(evs[i].Timestamp) {
			j++
		}
		slices.SortFunc(evs[i:j], func(x, y readmodel.Event) int { return strings.Compare(x.Message, y.Message) })
		i = j
	}
}
