package logsbackend

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/opensearch-project/opensearch-go/v4/opensearchapi"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/openchoreo/obsplane/internal/api/auth"
	"github.com/openchoreo/obsplane/internal/api/logsadapter"
	"github.com/openchoreo/obsplane/internal/gateway/dualwritetest"
	"github.com/openchoreo/obsplane/internal/opensearch"
	"github.com/openchoreo/obsplane/internal/router"
	"github.com/openchoreo/obsplane/internal/schema"
)

// TestEventsParityWithClickHouse sends Kubernetes events, shaped as the
// collector's k8s events receiver and OpenChoreo's enrich processor make
// them, through the gateway's two real exporters (otel_logs rows; ss4o
// documents in k8s-events-*), then asks both backends the events queries
// and compares the answers.
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

	admin := auth.WithPrincipal(ctx, &auth.Principal{All: true})
	tenant := auth.WithPrincipal(ctx, &auth.Principal{Subject: "u", Namespaces: []string{ns}})
	chb := &logsadapter.ClickHouse{Store: st}
	osb := &Backend{Client: c}
	base := logsadapter.LogsQuery{Start: day, End: day.Add(24 * time.Hour), Limit: 100, Desc: true, Namespace: ns}
	with := func(f func(*logsadapter.LogsQuery)) logsadapter.LogsQuery { q := base; f(&q); return q }
	for name, c := range map[string]struct {
		q    logsadapter.LogsQuery
		want int
	}{
		"namespace":        {base, 26},
		"oldest three":     {with(func(q *logsadapter.LogsQuery) { q.Desc, q.Limit = false, 3 }), 26},
		"component":        {with(func(q *logsadapter.LogsQuery) { q.ComponentUID = compCart }), 10},
		"environment":      {with(func(q *logsadapter.LogsQuery) { q.EnvironmentUID = envProd }), 8},
		"narrow range":     {with(func(q *logsadapter.LogsQuery) { q.Start, q.End = start, start.Add(6*time.Second) }), 3},
		"workflow run":     {with(func(q *logsadapter.LogsQuery) { q.WorkflowRunName = "run-7" }), 5},
		"workflow task":    {with(func(q *logsadapter.LogsQuery) { q.WorkflowRunName, q.TaskName = "run-7", "step-1" }), 2},
		"no such run":      {with(func(q *logsadapter.LogsQuery) { q.WorkflowRunName = "run-8" }), 0},
		"nothing in range": {with(func(q *logsadapter.LogsQuery) { q.Start, q.End = day.Add(-time.Hour), day }), 0},
	} {
		for who, ctx := range map[string]context.Context{"admin": admin, "tenant": tenant} {
			t.Run(name+"/"+who, func(t *testing.T) {
				a, err := chb.QueryEvents(ctx, c.q)
				if err != nil {
					t.Fatalf("clickhouse: %v", err)
				}
				b, err := osb.QueryEvents(ctx, c.q)
				if err != nil {
					t.Fatalf("opensearch: %v", err)
				}
				if a.Total != c.want {
					t.Errorf("clickhouse total %d, want %d", a.Total, c.want)
				}
				if kinds, detail := router.Compare(logsadapter.EventsDigest(a), logsadapter.EventsDigest(b)); len(kinds) > 0 {
					a.TookMs, b.TookMs = 0, 0
					t.Errorf("answers differ (%s)\nclickhouse: %+v\nopensearch: %+v", detail, a, b)
				}
			})
		}
	}
	// The entries carry what the contract names.
	r, err := osb.QueryEvents(tenant, with(func(q *logsadapter.LogsQuery) { q.Limit = 1; q.Desc = false }))
	if err != nil {
		t.Fatal(err)
	}
	e := r.Events[0]
	if e.Type != "Warning" || e.Reason != "BackOff" || e.Message != "event 0 happened" || e.Metadata == nil ||
		e.Metadata.ComponentName != "cart" || e.Metadata.ComponentUID != compCart || e.Metadata.ObjectKind != "Pod" ||
		e.Metadata.ObjectName != "checkout-0" || e.Metadata.ObjectNamespace != "dp-"+ns || e.Metadata.NamespaceName != ns {
		t.Errorf("first event = %+v / %+v", e, e.Metadata)
	}
}
