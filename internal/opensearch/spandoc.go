package opensearch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// SpanRecord is a span as the otel-traces-* indices hold it: the document
// the OpenTelemetry Collector's opensearch exporter writes in its default
// "ss4o" mapping mode (the exporter OpenChoreo's tracing module runs), with
// attribute values as text, the way otel_traces stores them.
type SpanRecord struct {
	TraceID, SpanID, ParentSpanID string
	Name, Kind                    string // Kind is pdata's name: "Server", "Client", ...
	Start, End                    time.Time
	StatusCode, StatusMessage     string // StatusCode is "Unset", "Ok" or "Error"
	ServiceName                   string
	Attributes                    map[string]string
	Resource                      map[string]string
}

// spanDoc is the ss4o span document. Field names and nesting follow the
// exporter's ssoSpan; resource values are strings there, span attributes
// keep their JSON types.
type spanDoc struct {
	Attributes             map[string]any    `json:"attributes,omitempty"`
	DroppedAttributesCount uint32            `json:"droppedAttributesCount"`
	DroppedEventsCount     uint32            `json:"droppedEventsCount"`
	DroppedLinksCount      uint32            `json:"droppedLinksCount"`
	EndTime                time.Time         `json:"endTime"`
	Kind                   string            `json:"kind"`
	Name                   string            `json:"name"`
	ParentSpanID           string            `json:"parentSpanId"`
	Resource               map[string]string `json:"resource,omitempty"`
	SpanID                 string            `json:"spanId"`
	StartTime              time.Time         `json:"startTime"`
	Status                 struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"status"`
	Timestamp  time.Time `json:"@timestamp"`
	TraceID    string    `json:"traceId"`
	TraceState string    `json:"traceState"`
	// InstrumentationScope is written like the exporter's; reads ignore it.
	InstrumentationScope struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	} `json:"instrumentationScope"`
}

// EncodeSpanDocument is the ss4o document of one span, as the collector's
// opensearch exporter would write it (dual write of traces uses it).
func EncodeSpanDocument(res pcommon.Resource, scope pcommon.InstrumentationScope, s ptrace.Span) ([]byte, error) {
	d := spanDoc{
		Attributes:             s.Attributes().AsRaw(),
		DroppedAttributesCount: s.DroppedAttributesCount(),
		DroppedEventsCount:     s.DroppedEventsCount(),
		DroppedLinksCount:      s.DroppedLinksCount(),
		StartTime:              s.StartTimestamp().AsTime().UTC(),
		EndTime:                s.EndTimestamp().AsTime().UTC(),
		Kind:                   s.Kind().String(),
		Name:                   s.Name(),
		Resource:               attrStrings(res.Attributes()),
		Timestamp:              time.Now().UTC(),
		TraceState:             s.TraceState().AsRaw(),
	}
	if id := s.TraceID(); !id.IsEmpty() {
		d.TraceID = id.String()
	}
	if id := s.SpanID(); !id.IsEmpty() {
		d.SpanID = id.String()
	}
	if id := s.ParentSpanID(); !id.IsEmpty() {
		d.ParentSpanID = id.String()
	}
	d.Status.Code = s.Status().Code().String()
	d.Status.Message = s.Status().Message()
	d.InstrumentationScope.Name = scope.Name()
	d.InstrumentationScope.Version = scope.Version()
	if len(d.Attributes) == 0 {
		d.Attributes = nil
	}
	b, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encode span %s/%s: %w", d.TraceID, d.SpanID, err)
	}
	return b, nil
}

// ErrSpanDocument is wrapped by DecodeSpanDocument's errors.
var ErrSpanDocument = errors.New("opensearch: span document")

// DecodeSpanDocument reads an otel-traces-* document. Times must be RFC
// 3339 (date_nanos as the exporter writes them); attribute values become
// text the way pdata's AsString makes them (numbers in their JSON spelling,
// objects and arrays as compact JSON), so they compare with otel_traces.
func DecodeSpanDocument(source []byte) (SpanRecord, error) {
	dec := json.NewDecoder(bytes.NewReader(source))
	dec.UseNumber()
	var d struct {
		Attributes   map[string]any `json:"attributes"`
		EndTime      string         `json:"endTime"`
		Kind         string         `json:"kind"`
		Name         string         `json:"name"`
		ParentSpanID string         `json:"parentSpanId"`
		Resource     map[string]any `json:"resource"`
		SpanID       string         `json:"spanId"`
		StartTime    string         `json:"startTime"`
		Status       struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"status"`
		TraceID string `json:"traceId"`
	}
	if err := dec.Decode(&d); err != nil {
		return SpanRecord{}, fmt.Errorf("%w: %v", ErrSpanDocument, err)
	}
	if d.TraceID == "" || d.SpanID == "" {
		return SpanRecord{}, fmt.Errorf("%w: traceId and spanId are required", ErrSpanDocument)
	}
	rec := SpanRecord{
		TraceID: d.TraceID, SpanID: d.SpanID, ParentSpanID: d.ParentSpanID,
		Name: d.Name, Kind: d.Kind, StatusCode: d.Status.Code, StatusMessage: d.Status.Message,
		Attributes: map[string]string{}, Resource: map[string]string{},
	}
	var err error
	if rec.Start, err = time.Parse(time.RFC3339Nano, d.StartTime); err != nil {
		return SpanRecord{}, fmt.Errorf("%w: startTime %q: %v", ErrSpanDocument, truncateStr(d.StartTime, 64), err)
	}
	if rec.End, err = time.Parse(time.RFC3339Nano, d.EndTime); err != nil {
		return SpanRecord{}, fmt.Errorf("%w: endTime %q: %v", ErrSpanDocument, truncateStr(d.EndTime, 64), err)
	}
	for _, t := range []time.Time{rec.Start, rec.End} {
		if t.Before(minTime) || !t.Before(maxTime) {
			return SpanRecord{}, fmt.Errorf("%w: time %s is outside what DateTime64(9) holds", ErrSpanDocument, t.Format(time.RFC3339))
		}
	}
	for k, v := range d.Attributes {
		rec.Attributes[k] = scalarText(v)
	}
	for k, v := range d.Resource {
		rec.Resource[k] = scalarText(v)
	}
	rec.ServiceName = rec.Resource[AttrServiceName]
	return rec, nil
}
