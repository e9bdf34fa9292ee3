package opensearch

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/tidwall/gjson"
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
	doc, err := parseObject(source)
	if err != nil {
		return LogRecord{}, &DocError{Kind: ErrEventDocument, Reason: ReasonNotJSON, Msg: err.Error()}
	}
	return decodeEvent(doc)
}

// decodeEvent is DecodeEventDocument of a valid JSON object.
func decodeEvent(doc gjson.Result) (LogRecord, error) {
	var attrs, body, resource, severity, stamp gjson.Result
	doc.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "attributes":
			attrs = v
		case "body":
			body = v
		case "resource":
			resource = v
		case "severity":
			severity = v
		case "@timestamp":
			stamp = v
		}
		return true
	})
	tsText, ok := stringField(stamp)
	if !ok {
		return LogRecord{}, fieldTypeErr(ErrEventDocument, "@timestamp", stamp, "a string")
	}
	ts, err := time.Parse(time.RFC3339Nano, tsText)
	if err != nil {
		return LogRecord{}, &DocError{Kind: ErrEventDocument, Reason: ReasonBadTimestamp, Msg: fmt.Sprintf("@timestamp %q: %v", truncateStr(tsText, 64), err)}
	}
	if ts.Before(minTime) || !ts.Before(maxTime) {
		return LogRecord{}, &DocError{Kind: ErrEventDocument, Reason: ReasonTimeOutOfRange, Msg: fmt.Sprintf("@timestamp %s is outside what DateTime64(9) holds", ts.Format(time.RFC3339))}
	}
	rec := LogRecord{Timestamp: ts.UTC(), Body: valueText(body)}
	if present(severity) {
		if !severity.IsObject() {
			return LogRecord{}, fieldTypeErr(ErrEventDocument, "severity", severity, "an object")
		}
		var num gjson.Result
		severity.ForEach(func(k, v gjson.Result) bool {
			switch k.Str {
			case "text":
				rec.SeverityText, ok = stringField(v)
			case "number":
				num = v
			}
			return ok
		})
		if !ok {
			return LogRecord{}, fieldTypeErr(ErrEventDocument, "severity.text", severity.Get("text"), "a string")
		}
		if n, err := strconv.ParseInt(valueText(num), 10, 64); err == nil && n >= 0 && n <= 24 {
			rec.SeverityNumber = uint8(n)
		}
	}
	if rec.LogAttributes, err = textMap(ErrEventDocument, "attributes", attrs); err != nil {
		return LogRecord{}, err
	}
	if rec.ResourceAttributes, err = textMap(ErrEventDocument, "resource", resource); err != nil {
		return LogRecord{}, err
	}
	rec.ServiceName = rec.ResourceAttributes[AttrServiceName]
	return rec, nil
}
