package opensearch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Kubernetes events reach OpenSearch as OTel log records (the collector's
// k8s events receiver, then OpenChoreo's enrich processor copying the
// involved object's labels) written by the collector's opensearch exporter
// in its ss4o mapping into k8s-events-YYYY-MM-DD. The logs module reads them
// (cm:observability-logs-opensearch/internal/opensearch/event_labels.go).

// Event attribute keys, as the k8s events receiver and OpenChoreo's enrich
// processor set them.
const (
	// AttrEventReason (a log attribute) marks a record as a Kubernetes event.
	AttrEventReason = "k8s.event.reason"
	// AttrObjectKind and AttrObjectName are resource attributes: the object
	// the event is about.
	AttrObjectKind = "k8s.object.kind"
	AttrObjectName = "k8s.object.name"
	// ObjectLabelPrefix prefixes the involved object's labels (resource
	// attributes), e.g. k8s.object.label.openchoreo.dev/component-uid.
	ObjectLabelPrefix = "k8s.object.label."
)

// IsEvent reports whether a log record is a Kubernetes event.
func IsEvent(rec LogRecord) bool {
	_, ok := rec.LogAttributes[AttrEventReason]
	return ok
}

// eventDoc is the ss4o log document of an event.
type eventDoc struct {
	Attributes map[string]string `json:"attributes,omitempty"`
	Body       string            `json:"body"`
	Resource   map[string]string `json:"resource,omitempty"`
	Severity   struct {
		Text   string `json:"text,omitempty"`
		Number int64  `json:"number,omitempty"`
	} `json:"severity"`
	Timestamp time.Time `json:"@timestamp"`
	// InstrumentationScope is written like the exporter's; reads ignore it.
	InstrumentationScope struct {
		Name string `json:"name,omitempty"`
	} `json:"instrumentationScope"`
}

// EncodeEventDocument is the ss4o document of an event record, as the
// collector's opensearch exporter writes it.
func EncodeEventDocument(rec LogRecord) ([]byte, error) {
	d := eventDoc{Attributes: rec.LogAttributes, Body: rec.Body, Resource: rec.ResourceAttributes, Timestamp: rec.Timestamp.UTC()}
	d.Severity.Text = rec.SeverityText
	d.Severity.Number = int64(rec.SeverityNumber)
	d.InstrumentationScope.Name = rec.ScopeName
	b, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encode event: %w", err)
	}
	return b, nil
}

// ErrEventDocument is wrapped by DecodeEventDocument's errors.
var ErrEventDocument = errors.New("opensearch: event document")

// DecodeEventDocument reads a k8s-events-* document into a LogRecord (body,
// severity, attributes and resource as text).
func DecodeEventDocument(source []byte) (LogRecord, error) {
	dec := json.NewDecoder(bytes.NewReader(source))
	dec.UseNumber()
	var d struct {
		Attributes map[string]any `json:"attributes"`
		Body       any            `json:"body"`
		Resource   map[string]any `json:"resource"`
		Severity   struct {
			Text   string      `json:"text"`
			Number json.Number `json:"number"`
		} `json:"severity"`
		Timestamp string `json:"@timestamp"`
	}
	if err := dec.Decode(&d); err != nil {
		return LogRecord{}, &DocError{Kind: ErrEventDocument, Reason: ReasonNotJSON, Msg: err.Error()}
	}
	ts, err := time.Parse(time.RFC3339Nano, d.Timestamp)
	if err != nil {
		return LogRecord{}, &DocError{Kind: ErrEventDocument, Reason: ReasonBadTimestamp, Msg: fmt.Sprintf("@timestamp %q: %v", truncateStr(d.Timestamp, 64), err)}
	}
	if ts.Before(minTime) || !ts.Before(maxTime) {
		return LogRecord{}, &DocError{Kind: ErrEventDocument, Reason: ReasonTimeOutOfRange, Msg: fmt.Sprintf("@timestamp %s is outside what DateTime64(9) holds", ts.Format(time.RFC3339))}
	}
	rec := LogRecord{Timestamp: ts.UTC(), Body: scalarText(d.Body), SeverityText: d.Severity.Text,
		ResourceAttributes: map[string]string{}, LogAttributes: map[string]string{}}
	if n, err := d.Severity.Number.Int64(); err == nil && n >= 0 && n <= 24 {
		rec.SeverityNumber = uint8(n)
	}
	for k, v := range d.Attributes {
		rec.LogAttributes[k] = scalarText(v)
	}
	for k, v := range d.Resource {
		rec.ResourceAttributes[k] = scalarText(v)
	}
	rec.ServiceName = rec.ResourceAttributes[AttrServiceName]
	return rec, nil
}
