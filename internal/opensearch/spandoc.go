package opensearch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/openchoreo/obsplane/internal/schema"
	"github.com/openchoreo/obsplane/internal/store"
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
	ScopeName, ScopeVersion       string
	TraceState                    string
	Events                        []SpanEvent
	Links                         []SpanLink
}

// SpanEvent is one event of a span (ss4o: events[]).
type SpanEvent struct {
	Time       time.Time
	Name       string
	Attributes map[string]string
}

// SpanLink is one link of a span (ss4o: links[]).
type SpanLink struct {
	TraceID, SpanID, TraceState string
	Attributes                  map[string]string
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
	Events []spanEventDoc `json:"events,omitempty"`
	Links  []spanLinkDoc  `json:"links,omitempty"`
}

type spanEventDoc struct {
	Attributes map[string]any `json:"attributes"`
	Name       string         `json:"name"`
	Timestamp  *time.Time     `json:"@timestamp,omitempty"`
}

type spanLinkDoc struct {
	Attributes map[string]any `json:"attributes,omitempty"`
	SpanID     string         `json:"spanId,omitempty"`
	TraceID    string         `json:"traceId,omitempty"`
	TraceState string         `json:"traceState,omitempty"`
}

// EncodeSpanRecord is the ss4o document of a span held as text (a stored
// otel_traces row): what syncback writes. Attribute values stay strings,
// as otel_traces holds them.
func EncodeSpanRecord(r SpanRecord) ([]byte, error) {
	d := spanDoc{
		StartTime: r.Start.UTC(), EndTime: r.End.UTC(), Kind: r.Kind, Name: r.Name,
		ParentSpanID: r.ParentSpanID, SpanID: r.SpanID, TraceID: r.TraceID, TraceState: r.TraceState,
		Resource: r.Resource, Timestamp: time.Now().UTC(),
	}
	if len(r.Attributes) > 0 {
		d.Attributes = make(map[string]any, len(r.Attributes))
		for k, v := range r.Attributes {
			d.Attributes[k] = v
		}
	}
	d.Status.Code, d.Status.Message = r.StatusCode, r.StatusMessage
	d.InstrumentationScope.Name, d.InstrumentationScope.Version = r.ScopeName, r.ScopeVersion
	for _, e := range r.Events {
		t := e.Time.UTC()
		ed := spanEventDoc{Name: e.Name, Timestamp: &t, Attributes: map[string]any{}}
		for k, v := range e.Attributes {
			ed.Attributes[k] = v
		}
		d.Events = append(d.Events, ed)
	}
	for _, l := range r.Links {
		ld := spanLinkDoc{TraceID: l.TraceID, SpanID: l.SpanID, TraceState: l.TraceState}
		if len(l.Attributes) > 0 {
			ld.Attributes = map[string]any{}
			for k, v := range l.Attributes {
				ld.Attributes[k] = v
			}
		}
		d.Links = append(d.Links, ld)
	}
	b, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encode span %s/%s: %w", r.TraceID, r.SpanID, err)
	}
	return b, nil
}

