package opensearch

import (
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/openchoreo/obsplane/internal/gateway/processor/openchoreoprocessor"
)

// fluentBitDoc is the document of docs/OPENSEARCH.md, as Fluent Bit writes it.
const fluentBitDoc = `{
  "@timestamp": "2025-12-01T10:00:00.123Z",
  "log": "level=error msg=\"payment failed\"",
  "stream": "stdout",
  "time": "2025-12-01T10:00:00.123456789Z",
  "kubernetes": {
    "pod_name": "checkout-7d9f-abcde",
    "namespace_name": "dp-default-shop-dev-1a2b3c",
    "pod_id": "3f1c7a2e-0000-4000-8000-000000000001", "host": "node-1",
    "container_name": "main", "docker_id": "d0c4e5", "container_image": "reg/checkout:1",
    "labels": {
      "openchoreo_dev/component-uid": "c-uid", "openchoreo_dev/environment-uid": "e-uid",
      "openchoreo_dev/project-uid": "p-uid", "openchoreo_dev/component": "checkout",
      "openchoreo_dev/environment": "dev", "openchoreo_dev/project": "shop",
      "openchoreo_dev/namespace": "default", "app_kubernetes_io/name": "checkout", "tier_x": "a.b"
    },
    "annotations": { "workflows_argoproj_io/node-name": "build-1.step" }
  }
}`

func fluentBitRecord() LogRecord {
	return LogRecord{
		Timestamp:   time.Date(2025, 12, 1, 10, 0, 0, 123456789, time.UTC),
		Body:        `level=error msg="payment failed"`,
		ServiceName: "checkout",
		ResourceAttributes: map[string]string{
			"k8s.pod.name":         "checkout-7d9f-abcde",
			"k8s.namespace.name":   "dp-default-shop-dev-1a2b3c",
			"k8s.pod.uid":          "3f1c7a2e-0000-4000-8000-000000000001",
			"k8s.node.name":        "node-1",
			"k8s.container.name":   "main",
			"container.id":         "d0c4e5",
			"container.image.name": "reg/checkout:1",
			"k8s.pod.label.openchoreo.dev/component-uid":         "c-uid",
			"k8s.pod.label.openchoreo.dev/environment-uid":       "e-uid",
			"k8s.pod.label.openchoreo.dev/project-uid":           "p-uid",
			"k8s.pod.label.openchoreo.dev/component":             "checkout",
			"k8s.pod.label.openchoreo.dev/environment":           "dev",
			"k8s.pod.label.openchoreo.dev/project":               "shop",
			"k8s.pod.label.openchoreo.dev/namespace":             "default",
			"k8s.pod.label.app.kubernetes.io/name":               "checkout",
			"k8s.pod.label.tier_x":                               "a.b",
			"k8s.pod.annotation.workflows.argoproj.io/node-name": "build-1.step",
			"openchoreo.component.uid":                           "c-uid",
			"openchoreo.environment.uid":                         "e-uid",
			"openchoreo.project.uid":                             "p-uid",
			"openchoreo.component":                               "checkout",
			"openchoreo.environment":                             "dev",
			"openchoreo.project":                                 "shop",
			"openchoreo.namespace":                               "default",
			"service.name":                                       "checkout",
		},
		LogAttributes: map[string]string{"log.iostream": "stdout"},
	}
}

