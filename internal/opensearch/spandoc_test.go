package opensearch

import (
	"errors"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

func TestSpanDocumentRoundTrip(t *testing.T) {
	res := pcommon.NewResource()
	res.Attributes().PutStr("service.name", "api")
	res.Attributes().PutStr("openchoreo.dev/namespace", "acme")
	res.Attributes().PutInt("replicas", 3)
	scope := pcommon.NewInstrumentationScope()
	scope.SetName("lib")
	s := ptrace.NewSpan()
	s.SetTraceID(pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	s.SetSpanID(pcommon.SpanID{1, 1, 1, 1, 1, 1, 1, 2})
	s.SetParentSpanID(pcommon.SpanID{1, 1, 1, 1, 1, 1, 1, 1})
	s.SetName("GET /")
	s.SetKind(ptrace.SpanKindServer)
	start := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)
	s.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
	s.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(1500 * time.Microsecond)))
	s.Status().SetCode(ptrace.StatusCodeError)
	s.Status().SetMessage("boom")
	s.Attributes().PutStr("http.route", "/")
	s.Attributes().PutInt("http.status_code", 503)
	s.Attributes().PutDouble("ratio", 0.25)
	s.Attributes().PutBool("retry", true)

	doc, err := EncodeSpanDocument(res, scope, s)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := DecodeSpanDocument(doc)
	if err != nil {
		t.Fatal(err)
	}
	if rec.TraceID != s.TraceID().String() || rec.SpanID != s.SpanID().String() || rec.ParentSpanID != s.ParentSpanID().String() ||
		rec.Name != "GET /" || rec.Kind != "Server" || !rec.Start.Equal(start) || rec.End.Sub(rec.Start) != 1500*time.Microsecond ||
		rec.StatusCode != "Error" || rec.StatusMessage != "boom" || rec.ServiceName != "api" {
		t.Errorf("decoded %+v", rec)
	}
	// Values as pdata's AsString makes them, which is what otel_traces holds.
	for k, want := range map[string]string{"http.route": "/", "http.status_code": "503", "ratio": "0.25", "retry": "true"} {
		if got := rec.Attributes[k]; got != want {
			t.Errorf("attribute %s = %q, want %q", k, got, want)
		}
	}
	if rec.Resource["openchoreo.dev/namespace"] != "acme" || rec.Resource["replicas"] != "3" {
		t.Errorf("resource %v", rec.Resource)
	}
}

func TestEventDocumentRoundTrip(t *testing.T) {
	rec := LogRecord{
		Timestamp: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Body: "Back-off restarting", SeverityText: "Warning",
		ResourceAttributes: map[string]string{"k8s.object.kind": "Pod", "k8s.object.label.openchoreo.dev/namespace": "acme"},
		LogAttributes:      map[string]string{"k8s.event.reason": "BackOff", "k8s.namespace.name": "dp-acme"},
	}
	if !IsEvent(rec) {
		t.Fatal("a record with k8s.event.reason is an event")
	}
	doc, err := EncodeEventDocument(rec)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeEventDocument(doc)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Timestamp.Equal(rec.Timestamp) || got.Body != rec.Body || got.SeverityText != "Warning" ||
		got.LogAttributes["k8s.event.reason"] != "BackOff" || got.ResourceAttributes["k8s.object.label.openchoreo.dev/namespace"] != "acme" {
		t.Errorf("decoded %+v", got)
	}
	if IsEvent(LogRecord{LogAttributes: map[string]string{}}) {
		t.Error("a container log line is not an event")
	}
}

func FuzzDecodeSpanDocument(f *testing.F) {
	for _, s := range []string{
		`{"traceId":"0102","spanId":"0a","parentSpanId":"","name":"x","kind":"Server","startTime":"2026-01-02T03:04:05.123456789Z","endTime":"2026-01-02T03:04:06Z","status":{"code":"Error","message":"m"},"attributes":{"a":1,"b":{"c":[1,2]}},"resource":{"service.name":"s"}}`,
		`{"traceId":"01","spanId":"02","startTime":"x","endTime":"y"}`, `{"traceId":1}`, `[]`, `{`, `{"traceId":"01","spanId":"02","startTime":"2026-01-02T03:04:05Z","endTime":"2026-01-02T03:04:05Z","resource":{"k":null}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := DecodeSpanDocument(b)
		if err != nil {
			if !errors.Is(err, ErrSpanDocument) {
				t.Fatalf("error %v does not wrap ErrSpanDocument", err)
			}
			return
		}
		if rec.TraceID == "" || rec.SpanID == "" || rec.Attributes == nil || rec.Resource == nil {
			t.Fatalf("decoded without ids or maps: %+v", rec)
		}
	})
}

func FuzzDecodeEventDocument(f *testing.F) {
	for _, s := range []string{
		`{"@timestamp":"2026-01-02T03:04:05Z","body":"m","severity":{"text":"Warning","number":13},"attributes":{"k8s.event.reason":"BackOff"},"resource":{"k8s.object.kind":"Pod"}}`,
		`{"@timestamp":"nope"}`, `{"@timestamp":"2026-01-02T03:04:05Z","severity":{"number":"x"}}`, `{"@timestamp":"2026-01-02T03:04:05Z","body":{"a":[1]}}`, `[]`, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := DecodeEventDocument(b)
		if err != nil {
			if !errors.Is(err, ErrEventDocument) {
				t.Fatalf("error %v does not wrap ErrEventDocument", err)
			}
			return
		}
		if rec.Timestamp.IsZero() || rec.LogAttributes == nil || rec.ResourceAttributes == nil {
			t.Fatalf("decoded without time or maps: %+v", rec)
		}
		if _, err := EncodeEventDocument(rec); err != nil {
			t.Fatalf("re-encode: %v", err)
		}
	})
}
