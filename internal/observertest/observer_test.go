package observertest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/openchoreo/obsplane/internal/metricsql/promtest"
	"github.com/openchoreo/obsplane/internal/observertest"
	"github.com/openchoreo/obsplane/internal/servetest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	servetest.Cleanup()
	os.Exit(code)
}

// The OpenChoreo resources of the example cluster (promtest.Example), which
// the logs and traces below carry too.
const (
	ns, project, env = "org", "shop", "development"
	namespaceUID     = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"
	resolverClient   = "openchoreo-observer-resource-reader-client"
	resolverSecret   = "observertest-secret"
)

// TestObserverAnswersFromObsplane runs OpenChoreo's Observer, built
// unmodified from the upstream repository, with its logs, tracing and
// metrics adapter URLs pointed at one `obsplane serve`, sends telemetry
// through obsplane's gateway as a cluster would (Fluent Bit's forward
// protocol, OTLP logs and traces, Prometheus remote write of the
// kube-state-metrics, cAdvisor and Hubble series), and calls the Observer's
// public API as Backstage and occ do, with a user's JWT: each answer must
// carry what was sent. Alert rules take the control plane's path: the
// Observer's internal API, which forwards them to the adapters.
func TestObserverAnswersFromObsplane(t *testing.T) {
	observertest.Binary(t) // skips before anything starts when it cannot be built
	id := observertest.NewIdentity(t, map[string]string{resolverClient: resolverSecret})
	api := observertest.NewAPI(t, id, []observertest.Resource{
		{Kind: "Namespace", Namespace: ns, Name: ns, UID: namespaceUID},
		{Kind: "Project", Namespace: ns, Name: project, UID: promtest.ProjectUID},
		{Kind: "Component", Namespace: ns, Name: "api", UID: promtest.APIUID, Project: project},
		{Kind: "Component", Namespace: ns, Name: "web", UID: promtest.WebUID, Project: project},
		{Kind: "Environment", Namespace: ns, Name: env, UID: promtest.EnvironmentUID},
	}, map[string][]string{"shop-developers": {ns}, "platform-admins": {"*"}})

	// obsplane first: the Observer's addresses are picked now so that
	// obsplane can post fired alerts to the Observer's webhook.
	obAddr, obInternal := servetest.FreePort(t), servetest.FreePort(t)
	srv := servetest.Start(t, servetest.Options{Args: []string{"--observer-url", "http://" + obInternal, "--alert-tick", "1s"}})
	kube := observertest.NewKube(t)
	ob := observertest.Start(t, observertest.Options{
		LogsAdapter: "http://" + srv.LogsAdapter, TracingAdapter: "http://" + srv.TracingAdapter,
		MetricsAdapter: "http://" + srv.MetricsAdapter, Identity: id, API: api, Kube: kube,
		Client: resolverClient, Secret: resolverSecret, Addr: obAddr, InternalAddr: obInternal,
	})

	now := time.Now().UTC().Truncate(time.Millisecond)
	traceID := sendTelemetry(t, srv, now)
	// 40 scrapes 20 s apart: 13 virtual minutes ending a minute ago.
	mstart := now.Add(-14 * time.Minute).Truncate(time.Second)
	cluster := promtest.NewCluster(promtest.Example(mstart, 20*time.Second, 40))
	if _, err := cluster.Push(context.Background(), []string{"http://" + srv.RemoteWrite + "/api/v1/write"}, 2000, nil); err != nil {
		t.Fatal(err)
	}

	dev := id.Token(t, "alice@example.com", map[string]any{"groups": []string{"shop-developers"}})
	outsider := id.Token(t, "mallory@example.com", map[string]any{"groups": []string{"another-team"}})
	rng := map[string]any{"startTime": now.Add(-30 * time.Minute).Format(time.RFC3339), "endTime": now.Add(time.Minute).Format(time.RFC3339)}
	scope := map[string]any{"namespace": ns, "project": project, "component": "api", "environment": env}
	with := func(m map[string]any) map[string]any {
		for k, v := range rng {
			m[k] = v
		}
		return m
	}

	t.Run("logs", func(t *testing.T) {
		req := with(map[string]any{"searchScope": scope, "sortOrder": "asc", "limit": 50})
		var got struct {
			Logs []struct {
				Timestamp, Log, Level string
				Metadata              map[string]string
			}
			Total int
		}
		postUntil(t, "the Observer lists the component's 4 log lines", ob.URL+"/api/v1/logs/query", dev, req, &got, func() bool { return got.Total == 4 && len(got.Logs) == 4 })
		for i := range 3 {
			if l := got.Logs[i]; l.Log != fmt.Sprintf("handled order %d", i) {
				t.Errorf("OTLP line %d: %+v", i, l)
			}
		}
		last := got.Logs[3]
		if last.Log != "ERROR connection to db lost" || last.Level != "ERROR" {
			t.Errorf("the forward line: %+v", last)
		}
		for k, want := range map[string]string{"componentName": "api", "projectName": project, "environmentName": env,
			"namespaceName": ns, "componentUid": promtest.APIUID, "podName": "api-7d9c8b6f5-x2x7k", "containerName": "main"} {
			if last.Metadata[k] != want {
				t.Errorf("the forward line's metadata %s = %q, want %q (%v)", k, last.Metadata[k], want, last.Metadata)
			}
		}
		// The search phrase and the level filter are the adapter's.
		code, body := observertest.Call(t, "POST", ob.URL+"/api/v1/logs/query", dev,
			with(map[string]any{"searchScope": scope, "searchPhrase": "order 1"}))
		decode(t, body, &got)
		if code != http.StatusOK || got.Total != 1 || len(got.Logs) != 1 || got.Logs[0].Log != "handled order 1" {
			t.Errorf("searchPhrase: %d %s", code, body)
		}
		code, body = observertest.Call(t, "POST", ob.URL+"/api/v1/logs/query", dev,
			with(map[string]any{"searchScope": scope, "logLevels": []string{"ERROR"}}))
		decode(t, body, &got)
		if code != http.StatusOK || got.Total != 1 || len(got.Logs) != 1 || got.Logs[0].Level != "ERROR" {
			t.Errorf("logLevels [ERROR]: %d %s", code, body)
		}
	})

	t.Run("workflow logs", func(t *testing.T) {
		req := with(map[string]any{"searchScope": map[string]any{"namespace": ns, "workflowRunName": "build-42"}})
		var got struct {
			Logs []struct {
				Timestamp, Log string
				Metadata       map[string]any
			}
			Total int
		}
		postUntil(t, "the Observer lists the workflow run's line", ob.URL+"/api/v1/logs/query", dev, req, &got,
			func() bool { return got.Total == 1 && len(got.Logs) == 1 })
		if got.Logs[0].Log != "go build ./... ok" {
			t.Errorf("workflow line: %+v", got.Logs[0])
		}
	})

	t.Run("events", func(t *testing.T) {
		req := with(map[string]any{"searchScope": scope})
		var got struct {
			Events []struct {
				Timestamp, Message, Type, Reason string
				Metadata                         map[string]string
			}
			Total int
		}
		postUntil(t, "the Observer lists the component's event", ob.URL+"/api/v1/events/query", dev, req, &got, func() bool { return got.Total == 1 && len(got.Events) == 1 })
		e := got.Events[0]
		if e.Reason != "BackOff" || e.Type != "Warning" || e.Message != "Back-off restarting failed container main" ||
			e.Metadata["objectKind"] != "Pod" || e.Metadata["objectName"] != "api-7d9c8b6f5-x2x7k" || e.Metadata["componentUid"] != promtest.APIUID {
			t.Errorf("event: %+v", e)
		}
	})

	t.Run("traces", func(t *testing.T) {
		req := with(map[string]any{"searchScope": scope})
		var traces struct {
			Traces []map[string]any `json:"traces"`
			Total  int              `json:"total"`
		}
		postUntil(t, "the Observer lists the component's trace", ob.URL+"/api/v1alpha1/traces/query", dev, req, &traces, func() bool { return traces.Total == 1 && len(traces.Traces) == 1 })
		tr := traces.Traces[0]
		if tr["traceId"] != traceID.String() || tr["spanCount"] != float64(2) || tr["hasErrors"] != true || tr["rootSpanName"] != "GET /orders" {
			t.Errorf("trace: %v", tr)
		}
		code, body := observertest.Call(t, "POST", ob.URL+"/api/v1alpha1/traces/"+traceID.String()+"/spans/query", dev, req)
		var spans struct {
			Spans []map[string]any `json:"spans"`
		}
		decode(t, body, &spans)
		if code != http.StatusOK || len(spans.Spans) != 2 {
			t.Fatalf("spans: %d %s", code, body)
		}
		names := []string{spans.Spans[0]["spanName"].(string), spans.Spans[1]["spanName"].(string)}
		slices.Sort(names)
		if !slices.Equal(names, []string{"GET /orders", "SELECT orders"}) {
			t.Errorf("span names %v", names)
		}
		code, body = observertest.Call(t, "GET", ob.URL+"/api/v1alpha1/traces/"+traceID.String()+"/spans/0807060504030201", dev, nil)
		var span map[string]any
		decode(t, body, &span)
		if code != http.StatusOK || span["spanName"] != "SELECT orders" || span["parentSpanId"] != "0102030405060708" {
			t.Errorf("span details: %d %s", code, body)
		}
		if st, _ := span["status"].(map[string]any); st["code"] != "error" {
			t.Errorf("span status: %v", span["status"])
		}
		if attrs, _ := span["attributes"].(map[string]any); attrs["db.system"] != "postgresql" {
			t.Errorf("span attributes: %v", span["attributes"])
		}
		code, _ = observertest.Call(t, "GET", ob.URL+"/api/v1alpha1/traces/"+traceID.String()+"/spans/1111111111111111", dev, nil)
		if code != http.StatusNotFound {
			t.Errorf("an unknown span: %d, want 404", code)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		for _, metric := range []string{"resource", "http"} {
			req := with(map[string]any{"metric": metric, "step": "1m", "searchScope": scope})
			adapterReq := with(map[string]any{"metric": metric, "step": "1m", "searchScope": map[string]any{
				"namespace": ns, "projectUid": promtest.ProjectUID, "componentUid": promtest.APIUID, "environmentUid": promtest.EnvironmentUID}})
			// The samples are all sent; once obsplane's own adapter answers
			// the same twice they are all stored.
			var direct map[string][]point
			var last string
			eventually(t, metric+" metrics stored", func() bool {
				_, body := observertest.Call(t, "POST", "http://"+srv.MetricsAdapter+"/api/v1/metrics/query", "", adapterReq)
				same := string(body) == last
				last = string(body)
				decode(t, body, &direct)
				return same && len(direct) > 0
			})
			code, body := observertest.Call(t, "POST", ob.URL+"/api/v1/metrics/query", dev, req)
			if code != http.StatusOK {
				t.Fatalf("%s metrics: %d %s", metric, code, body)
			}
			var got map[string][]point
			decode(t, body, &got)
			if !reflect.DeepEqual(got, direct) {
				t.Errorf("%s metrics through the Observer differ from the adapter's:\n%s\n%s", metric, body, last)
			}
			want := map[string][]string{
				"resource": {"cpuUsage", "cpuRequests", "cpuLimits", "memoryUsage", "memoryRequests", "memoryLimits"},
				"http":     {"requestCount", "successfulRequestCount", "unsuccessfulRequestCount", "meanLatency", "latencyP50", "latencyP90", "latencyP99"},
			}[metric]
			for _, k := range want {
				if nonZero(got[k]) == 0 {
					t.Errorf("%s metrics: %s has no non-zero point: %v", metric, k, got[k])
				}
			}
		}
	})

	t.Run("metrics of a project, default step", func(t *testing.T) {
		// Without step the adapter picks one; a project scope sums its
		// components.
		req := with(map[string]any{"metric": "http", "searchScope": map[string]any{"namespace": ns, "project": project}})
		code, body := observertest.Call(t, "POST", ob.URL+"/api/v1/metrics/query", dev, req)
		var got map[string][]point
		decode(t, body, &got)
		if code != http.StatusOK || nonZero(got["requestCount"]) == 0 {
			t.Errorf("project http metrics without step: %d %s", code, body)
		}
	})

	t.Run("runtime topology", func(t *testing.T) {
		req := with(map[string]any{"searchScope": map[string]any{"namespace": ns, "project": project, "environment": env}})
		code, body := observertest.Call(t, "POST", ob.URL+"/api/v1alpha1/metrics/runtime-topology", dev, req)
		if code != http.StatusOK {
			t.Fatalf("runtime topology: %d %s", code, body)
		}
		type topology struct {
			// Nodes stay empty: the Prometheus module lists none either.
			Nodes []map[string]any `json:"nodes"`
			Edges []struct {
				ID             string `json:"id"`
				Source, Target struct {
					Component, ComponentUID string
				}
				Protocol string
				Metrics  map[string]float64
			} `json:"edges"`
		}
		var got, direct topology
		decode(t, body, &got)
		_, dbody := observertest.Call(t, "POST", "http://"+srv.MetricsAdapter+"/api/v1alpha1/metrics/runtime-topology", "",
			with(map[string]any{"searchScope": map[string]any{"namespace": ns, "projectUid": promtest.ProjectUID, "environmentUid": promtest.EnvironmentUID}}))
		decode(t, dbody, &direct)
		if !reflect.DeepEqual(got, direct) {
			t.Errorf("topology through the Observer differs from the adapter's:\n%s\n%s", body, dbody)
		}
		edges := map[string]float64{}
		for _, e := range got.Edges {
			edges[e.Source.Component+"->"+e.Target.Component] = e.Metrics["requestCount"]
			if e.Protocol != "http" || e.Metrics["latencyP99"] <= 0 {
				t.Errorf("edge %s: %+v", e.ID, e)
			}
		}
		if len(edges) != 2 || edges["api->web"] <= 0 || edges["web->api"] <= 0 {
			t.Errorf("topology edges %v: %s", edges, body)
		}
	})

	t.Run("authorization", func(t *testing.T) {
		req := with(map[string]any{"searchScope": scope})
		if code, body := observertest.Call(t, "POST", ob.URL+"/api/v1/logs/query", "", req); code != http.StatusUnauthorized {
			t.Errorf("no token: %d %s", code, body)
		}
		if code, body := observertest.Call(t, "POST", ob.URL+"/api/v1/logs/query", outsider, req); code != http.StatusForbidden {
			t.Errorf("a user of another team: %d %s", code, body)
		}
		var asked []string
		for _, e := range api.Evaluations() {
			asked = append(asked, e.Action+" "+e.Resource.Type+" "+e.Resource.Hierarchy.Namespace+"/"+e.Resource.Hierarchy.Project+"/"+e.Resource.Hierarchy.Component)
		}
		for _, want := range []string{"logs:view component org/shop/api", "traces:view component org/shop/api", "metrics:view component org/shop/api"} {
			if !slices.Contains(asked, want) {
				t.Errorf("the Observer never asked openchoreo-api %q; it asked %v", want, asked)
			}
		}
		if id.Grants() == 0 || !slices.Contains(api.Lookups(), "/api/v1/namespaces/org/components/api") {
			t.Errorf("UID resolution: %d grants, lookups %v", id.Grants(), api.Lookups())
		}
	})

	t.Run("alert rules", func(t *testing.T) {
		rule := func(name, typ string, source map[string]any, threshold float64) map[string]any {
			source["type"] = typ
			return map[string]any{
				"metadata": map[string]any{"name": name, "namespace": ns, "componentUid": promtest.APIUID,
					"projectUid": promtest.ProjectUID, "environmentUid": promtest.EnvironmentUID},
				"source":    source,
				"condition": map[string]any{"enabled": true, "window": "5m", "interval": "1m", "operator": "gt", "threshold": threshold},
			}
		}
		for _, c := range []struct {
			typ, name string
			source    map[string]any
			adapter   string
		}{
			{"log", "api-db-errors", map[string]any{"query": "connection to db lost"}, srv.LogsAdapter},
			{"metric", "api-cpu-high", map[string]any{"metric": "cpu_usage"}, srv.MetricsAdapter},
		} {
			base := ob.InternalURL + "/api/v1alpha1/alerts/sources/" + c.typ + "/rules"
			code, body := observertest.Call(t, "POST", base, "", rule(c.name, c.typ, c.source, 5))
			var sync map[string]any
			decode(t, body, &sync)
			if code != http.StatusCreated && code != http.StatusOK || sync["ruleLogicalId"] != c.name || sync["status"] != "synced" {
				t.Fatalf("create %s rule through the Observer: %d %s", c.typ, code, body)
			}
			// obsplane stored it.
			code, body = observertest.Call(t, "GET", "http://"+c.adapter+"/api/v1alpha1/alerts/rules/"+c.name, "", nil)
			if code != http.StatusOK || !strings.Contains(string(body), promtest.APIUID) {
				t.Fatalf("the %s rule in obsplane: %d %s", c.typ, code, body)
			}
			code, body = observertest.Call(t, "GET", base+"/"+c.name, "", nil)
			var got struct {
				Metadata  map[string]any `json:"metadata"`
				Condition map[string]any `json:"condition"`
			}
			decode(t, body, &got)
			if code != http.StatusOK || got.Metadata["name"] != c.name || got.Condition["threshold"] != float64(5) {
				t.Errorf("get %s rule through the Observer: %d %s", c.typ, code, body)
			}
			code, body = observertest.Call(t, "PUT", base+"/"+c.name, "", rule(c.name, c.typ, c.source, 7))
			if code != http.StatusOK {
				t.Errorf("update %s rule through the Observer: %d %s", c.typ, code, body)
			}
			_, body = observertest.Call(t, "GET", base+"/"+c.name, "", nil)
			decode(t, body, &got)
			if got.Condition["threshold"] != float64(7) {
				t.Errorf("%s rule after the update: %s", c.typ, body)
			}
			if code, body = observertest.Call(t, "DELETE", base+"/"+c.name, "", nil); code != http.StatusOK {
				t.Errorf("delete %s rule through the Observer: %d %s", c.typ, code, body)
			}
			if code, body = observertest.Call(t, "GET", base+"/"+c.name, "", nil); code != http.StatusNotFound {
				t.Errorf("%s rule after delete: %d %s", c.typ, code, body)
			}
		}
	})
	t.Run("fired alert", func(t *testing.T) {
		// The control plane's path: the ObservabilityAlertRule resource
		// (read by the Observer when the alert fires), synced to the logs
		// adapter through the Observer's internal API. obsplane evaluates
		// it and posts the firing to the Observer's webhook; the Observer
		// stores the alert, which the user then lists.
		const name = "api-db-lost"
		kube.PutAlertRule(observertest.AlertRule{Namespace: ns, Name: name, DisplayName: "api lost its database",
			Severity: "critical", Summary: "the api component cannot reach its database",
			Labels: map[string]string{"openchoreo.dev/namespace": ns, "openchoreo.dev/project": project, "openchoreo.dev/component": "api",
				"openchoreo.dev/environment": env, "openchoreo.dev/project-uid": promtest.ProjectUID,
				"openchoreo.dev/component-uid": promtest.APIUID, "openchoreo.dev/environment-uid": promtest.EnvironmentUID},
			Source: "log", Query: "connection to db lost", Window: "10m", Interval: "1m", Operator: "gte", Threshold: 1})
		code, body := observertest.Call(t, "POST", ob.InternalURL+"/api/v1alpha1/alerts/sources/log/rules", "", map[string]any{
			"metadata": map[string]any{"name": name, "namespace": ns, "componentUid": promtest.APIUID,
				"projectUid": promtest.ProjectUID, "environmentUid": promtest.EnvironmentUID},
			"source":    map[string]any{"type": "log", "query": "connection to db lost"},
			"condition": map[string]any{"enabled": true, "window": "10m", "interval": "1m", "operator": "gte", "threshold": 1},
		})
		if code != http.StatusCreated {
			t.Fatalf("create the rule through the Observer: %d %s", code, body)
		}
		req := map[string]any{"searchScope": scope, "startTime": now.Add(-time.Hour).Format(time.RFC3339),
			"endTime": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}
		var got struct {
			Alerts []map[string]any `json:"alerts"`
			Total  int              `json:"total"`
		}
		postUntil(t, "the Observer lists the alert obsplane fired", ob.URL+"/api/v1alpha1/alerts/query", dev, req, &got, func() bool { return len(got.Alerts) > 0 })
		a := got.Alerts[0]
		if a["alertValue"] != "1" {
			t.Errorf("alert value %v, want the 1 matching line: %v", a["alertValue"], a)
		}
		if !slices.Contains(kube.Gets(), ns+"/"+name) {
			t.Errorf("the Observer never read the rule resource: %v", kube.Gets())
		}
		raw, _ := json.Marshal(a)
		for _, want := range []string{"api lost its database", "critical", promtest.APIUID} {
			if !strings.Contains(string(raw), want) {
				t.Errorf("the alert lacks %q: %s", want, raw)
			}
		}
		if code, body := observertest.Call(t, "DELETE", ob.InternalURL+"/api/v1alpha1/alerts/sources/log/rules/"+name, "", nil); code != http.StatusOK {
			t.Errorf("delete: %d %s", code, body)
		}
	})
	if t.Failed() {
		t.Logf("observer log:\n%s", tail(ob.Output(), 200))
		t.Logf("obsplane log:\n%s", tail(srv.Output(), 40))
	}
}

type point struct {
	Timestamp time.Time `json:"timestamp"`
	Value     float64   `json:"value"`
}

func nonZero(ps []point) int {
	n := 0
	for _, p := range ps {
		if p.Value != 0 {
			n++
		}
	}
	return n
}

// sendTelemetry sends, through the gateway, what a cluster's collectors
// send for component api: an OTLP trace (two spans, the child failed) with
// three OTLP log lines, a Kubernetes event about its pod, and a Fluent Bit
// forward record of its pod.
func sendTelemetry(t *testing.T, srv *servetest.Server, now time.Time) pcommon.TraceID {
	t.Helper()
	traceID := pcommon.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	// OpenChoreo's collectors copy the pod's labels onto the resource.
	res := map[string]string{"service.name": "api", "k8s.namespace.name": "dp-org-shop-development-3b7a1c2e",
		"k8s.pod.name": "api-7d9c8b6f5-x2x7k", "openchoreo.dev/namespace": ns, "openchoreo.dev/project": project,
		"openchoreo.dev/project-uid": promtest.ProjectUID, "openchoreo.dev/component": "api",
		"openchoreo.dev/component-uid": promtest.APIUID, "openchoreo.dev/environment": env,
		"openchoreo.dev/environment-uid": promtest.EnvironmentUID}
	// The event as the collector's k8s events receiver and OpenChoreo's
	// enrich processor shape it: the involved object's labels on the
	// resource, the reason an attribute.
	ev := plog.NewResourceLogs()
	for k, v := range map[string]string{"k8s.object.kind": "Pod", "k8s.object.name": "api-7d9c8b6f5-x2x7k",
		"k8s.object.label.openchoreo.dev/namespace": ns, "k8s.object.label.openchoreo.dev/project-uid": promtest.ProjectUID,
		"k8s.object.label.openchoreo.dev/component-uid": promtest.APIUID, "k8s.object.label.openchoreo.dev/environment-uid": promtest.EnvironmentUID,
		"k8s.object.label.openchoreo.dev/component": "api", "k8s.object.label.openchoreo.dev/project": project,
		"k8s.object.label.openchoreo.dev/environment": env} {
		ev.Resource().Attributes().PutStr(k, v)
	}
	er := ev.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	er.SetTimestamp(pcommon.NewTimestampFromTime(now.Add(-90 * time.Second)))
	er.SetSeverityText("Warning")
	er.Body().SetStr("Back-off restarting failed container main")
	er.Attributes().PutStr("k8s.event.reason", "BackOff")
	er.Attributes().PutStr("k8s.namespace.name", "dp-org-shop-development-3b7a1c2e")
	servetest.SendOrderTrace(t, srv.OTLPGRPC, res, traceID, now.Add(-2*time.Minute), 3, ev)
	// Fluent Bit's forward output with the kubernetes filter's record and
	// OpenChoreo's pod labels.
	servetest.SendForward(t, srv.Forward, "kube.var.log.containers.api-7d9c8b6f5-x2x7k.log", now.Add(-time.Minute), map[string]any{
		"log": "ERROR connection to db lost", "stream": "stderr",
		"kubernetes": map[string]any{"pod_name": "api-7d9c8b6f5-x2x7k", "namespace_name": "dp-org-shop-development-3b7a1c2e",
			"container_name": "main", "host": "node-1", "labels": map[string]any{
				"openchoreo.dev/namespace": ns, "openchoreo.dev/project": project, "openchoreo.dev/project-uid": promtest.ProjectUID,
				"openchoreo.dev/component": "api", "openchoreo.dev/component-uid": promtest.APIUID,
				"openchoreo.dev/environment": env, "openchoreo.dev/environment-uid": promtest.EnvironmentUID}},
	}, "observer-1")
	// A workflow run's step: Argo runs it in workflows-<namespace>, the
	// pod named after the run.
	servetest.SendForward(t, srv.Forward, "kube.var.log.containers.build-42-compile-2718281828.log", now.Add(-3*time.Minute), map[string]any{
		"log": "go build ./... ok", "stream": "stdout",
		"kubernetes": map[string]any{"pod_name": "build-42-compile-2718281828", "namespace_name": "workflows-" + ns, "container_name": "main",
			"annotations": map[string]any{"workflows.argoproj.io/node-name": "build-42.compile"}},
	}, "observer-2")
	return traceID
}

func decode(t *testing.T, body []byte, out any) {
	t.Helper()
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatalf("%v: %.500s", err, body)
	}
}

// postUntil posts body to url with token until it answers 200 with an
// answer (decoded into out) for which done holds.
func postUntil(t *testing.T, what, url, token string, body, out any, done func() bool) {
	t.Helper()
	eventually(t, what, func() bool {
		code, b := observertest.Call(t, "POST", url, token, body)
		if code != http.StatusOK {
			t.Logf("%s: %d %s", url, code, b)
			return false
		}
		decode(t, b, out)
		return done()
	})
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(45 * time.Second); !ok(); time.Sleep(300 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