func TestDecodeLogDocument(t *testing.T) {
	base := func(mod func(*LogRecord)) LogRecord {
		r := LogRecord{Timestamp: time.Date(2025, 12, 1, 10, 0, 0, 0, time.UTC), Body: "x",
			ResourceAttributes: map[string]string{}, LogAttributes: map[string]string{}}
		if mod != nil {
			mod(&r)
		}
		return r
	}
	for _, tc := range []struct {
		name, doc string
		want      LogRecord
		err       string
	}{
		{name: "fluent bit document", doc: fluentBitDoc, want: fluentBitRecord()},
		{name: "epoch millis number", doc: `{"@timestamp": 1764583200000, "log": "x"}`, want: base(nil)},
		{name: "epoch millis string", doc: `{"@timestamp": "1764583200000", "log": "x"}`, want: base(nil)},
		{name: "no zone is UTC", doc: `{"@timestamp": "2025-12-01T10:00:00", "log": "x"}`, want: base(nil)},
		{name: "offset converted to UTC", doc: `{"@timestamp": "2025-12-01T15:30:00+05:30", "log": "x"}`, want: base(nil)},
		{name: "disagreeing time is kept as an attribute",
			doc:  `{"@timestamp": "2025-12-01T10:00:00.000Z", "time": "2025-12-01T09:59:58.5Z", "log": "x"}`,
			want: base(func(r *LogRecord) { r.LogAttributes["time"] = "2025-12-01T09:59:58.5Z" })},
		{name: "unparseable time is kept as an attribute",
			doc:  `{"@timestamp": "2025-12-01T10:00:00Z", "time": 17, "log": "x"}`,
			want: base(func(r *LogRecord) { r.LogAttributes["time"] = "17" })},
		{name: "non-string log becomes JSON text", doc: `{"@timestamp": "2025-12-01T10:00:00Z", "log": {"a": [1, true]}}`,
			want: base(func(r *LogRecord) { r.Body = `{"a":[1,true]}` })},
		{name: "numeric log keeps its spelling", doc: `{"@timestamp": "2025-12-01T10:00:00Z", "log": 1e400}`,
			want: base(func(r *LogRecord) { r.Body = "1e400" })},
		{name: "missing log is an empty body", doc: `{"@timestamp": "2025-12-01T10:00:00Z"}`,
			want: base(func(r *LogRecord) { r.Body = "" })},
		{name: "unknown fields become dotted attributes",
			doc: `{"@timestamp": "2025-12-01T10:00:00Z", "log": "x", "_p": "F", "extra": {"a": {"b": 1}, "c": [1, 2], "n": null}, "kubernetes": {"container_hash": "sha", "weird": {"x": "y"}}}`,
			want: base(func(r *LogRecord) {
				r.LogAttributes["_p"] = "F"
				r.LogAttributes["extra.a.b"] = "1"
				r.LogAttributes["extra.c"] = "[1,2]"
				r.ResourceAttributes["kubernetes.container_hash"] = "sha"
				r.ResourceAttributes["kubernetes.weird.x"] = "y"
			})},
		{name: "empty label values give no tenant attribute",
			doc:  `{"@timestamp": "2025-12-01T10:00:00Z", "log": "x", "kubernetes": {"labels": {"openchoreo_dev/component": "", "": "v", "n": null}}}`,
			want: base(func(r *LogRecord) { r.ResourceAttributes["k8s.pod.label.openchoreo.dev/component"] = "" })},
		{name: "scalar kubernetes fields are text",
			doc: `{"@timestamp": "2025-12-01T10:00:00Z", "log": "x", "stream": 1, "kubernetes": {"pod_name": 42, "host": true}}`,
			want: base(func(r *LogRecord) {
				r.LogAttributes["log.iostream"] = "1"
				r.ResourceAttributes["k8s.pod.name"] = "42"
				r.ResourceAttributes["k8s.node.name"] = "true"
			})},
		{name: "otel object", doc: `{"@timestamp": "2025-12-01T10:00:00Z", "log": "x", "otel": {"severity_text": "WARN", "severity_number": 13,
			"trace_id": "0102", "span_id": "03", "service_name": "svc", "scope_name": "sc",
			"resource": [{"k": "deployment.environment.name", "v": "prod"}], "attributes": [{"k": "user.id", "v": "7"}]}}`,
			want: base(func(r *LogRecord) {
				r.SeverityText, r.SeverityNumber, r.TraceID, r.SpanID, r.ServiceName, r.ScopeName = "WARN", 13, "0102", "03", "svc", "sc"
				r.ResourceAttributes["deployment.environment.name"] = "prod"
				r.ResourceAttributes["service.name"] = "svc"
				r.LogAttributes["user.id"] = "7"
			})},
		{name: "null document", doc: `null`, err: "not a JSON object"},
		{name: "array document", doc: `[1]`, err: "not a JSON object"},
		{name: "truncated document", doc: `{"@timestamp": "2025`, err: "not a JSON object"},
		{name: "trailing data", doc: `{"@timestamp": "2025-12-01T10:00:00Z"} {}`, err: "trailing data"},
		{name: "no timestamp", doc: `{"log": "x"}`, err: `no "@timestamp"`},
		{name: "null timestamp", doc: `{"@timestamp": null}`, err: `no "@timestamp"`},
		{name: "bad timestamp", doc: `{"@timestamp": "yesterday"}`, err: "not an RFC 3339"},
		{name: "object timestamp", doc: `{"@timestamp": {}}`, err: "object is not a date"},
		{name: "huge epoch", doc: `{"@timestamp": 1e300}`, err: "out of range"},
		{name: "year 1800", doc: `{"@timestamp": "1800-01-01T00:00:00Z"}`, err: "outside 1900..2262"},
		{name: "kubernetes is a string", doc: `{"@timestamp": "2025-12-01T10:00:00Z", "kubernetes": "pod"}`, err: `"kubernetes" is a string`},
		{name: "labels is a list", doc: `{"@timestamp": "2025-12-01T10:00:00Z", "kubernetes": {"labels": []}}`, err: "kubernetes.labels is a list"},
		{name: "otel severity out of range", doc: `{"@timestamp": "2025-12-01T10:00:00Z", "otel": {"severity_number": 300}}`, err: "severity number"},
		{name: "otel resource not a list", doc: `{"@timestamp": "2025-12-01T10:00:00Z", "otel": {"resource": {"a": "b"}}}`, err: "want a list"},
		{name: "otel resource entry without k", doc: `{"@timestamp": "2025-12-01T10:00:00Z", "otel": {"resource": [{"v": "b"}]}}`, err: "no string k"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeLogDocument([]byte(tc.doc))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one containing %q", err, tc.err)
				}
				if !errors.Is(err, ErrLogDocument) {
					t.Errorf("err %v does not wrap ErrLogDocument", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			assertRecord(t, got, tc.want)
		})
	}
}

