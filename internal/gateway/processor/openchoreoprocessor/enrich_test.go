package openchoreoprocessor

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"
)

// fluentBitRecord is a record as Fluent Bit's kubernetes filter emits it
// (tail + cri parser + kubernetes filter, Merge_Log Off), after the forward
// receiver moved `log` into the body: every other key is a log attribute.
const fluentBitRecord = `{
  "stream": "stdout",
  "logtag": "F",
  "time": "2025-11-02T10:11:12.123456789Z",
  "fluent.tag": "kube.var.log.containers.reading-list-7d9c8b6f5-x2x7k_dp-default-org-default-project-development-3b7a1c2e_main-0a1b2c.log",
  "kubernetes": {
    "pod_name": "reading-list-7d9c8b6f5-x2x7k",
    "namespace_name": "dp-default-org-default-project-development-3b7a1c2e",
    "pod_id": "8c1d2e3f-4a5b-6c7d-8e9f-0a1b2c3d4e5f",
    "labels": {
      "openchoreo.dev/component": "reading-list",
      "openchoreo.dev/component-uid": "a6b1c2d3-0000-4000-8000-000000000001",
      "openchoreo.dev/environment": "development",
      "openchoreo.dev/environment-uid": "e1e2e3e4-0000-4000-8000-000000000002",
      "openchoreo.dev/project": "default-project",
      "openchoreo.dev/project-uid": "p1p2p3p4-0000-4000-8000-000000000003",
      "openchoreo.dev/namespace": "default-org",
      "pod-template-hash": "7d9c8b6f5"
    },
    "annotations": {"kubectl.kubernetes.io/restartedAt": "2025-11-01T09:00:00Z"},
    "host": "kind-openchoreo-worker",
    "container_name": "main",
    "docker_id": "0a1b2c3d4e5f",
    "container_hash": "registry.local/reading-list@sha256:abcd",
    "container_image": "registry.local/reading-list:v1"
  }
}`

func recordLogs(t testing.TB, body string, attrsJSON string) plog.Logs {
	t.Helper()
	ld := plog.NewLogs()
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.Body().SetStr(body)
	if attrsJSON != "" {
		var raw map[string]any
		if err := json.Unmarshal([]byte(attrsJSON), &raw); err != nil {
			t.Fatal(err)
		}
		if err := lr.Attributes().FromRaw(raw); err != nil {
			t.Fatal(err)
		}
	}
	return ld
}

func resAttrs(ld plog.Logs, i int) map[string]any {
	return ld.ResourceLogs().At(i).Resource().Attributes().AsRaw()
}

func firstRecord(ld plog.Logs) plog.LogRecord {
	return ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
}

var wantReadingList = map[string]string{
	"k8s.pod.name":               "reading-list-7d9c8b6f5-x2x7k",
	"k8s.namespace.name":         "dp-default-org-default-project-development-3b7a1c2e",
	"k8s.container.name":         "main",
	"k8s.node.name":              "kind-openchoreo-worker",
	"k8s.pod.uid":                "8c1d2e3f-4a5b-6c7d-8e9f-0a1b2c3d4e5f",
	"openchoreo.component":       "reading-list",
	"openchoreo.component.uid":   "a6b1c2d3-0000-4000-8000-000000000001",
	"openchoreo.environment":     "development",
	"openchoreo.environment.uid": "e1e2e3e4-0000-4000-8000-000000000002",
	"openchoreo.project":         "default-project",
	"openchoreo.project.uid":     "p1p2p3p4-0000-4000-8000-000000000003",
	"openchoreo.namespace":       "default-org",
	"service.name":               "reading-list",
}

func checkAttrs(t *testing.T, got map[string]any, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("resource[%q] = %v, want %q", k, got[k], v)
		}
	}
}