// SpanDocumentID is the _id dual write and syncback give a span: its trace
// and span id, so a replay overwrites rather than doubles.
func SpanDocumentID(traceID, spanID string) string { return traceID + "-" + spanID }

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
		TraceID              string `json:"traceId"`
		TraceState           string `json:"traceState"`
		InstrumentationScope struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"instrumentationScope"`
		Events []struct {
			Attributes        map[string]any `json:"attributes"`
			Name              string         `json:"name"`
			Timestamp         string         `json:"@timestamp"`
			ObservedTimestamp string         `json:"observedTimestamp"`
		} `json:"events"`
		Links []struct {
			Attributes map[string]any `json:"attributes"`
			SpanID     string         `json:"spanId"`
			TraceID    string         `json:"traceId"`
			TraceState string         `json:"traceState"`
		} `json:"links"`
	}
	if err := dec.Decode(&d); err != nil {
		return SpanRecord{}, &DocError{Kind: ErrSpanDocument, Reason: ReasonNotJSON, Msg: err.Error()}
	}
	if d.TraceID == "" || d.SpanID == "" {
		return SpanRecord{}, &DocError{Kind: ErrSpanDocument, Reason: ReasonNoIDs, Msg: "traceId and spanId are required"}
	}
	rec := SpanRecord{
		TraceID: d.TraceID, SpanID: d.SpanID, ParentSpanID: d.ParentSpanID,
		Name: d.Name, Kind: d.Kind, StatusCode: d.Status.Code, StatusMessage: d.Status.Message,
		Attributes: map[string]string{}, Resource: map[string]string{},
	}
	var err error
	if rec.Start, err = time.Parse(time.RFC3339Nano, d.StartTime); err != nil {
		return SpanRecord{}, &DocError{Kind: ErrSpanDocument, Reason: ReasonBadTimestamp, Msg: fmt.Sprintf("startTime %q: %v", truncateStr(d.StartTime, 64), err)}
	}
	if rec.End, err = time.Parse(time.RFC3339Nano, d.EndTime); err != nil {
		return SpanRecord{}, &DocError{Kind: ErrSpanDocument, Reason: ReasonBadTimestamp, Msg: fmt.Sprintf("endTime %q: %v", truncateStr(d.EndTime, 64), err)}
	}
	for _, t := range []time.Time{rec.Start, rec.End} {
		if t.Before(minTime) || !t.Before(maxTime) {
			return SpanRecord{}, &DocError{Kind: ErrSpanDocument, Reason: ReasonTimeOutOfRange, Msg: fmt.Sprintf("time %s is outside what DateTime64(9) holds", t.Format(time.RFC3339))}
		}
	}
	for k, v := range d.Attributes {
		rec.Attributes[k] = scalarText(v)
	}
	for k, v := range d.Resource {
		rec.Resource[k] = scalarText(v)
	}
	rec.ServiceName = rec.Resource[AttrServiceName]
	rec.TraceState = d.TraceState
	rec.ScopeName, rec.ScopeVersion = d.InstrumentationScope.Name, d.InstrumentationScope.Version
	for _, e := range d.Events {
		ts := e.Timestamp
		if ts == "" {
			ts = e.ObservedTimestamp
		}
		var t time.Time
		if ts != "" {
			if t, err = time.Parse(time.RFC3339Nano, ts); err != nil || t.Before(minTime) || !t.Before(maxTime) {
				return SpanRecord{}, &DocError{Kind: ErrSpanDocument, Reason: ReasonBadTimestamp, Msg: fmt.Sprintf("event %q time %q is not an RFC 3339 time DateTime64(9) holds", truncateStr(e.Name, 64), truncateStr(ts, 64))}
			}
		}
		ev := SpanEvent{Time: t.UTC(), Name: e.Name, Attributes: make(map[string]string, len(e.Attributes))}
		for k, v := range e.Attributes {
			ev.Attributes[k] = scalarText(v)
		}
		rec.Events = append(rec.Events, ev)
	}
	for _, l := range d.Links {
		ln := SpanLink{TraceID: l.TraceID, SpanID: l.SpanID, TraceState: l.TraceState, Attributes: make(map[string]string, len(l.Attributes))}
		for k, v := range l.Attributes {
			ln.Attributes[k] = scalarText(v)
		}
		rec.Links = append(rec.Links, ln)
	}
	return rec, nil
}

// SpansBatch is the otel_traces insert for recs (database.otel_traces), as
// the gateway's exporter writes spans: Timestamp is the start, Duration end
// minus start in nanoseconds (0 when the end is before the start).
func SpansBatch(database string, recs []SpanRecord) *store.Batch {
	rows := schema.NewTraceRows[map[string]string](len(recs))
	for _, r := range recs {
		var d uint64
		if r.End.After(r.Start) {
			d = uint64(r.End.Sub(r.Start))
		}
		row := schema.TraceRow[map[string]string]{
			Timestamp: r.Start, TraceID: r.TraceID, SpanID: r.SpanID, ParentSpanID: r.ParentSpanID, TraceState: r.TraceState,
			SpanName: r.Name, SpanKind: r.Kind, ServiceName: r.ServiceName, ResourceAttributes: nonNil(r.Resource),
			ScopeName: r.ScopeName, ScopeVersion: r.ScopeVersion, SpanAttributes: nonNil(r.Attributes), Duration: d,
			StatusCode: r.StatusCode, StatusMessage: r.StatusMessage,
		}
		for _, e := range r.Events {
			row.EventsTimestamp = append(row.EventsTimestamp, e.Time)
			row.EventsName = append(row.EventsName, e.Name)
			row.EventsAttributes = append(row.EventsAttributes, nonNil(e.Attributes))
		}
		for _, l := range r.Links {
			row.LinksTraceID = append(row.LinksTraceID, l.TraceID)
			row.LinksSpanID = append(row.LinksSpanID, l.SpanID)
			row.LinksTraceState = append(row.LinksTraceState, l.TraceState)
			row.LinksAttributes = append(row.LinksAttributes, nonNil(l.Attributes))
		}
		rows.Append(row)
	}
	return rows.Batch(database, "otel_traces")
}