func assertRecord(t *testing.T, got, want LogRecord) {
	t.Helper()
	if !got.Timestamp.Equal(want.Timestamp) {
		t.Errorf("Timestamp = %s, want %s", got.Timestamp.Format(time.RFC3339Nano), want.Timestamp.Format(time.RFC3339Nano))
	}
	scalars := func(r LogRecord) [7]any {
		return [7]any{r.TraceID, r.SpanID, r.SeverityText, r.SeverityNumber, r.ServiceName, r.Body, r.ScopeName}
	}
	if g, w := scalars(got), scalars(want); g != w {
		t.Errorf("scalar columns = %+v, want %+v", g, w)
	}
	diffMap(t, "ResourceAttributes", got.ResourceAttributes, want.ResourceAttributes)
	diffMap(t, "LogAttributes", got.LogAttributes, want.LogAttributes)
}

func diffMap(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if gv, ok := got[k]; !ok || gv != v {
			t.Errorf("%s[%q] = %q (present %v), want %q", what, k, gv, ok, v)
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s has unexpected %q = %q", what, k, v)
		}
	}
}

func canonicalJSON(t testing.TB, b []byte) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	out, _ := json.Marshal(v)
	return string(out)
}

func TestEncodeLogDocumentIsFluentBitsDocument(t *testing.T) {
	// The Fluent Bit document -> row -> document gives the same document:
	// the dual-written line is what Fluent Bit would have written.
	rec, err := DecodeLogDocument([]byte(fluentBitDoc))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := EncodeLogDocument(rec)
	if err != nil {
		t.Fatal(err)
	}
	if g, w := canonicalJSON(t, doc), canonicalJSON(t, []byte(fluentBitDoc)); g != w {
		t.Errorf("document -> row -> document changed it\n got: %s\nwant: %s", g, w)
	}
	again, _ := EncodeLogDocument(rec)
	if string(again) != string(doc) {
		t.Error("encoding the same row twice gave different bytes (the document id depends on them)")
	}
}