func TestFluentBitShapes(t *testing.T) {
	cfg := createDefaultConfigStruct()
	cases := []struct {
		name  string
		attrs string
	}{
		{"nested map, labels as OpenChoreo writes them", fluentBitRecord},
		{"nested map, Replace_Dots labels", `{"kubernetes": {
			"pod_name": "reading-list-7d9c8b6f5-x2x7k",
			"namespace_name": "dp-default-org-default-project-development-3b7a1c2e",
			"pod_id": "8c1d2e3f-4a5b-6c7d-8e9f-0a1b2c3d4e5f",
			"host": "kind-openchoreo-worker", "container_name": "main",
			"labels": {
				"openchoreo_dev/component": "reading-list",
				"openchoreo_dev/component-uid": "a6b1c2d3-0000-4000-8000-000000000001",
				"openchoreo_dev/environment": "development",
				"openchoreo_dev/environment-uid": "e1e2e3e4-0000-4000-8000-000000000002",
				"openchoreo_dev/project": "default-project",
				"openchoreo_dev/project-uid": "p1p2p3p4-0000-4000-8000-000000000003",
				"openchoreo_dev/namespace": "default-org"}}}`},
		{"flattened, Replace_Dots labels (an OpenSearch document)", `{
			"kubernetes.pod_name": "reading-list-7d9c8b6f5-x2x7k",
			"kubernetes.namespace_name": "dp-default-org-default-project-development-3b7a1c2e",
			"kubernetes.pod_id": "8c1d2e3f-4a5b-6c7d-8e9f-0a1b2c3d4e5f",
			"kubernetes.host": "kind-openchoreo-worker",
			"kubernetes.container_name": "main",
			"kubernetes.labels.openchoreo_dev/component": "reading-list",
			"kubernetes.labels.openchoreo_dev/component-uid": "a6b1c2d3-0000-4000-8000-000000000001",
			"kubernetes.labels.openchoreo_dev/environment": "development",
			"kubernetes.labels.openchoreo_dev/environment-uid": "e1e2e3e4-0000-4000-8000-000000000002",
			"kubernetes.labels.openchoreo_dev/project": "default-project",
			"kubernetes.labels.openchoreo_dev/project-uid": "p1p2p3p4-0000-4000-8000-000000000003",
			"kubernetes.labels.openchoreo_dev/namespace": "default-org"}`},
		{"flattened, dotted labels", `{
			"kubernetes.pod_name": "reading-list-7d9c8b6f5-x2x7k",
			"kubernetes.namespace_name": "dp-default-org-default-project-development-3b7a1c2e",
			"kubernetes.pod_id": "8c1d2e3f-4a5b-6c7d-8e9f-0a1b2c3d4e5f",
			"kubernetes.host": "kind-openchoreo-worker",
			"kubernetes.container_name": "main",
			"kubernetes.labels.openchoreo.dev/component": "reading-list",
			"kubernetes.labels.openchoreo.dev/component-uid": "a6b1c2d3-0000-4000-8000-000000000001",
			"kubernetes.labels.openchoreo.dev/environment": "development",
			"kubernetes.labels.openchoreo.dev/environment-uid": "e1e2e3e4-0000-4000-8000-000000000002",
			"kubernetes.labels.openchoreo.dev/project": "default-project",
			"kubernetes.labels.openchoreo.dev/project-uid": "p1p2p3p4-0000-4000-8000-000000000003",
			"kubernetes.labels.openchoreo.dev/namespace": "default-org"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ld := EnrichLogs(recordLogs(t, "2025/11/02 10:11:12 listening on :8080", tc.attrs), cfg)
			if ld.ResourceLogs().Len() != 1 || ld.LogRecordCount() != 1 {
				t.Fatalf("got %d resources, %d records", ld.ResourceLogs().Len(), ld.LogRecordCount())
			}
			checkAttrs(t, resAttrs(ld, 0), wantReadingList)
			for k := range firstRecord(ld).Attributes().AsRaw() {
				if k == "kubernetes" || len(k) > 11 && k[:11] == "kubernetes." {
					t.Errorf("record still carries %q", k)
				}
			}
		})
	}
}

func TestFullRecordKeepsEverything(t *testing.T) {
	ld := EnrichLogs(recordLogs(t, "hello", fluentBitRecord), createDefaultConfigStruct())
	got := resAttrs(ld, 0)
	for k, v := range map[string]string{
		"k8s.pod.label.openchoreo.dev/component":               "reading-list",
		"k8s.pod.label.pod-template-hash":                      "7d9c8b6f5",
		"k8s.pod.annotation.kubectl.kubernetes.io/restartedAt": "2025-11-01T09:00:00Z",
		"container.id":              "0a1b2c3d4e5f",
		"container.image.name":      "registry.local/reading-list:v1",
		"kubernetes.container_hash": "registry.local/reading-list@sha256:abcd",
	} {
		if got[k] != v {
			t.Errorf("resource[%q] = %v, want %q", k, got[k], v)
		}
	}
	rec := firstRecord(ld).Attributes().AsRaw()
	if rec["stream"] != "stdout" || rec["fluent.tag"] == nil {
		t.Errorf("non-kubernetes record attributes must stay: %v", rec)
	}

	keep := createDefaultConfigStruct()
	keep.KeepKubernetesRecord = true
	ld = EnrichLogs(recordLogs(t, "hello", fluentBitRecord), keep)
	if _, ok := firstRecord(ld).Attributes().Get("kubernetes"); !ok {
		t.Error("keep_kubernetes_record: the kubernetes map was removed")
	}
}

func TestOTLPResourceLabels(t *testing.T) {
	cfg := createDefaultConfigStruct()
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	r := rl.Resource().Attributes()
	r.PutStr("k8s.pod.name", "api-0")
	r.PutStr("k8s.pod.label.openchoreo.dev/component", "api")
	r.PutStr("k8s.pod.labels.openchoreo.dev/project-uid", "p-uid")
	r.PutStr("openchoreo.dev/environment", "prod")
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.Body().SetStr("ok")
	lr.SetSeverityNumber(plog.SeverityNumberWarn)
	lr.SetSeverityText("WARN")
	ld = EnrichLogs(ld, cfg)
	checkAttrs(t, resAttrs(ld, 0), map[string]string{
		"k8s.pod.name": "api-0", "openchoreo.component": "api", "openchoreo.project.uid": "p-uid",
		"openchoreo.environment": "prod", "service.name": "api",
	})
	if firstRecord(ld).SeverityText() != "WARN" {
		t.Error("source severity must be kept")
	}

	// An explicit service.name and explicit resource attributes win.
	ld = recordLogs(t, "x", fluentBitRecord)
	ld.ResourceLogs().At(0).Resource().Attributes().PutStr("service.name", "svc")
	ld.ResourceLogs().At(0).Resource().Attributes().PutStr("k8s.node.name", "node-a")
	ld = EnrichLogs(ld, cfg)
	checkAttrs(t, resAttrs(ld, 0), map[string]string{"service.name": "svc", "k8s.node.name": "node-a"})

	// Traces get the resource-level part.
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty().Resource().Attributes()
	rs.PutStr("k8s.pod.label.openchoreo_dev/component-uid", "c-uid")
	rs.PutStr("k8s.pod.label.openchoreo.dev/component", "web")
	EnrichResource(rs, cfg)
	if v, _ := rs.Get("openchoreo.component.uid"); v.Str() != "c-uid" {
		t.Errorf("trace resource: %v", rs.AsRaw())
	}
	if v, _ := rs.Get("service.name"); v.Str() != "web" {
		t.Errorf("trace resource service.name: %v", rs.AsRaw())
	}
}

func TestRegroupsMixedPods(t *testing.T) {
	// One forward chunk from a node carries many pods' lines under one
	// (empty) resource; each pod must end up under its own resource, in
	// order, with nothing lost.
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("host.name", "collector")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("fluentforward")
	pods := []string{"a", "b", "a", "c", "b", "a"}
	for i, p := range pods {
		lr := sl.LogRecords().AppendEmpty()
		lr.Body().SetStr(p + string(rune('0'+i)))
		k := lr.Attributes().PutEmptyMap("kubernetes")
		k.PutStr("pod_name", "pod-"+p)
		k.PutEmptyMap("labels").PutStr("openchoreo.dev/component", "comp-"+p)
	}
	out := EnrichLogs(ld, createDefaultConfigStruct())
	if out.LogRecordCount() != len(pods) {
		t.Fatalf("records: got %d want %d", out.LogRecordCount(), len(pods))
	}
	if out.ResourceLogs().Len() != 3 {
		t.Fatalf("resources: got %d want 3", out.ResourceLogs().Len())
	}
	wantBodies := map[string]string{"pod-a": "a0a2a5", "pod-b": "b1b4", "pod-c": "c3"}
	for i := 0; i < out.ResourceLogs().Len(); i++ {
		rl := out.ResourceLogs().At(i)
		attrs := rl.Resource().Attributes().AsRaw()
		pod := attrs["k8s.pod.name"].(string)
		if attrs["host.name"] != "collector" || attrs["service.name"] != "comp-"+pod[4:] {
			t.Errorf("resource %d: %v", i, attrs)
		}
		if rl.ScopeLogs().At(0).Scope().Name() != "fluentforward" {
			t.Errorf("scope lost")
		}
		got := ""
		recs := rl.ScopeLogs().At(0).LogRecords()
		for j := 0; j < recs.Len(); j++ {
			got += recs.At(j).Body().Str()
		}
		if got != wantBodies[pod] {
			t.Errorf("%s bodies %q want %q", pod, got, wantBodies[pod])
		}
	}
}

func TestLogAttributeMovesToBody(t *testing.T) {
	ld := recordLogs(t, "", `{"log": "ERROR boom", "stream": "stderr"}`)
	ld = EnrichLogs(ld, createDefaultConfigStruct())
	lr := firstRecord(ld)
	if lr.Body().Str() != "ERROR boom" {
		t.Errorf("body %q", lr.Body().Str())
	}
	if _, ok := lr.Attributes().Get("log"); ok {
		t.Error("log attribute still present")
	}
	if lr.SeverityText() != "ERROR" || lr.SeverityNumber() != plog.SeverityNumberError {
		t.Errorf("severity %s/%d", lr.SeverityText(), lr.SeverityNumber())
	}
	// A body already set is not replaced.
	ld = recordLogs(t, "body", `{"log": "attr"}`)
	if b := firstRecord(EnrichLogs(ld, createDefaultConfigStruct())).Body().Str(); b != "body" {
		t.Errorf("body replaced: %q", b)
	}
}

func TestSeverityFromLine(t *testing.T) {
	cases := []struct{ line, attrs, want string }{
		{`{"level":"error","msg":"db down"}`, "", "ERROR"},
		{`{"severity":"WARNING","message":"slow"}`, "", "WARN"},
		{`{"ts":1,"lvl":"dbug"}`, "", "DEBUG"},
		{`{"@l":"Fatal","@mt":"x"}`, "", "FATAL"},
		{`time=2025-01-01T00:00:00Z level=warn msg="disk 91%"`, "", "WARN"},
		{`level=info error="<nil>"`, "", "INFO"},
		{`ts=1 level=banana`, "", "INFO"},
		{`2025-11-02 10:11:12.123 ERROR 1 --- [main] o.s.boot.SpringApplication : failed`, "", "ERROR"},
		{`[WARN] retrying in 5s`, "", "WARN"},
		{`WARNING: deprecated flag`, "", "WARN"},
		{`FATAL: could not bind`, "", "FATAL"},
		{`SEVERE: Servlet threw exception`, "", "SEVERE"},
		{`DEBUG cache miss key=42`, "", "DEBUG"},
		{`INFO  Started in 2.1s`, "", "INFO"},
		{`E0501 12:34:56.789012    1 reflector.go:138] watch failed`, "", "ERROR"},
		{`W0501 12:34:56.789012    1 warnings.go:70] deprecated`, "", "WARN"},
		{`I0501 12:34:56.789012    1 leaderelection.go:248] acquired`, "", "INFO"},
		{`error=nil count=3 done`, "", "INFO"}, // a key, not a level -> default
		{`GET /healthz 200 3ms`, "", "INFO"},   // nothing -> default
		{`no errors here`, "", "INFO"},         // ERRORS is not the word ERROR
		{`plain line`, `{"level": "error"}`, "ERROR"},
	}
	cfg := createDefaultConfigStruct()
	for _, tc := range cases {
		ld := EnrichLogs(recordLogs(t, tc.line, tc.attrs), cfg)
		lr := firstRecord(ld)
		if lr.SeverityText() != tc.want || lr.SeverityNumber() != severityNumbers[tc.want] {
			t.Errorf("%q: got %s/%d want %s", tc.line, lr.SeverityText(), lr.SeverityNumber(), tc.want)
		}
	}

	noDefault := createDefaultConfigStruct()
	noDefault.DefaultSeverity = ""
	lr := firstRecord(EnrichLogs(recordLogs(t, "GET / 200", ""), noDefault))
	if lr.SeverityNumber() != 0 || lr.SeverityText() != "" {
		t.Errorf("no default: got %s/%d", lr.SeverityText(), lr.SeverityNumber())
	}

	// Text without number: the number is filled in from the text.
	ld := recordLogs(t, "x", "")
	firstRecord(ld).SetSeverityText("warning")
	lr = firstRecord(EnrichLogs(ld, cfg))
	if lr.SeverityNumber() != plog.SeverityNumberWarn || lr.SeverityText() != "warning" {
		t.Errorf("text-only severity: %s/%d", lr.SeverityText(), lr.SeverityNumber())
	}
}

func TestConfigValidate(t *testing.T) {
	c := createDefaultConfigStruct()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	c.DefaultSeverity = "loud"
	if err := c.Validate(); err == nil {
		t.Fatal("want error for unknown default_severity")
	}
	c.DefaultSeverity = ""
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestFactoryPipeline(t *testing.T) {
	f := NewFactory()
	sink := new(consumertest.LogsSink)
	p, err := f.CreateLogs(context.Background(), processortest.NewNopSettings(Type), f.CreateDefaultConfig(), sink)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	if err := p.ConsumeLogs(context.Background(), recordLogs(t, "level=error x", fluentBitRecord)); err != nil {
		t.Fatal(err)
	}
	got := sink.AllLogs()
	if len(got) != 1 {
		t.Fatalf("sink got %d", len(got))
	}
	checkAttrs(t, resAttrs(got[0], 0), wantReadingList)
	if firstRecord(got[0]).SeverityText() != "ERROR" {
		t.Error("severity")
	}
	if !p.Capabilities().MutatesData {
		t.Error("processor mutates data and must say so")
	}
	for _, create := range []func() error{
		func() error {
			_, err := f.CreateTraces(context.Background(), processortest.NewNopSettings(Type), f.CreateDefaultConfig(), new(consumertest.TracesSink))
			return err
		},
		func() error {
			_, err := f.CreateMetrics(context.Background(), processortest.NewNopSettings(Type), f.CreateDefaultConfig(), new(consumertest.MetricsSink))
			return err
		},
	} {
		if err := create(); err != nil {
			t.Fatal(err)
		}
	}
}

// FuzzEnrich feeds arbitrary bodies and attribute trees (as JSON) through the
// enrichment: it must never panic, never lose or add a record, and every
// record with a pod name must end up under a resource that has it.
func FuzzEnrich(f *testing.F) {
	f.Add("level=error boom", []byte(fluentBitRecord))
	f.Add("", []byte(`{"log":"WARN x","kubernetes.labels.openchoreo_dev/component":"c"}`))
	f.Add("E0101 00:00:00 x", []byte(`{"kubernetes":{"labels":"notamap","annotations":[1,2]}}`))
	f.Add(`{"level":`, []byte(`{"kubernetes":{"pod_name":{"nested":true}},"kubernetes.":"x","kubernetes.labels.":"y"}`))
	trusted := createDefaultConfigStruct()
	trusted.LabelSources = []string{SourceKubernetesRecord}
	f.Fuzz(func(t *testing.T, body string, attrs []byte) {
		cfg := createDefaultConfigStruct()
		if len(body)%2 == 1 {
			cfg = trusted
		}
		ld := plog.NewLogs()
		sl := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
		var raw map[string]any
		_ = json.Unmarshal(attrs, &raw)
		for i := 0; i < 3; i++ {
			lr := sl.LogRecords().AppendEmpty()
			lr.Body().SetStr(body)
			if raw != nil {
				_ = lr.Attributes().FromRaw(raw)
			}
			if i == 1 {
				lr.Attributes().PutEmptyMap("kubernetes").PutStr("pod_name", "other")
			}
		}
		out := EnrichLogs(ld, cfg)
		if out.LogRecordCount() != 3 {
			t.Fatalf("record count %d", out.LogRecordCount())
		}
		for i := 0; i < out.ResourceLogs().Len(); i++ {
			rl := out.ResourceLogs().At(i)
			for j := 0; j < rl.ScopeLogs().Len(); j++ {
				recs := rl.ScopeLogs().At(j).LogRecords()
				for k := 0; k < recs.Len(); k++ {
					if recs.At(k).SeverityNumber() == 0 {
						t.Fatal("severity not set despite default INFO")
					}
				}
			}
		}
	})
}

// TestLabelSourcesDropSpoofedLabels: without the "resource" source, tenant
// labels a sender set itself are removed and replaced by those of the
// trusted sources, on logs, traces and metrics.
func TestLabelSourcesDropSpoofedLabels(t *testing.T) {
	forward := createDefaultConfigStruct()
	forward.LabelSources = []string{SourceKubernetesRecord}
	otlp := createDefaultConfigStruct()
	otlp.LabelSources = []string{SourcePodLabels}
	if err := forward.Validate(); err != nil {
		t.Fatal(err)
	}

	spoof := func(m interface{ PutStr(string, string) }) {
		m.PutStr("openchoreo.namespace", "ns-b")
		m.PutStr("openchoreo.project", "bank")
		m.PutStr("openchoreo.dev/namespace", "ns-b")
		m.PutStr("openchoreo_dev/namespace", "ns-b")
	}

	// Forward: the kubernetes filter's nested map is believed; a spoofed
	// resource and flattened record keys (an app's merged JSON) are not.
	ld := recordLogs(t, "x", fluentBitRecord)
	spoof(ld.ResourceLogs().At(0).Resource().Attributes())
	lr := firstRecord(ld)
	lr.Attributes().PutStr("kubernetes.labels.openchoreo.dev/namespace", "ns-b")
	ld = EnrichLogs(ld, forward)
	got := resAttrs(ld, 0)
	checkAttrs(t, got, wantReadingList)
	for _, k := range []string{"openchoreo.project", "openchoreo.dev/namespace", "openchoreo_dev/namespace"} {
		if v, ok := got[k]; ok && v != wantReadingList[k] {
			t.Errorf("forward: spoofed %s=%v kept", k, v)
		}
	}

	// Forward, only flattened keys (no nested map): no tenant at all.
	ld = recordLogs(t, "x", `{"kubernetes.pod_name":"p","kubernetes.labels.openchoreo.dev/namespace":"ns-b"}`)
	ld = EnrichLogs(ld, forward)
	if v, ok := resAttrs(ld, 0)["openchoreo.namespace"]; ok {
		t.Errorf("forward: tenant from flattened record keys: %v", v)
	}

	// OTLP: pod labels (k8sattributes) are believed, the rest dropped,
	// including a kubernetes record the sender put on a log record.
	ld = recordLogs(t, "x", fluentBitRecord)
	res := ld.ResourceLogs().At(0).Resource().Attributes()
	spoof(res)
	res.PutStr("k8s.pod.label.openchoreo.dev/namespace", "ns-a")
	ld = EnrichLogs(ld, otlp)
	got = resAttrs(ld, 0)
	if got["openchoreo.namespace"] != "ns-a" || got["openchoreo.project"] != nil || got["openchoreo.dev/namespace"] != nil || got["openchoreo.component"] != nil {
		t.Errorf("otlp logs: %v", got)
	}

	// Traces and metrics: the same for their resources.
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty().Resource().Attributes()
	spoof(rs)
	EnrichResource(rs, otlp)
	for _, k := range []string{"openchoreo.namespace", "openchoreo.project", "openchoreo.dev/namespace", "openchoreo_dev/namespace"} {
		if v, ok := rs.Get(k); ok {
			t.Errorf("otlp trace: spoofed %s=%s kept", k, v.AsString())
		}
	}
	rs.PutStr("k8s.pod.labels.openchoreo.dev/namespace", "ns-a")
	EnrichResource(rs, otlp)
	if v, _ := rs.Get("openchoreo.namespace"); v.Str() != "ns-a" {
		t.Errorf("otlp trace from pod labels: %v", rs.AsRaw())
	}

	// Pod-label keys are themselves dropped when that source is not
	// trusted (the forward pipeline), so no later hop believes them.
	rs = ptrace.NewTraces().ResourceSpans().AppendEmpty().Resource().Attributes()
	rs.PutStr("k8s.pod.label.openchoreo.dev/namespace", "ns-b")
	rs.PutStr("k8s.pod.label.app", "web")
	EnrichResource(rs, forward)
	if _, ok := rs.Get("k8s.pod.label.openchoreo.dev/namespace"); ok {
		t.Errorf("untrusted pod label kept: %v", rs.AsRaw())
	}
	if v, _ := rs.Get("k8s.pod.label.app"); v.Str() != "web" {
		t.Errorf("a non-tenant pod label was dropped: %v", rs.AsRaw())
	}

	// The default trusts the sender, as before.
	ld = recordLogs(t, "x", "")
	spoof(ld.ResourceLogs().At(0).Resource().Attributes())
	ld = EnrichLogs(ld, createDefaultConfigStruct())
	if resAttrs(ld, 0)["openchoreo.namespace"] != "ns-b" {
		t.Errorf("default: %v", resAttrs(ld, 0))
	}

	bad := createDefaultConfigStruct()
	bad.LabelSources = []string{"headers"}
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "headers") {
		t.Fatalf("unknown source: %v", err)
	}
}