func TestEncodeLogDocument(t *testing.T) {
	ts := time.Date(2026, 3, 4, 5, 6, 7, 890123456, time.UTC)
	for _, tc := range []struct {
		name string
		rec  LogRecord
		want string
	}{
		{
			name: "otlp row with tenant attributes only gets the OpenChoreo labels",
			rec: LogRecord{Timestamp: ts, Body: "GET /x <200> & done", SeverityText: "INFO", SeverityNumber: 9,
				TraceID: "0af7651916cd43dd8448eb211c80319c", SpanID: "b7ad6b7169203331", ServiceName: "api",
				ResourceAttributes: map[string]string{"service.name": "api", "k8s.pod.name": "api-1", "k8s.namespace.name": "dp-ns",
					"openchoreo.namespace": "acme", "openchoreo.component.uid": "c-1", "openchoreo.dev/project-uid": "p-1", "telemetry.sdk.name": "go"},
				LogAttributes: map[string]string{"log.iostream": "stderr", "http.status": "200"}},
			want: `{"@timestamp":"2026-03-04T05:06:07.890Z","log":"GET /x <200> & done","stream":"stderr","time":"2026-03-04T05:06:07.890123456Z",` +
				`"kubernetes":{"labels":{"openchoreo_dev/component-uid":"c-1","openchoreo_dev/namespace":"acme","openchoreo_dev/project-uid":"p-1"},"namespace_name":"dp-ns","pod_name":"api-1"},` +
				`"otel":{"severity_text":"INFO","severity_number":9,"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331","service_name":"api",` +
				`"resource":[{"k":"openchoreo.component.uid","v":"c-1"},{"k":"openchoreo.dev/project-uid","v":"p-1"},{"k":"openchoreo.namespace","v":"acme"},{"k":"telemetry.sdk.name","v":"go"}],` +
				`"attributes":[{"k":"http.status","v":"200"}]}}`,
		},
		{
			name: "forward row keeps stream under its Fluent Bit name",
			rec:  LogRecord{Timestamp: ts, Body: "b", LogAttributes: map[string]string{"stream": "stdout"}},
			want: `{"@timestamp":"2026-03-04T05:06:07.890Z","log":"b","stream":"stdout","time":"2026-03-04T05:06:07.890123456Z"}`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := EncodeLogDocument(tc.rec)
			if err != nil {
				t.Fatal(err)
			}
			if string(doc) != tc.want {
				t.Errorf("document\n got: %s\nwant: %s", doc, tc.want)
			}
		})
	}
	if _, err := EncodeLogDocument(LogRecord{}); err == nil {
		t.Error("zero timestamp: want an error")
	}
}

// TestRowDocumentRowKeepsColumns: row -> document -> row keeps every column
// the queries read (the materialized tenant columns included) and every
// attribute; it may add the labels the tenant attributes imply.
func TestRowDocumentRowKeepsColumns(t *testing.T) {
	rec := LogRecord{Timestamp: time.Date(2026, 3, 4, 5, 6, 7, 890123456, time.UTC), Body: "line\nwith\ttabs \"q\" ü",
		SeverityText: "WARN", SeverityNumber: 13, TraceID: "0af7651916cd43dd8448eb211c80319c", SpanID: "b7ad6b7169203331",
		ServiceName: "other-svc", ScopeName: "scope",
		ResourceAttributes: map[string]string{"service.name": "other-svc", "k8s.pod.name": "p", "k8s.pod.label.a.b/c.d": "v",
			"openchoreo.namespace": "acme", "openchoreo.component": "api", "openchoreo.environment.uid": "e-1", "k8s.pod.annotation.x.io/y": "z",
			"kubernetes.container_hash": "h", "a": "1", "a.b": "2"},
		LogAttributes: map[string]string{"log.iostream": "stdout", "stream": "x", "k": "v"}}
	doc, err := EncodeLogDocument(rec)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeLogDocument(doc)
	if err != nil {
		t.Fatalf("decode %s: %v", doc, err)
	}
	want := rec
	want.ResourceAttributes = maps.Clone(rec.ResourceAttributes)
	// Implied labels, and the one dotted label name Replace_Dots cannot
	// restore (a.b/c.d -> a_b/c_d -> a.b/c_d).
	delete(want.ResourceAttributes, "k8s.pod.label.a.b/c.d")
	want.ResourceAttributes["k8s.pod.label.a.b/c_d"] = "v"
	want.ResourceAttributes["k8s.pod.label.openchoreo.dev/namespace"] = "acme"
	want.ResourceAttributes["k8s.pod.label.openchoreo.dev/component"] = "api"
	want.ResourceAttributes["k8s.pod.label.openchoreo.dev/environment-uid"] = "e-1"
	assertRecord(t, back, want)
}

// TestDecodeMatchesGateway: a line that reaches the gateway over Fluent
// Bit's forward protocol (keys not Replace_Dots'ed) and the same line read
// back from OpenSearch become the same resource attributes, so backfilled
// and live rows answer tenant queries alike.
func TestDecodeMatchesGateway(t *testing.T) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetTimestamp(pcommon.NewTimestampFromTime(time.Date(2025, 12, 1, 10, 0, 0, 123456789, time.UTC)))
	lr.Body().SetStr(`level=error msg="payment failed"`)
	lr.Attributes().PutStr("stream", "stdout")
	k := lr.Attributes().PutEmptyMap("kubernetes")
	for f, v := range map[string]string{"pod_name": "checkout-7d9f-abcde", "namespace_name": "dp-default-shop-dev-1a2b3c",
		"pod_id": "3f1c7a2e-0000-4000-8000-000000000001", "host": "node-1", "container_name": "main", "docker_id": "d0c4e5",
		"container_image": "reg/checkout:1"} {
		k.PutStr(f, v)
	}
	labels := k.PutEmptyMap("labels")
	for l, v := range map[string]string{"openchoreo.dev/component-uid": "c-uid", "openchoreo.dev/environment-uid": "e-uid",
		"openchoreo.dev/project-uid": "p-uid", "openchoreo.dev/component": "checkout", "openchoreo.dev/environment": "dev",
		"openchoreo.dev/project": "shop", "openchoreo.dev/namespace": "default", "app.kubernetes.io/name": "checkout", "tier_x": "a.b"} {
		labels.PutStr(l, v)
	}
	k.PutEmptyMap("annotations").PutStr("workflows.argoproj.io/node-name", "build-1.step")

	f := openchoreoprocessor.NewFactory()
	cfg := f.CreateDefaultConfig().(*openchoreoprocessor.Config)
	out := openchoreoprocessor.EnrichLogs(ld, cfg)
	gw := out.ResourceLogs().At(0)
	gotGateway := RecordFromOTel(gw.Resource(), gw.ScopeLogs().At(0).Scope(), gw.ScopeLogs().At(0).LogRecords().At(0))

	fromDoc, err := DecodeLogDocument([]byte(fluentBitDoc))
	if err != nil {
		t.Fatal(err)
	}
	diffMap(t, "ResourceAttributes (document vs gateway)", fromDoc.ResourceAttributes, gotGateway.ResourceAttributes)
	if fromDoc.ServiceName != gotGateway.ServiceName || fromDoc.Body != gotGateway.Body || !fromDoc.Timestamp.Equal(gotGateway.Timestamp) {
		t.Errorf("document row %+v differs from gateway row %+v", fromDoc, gotGateway)
	}
}

func FuzzDecodeLogDocument(f *testing.F) {
	for _, s := range []string{
		fluentBitDoc,
		`{"@timestamp": 1764583200000, "log": "x"}`,
		`{"@timestamp": "2025-12-01T10:00:00Z", "time": "2025-12-01T10:00:00.0001Z", "log": {"a": 1}}`,
		`{"@timestamp": "2025-12-01T10:00:00Z", "kubernetes": {"labels": {"openchoreo_dev/namespace": "n"}}, "otel": {"resource": [{"k": "a", "v": 1}]}}`,
		`{"@timestamp": "-1e13"}`, `{"@timestamp": "9999-12-31T23:59:59Z"}`, `{"x": "\xff"}`, `[]`, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := DecodeLogDocument(b)
		if err != nil {
			if !errors.Is(err, ErrLogDocument) {
				t.Fatalf("error %v does not wrap ErrLogDocument", err)
			}
			return
		}
		if rec.Timestamp.Before(minTime) || !rec.Timestamp.Before(maxTime) {
			t.Fatalf("timestamp %s out of range", rec.Timestamp)
		}
		// Whatever decoded must survive the way back: dual write and
		// syncback re-encode backfilled rows.
		doc, err := EncodeLogDocument(rec)
		if err != nil {
			t.Fatalf("encode decoded row: %v", err)
		}
		back, err := DecodeLogDocument(doc)
		if err != nil {
			t.Fatalf("decode re-encoded %s: %v", doc, err)
		}
		if !back.Timestamp.Equal(rec.Timestamp) || back.Body != rec.Body {
			t.Fatalf("round trip changed timestamp/body: %v %q -> %v %q", rec.Timestamp, rec.Body, back.Timestamp, back.Body)
		}
		for _, l := range ocLabelAttrs {
			if back.ResourceAttributes[l.attr] != rec.ResourceAttributes[l.attr] {
				t.Fatalf("round trip changed %s: %q -> %q", l.attr, rec.ResourceAttributes[l.attr], back.ResourceAttributes[l.attr])
			}
		}
	})
}
