package opensearch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/tidwall/gjson"

	"github.com/openchoreo/obsplane/internal/schema"
	"github.com/openchoreo/obsplane/internal/store"
)

// This file maps one container log line between the two shapes it takes
// during a migration:
//
//   - LogRecord: a row of otel.otel_logs as obsplane stores it (the columns
//     the ClickHouse exporter writes; the tenant columns are materialized
//     from ResourceAttributes by the schema);
//   - the document OpenChoreo's Fluent Bit writes into container-logs-*
//     (docs/OPENSEARCH.md, "The log document Fluent Bit writes").
//
// DecodeLogDocument (document -> row) is what the backfill and syncback
// verification use; EncodeLogDocument (row -> document) is what dual write
// and syncback use. The key names follow the gateway's openchoreo processor,
// so a backfilled row looks like the row the gateway writes for the same line
// arriving over Fluent Bit's forward protocol.

// Resource and log attribute keys the mapping reads and writes. They are the
// keys of the gateway's openchoreo processor (and the OTel semantic
// conventions where one exists).
const (
	AttrPodName       = "k8s.pod.name"
	AttrPodUID        = "k8s.pod.uid"
	AttrNamespaceName = "k8s.namespace.name"
	AttrContainerName = "k8s.container.name"
	AttrNodeName      = "k8s.node.name"
	AttrContainerID   = "container.id"
	AttrImageName     = "container.image.name"
	AttrServiceName   = "service.name"
	// AttrIOStream is the semantic-convention key of Fluent Bit's `stream`
	// (stdout|stderr).
	AttrIOStream = "log.iostream"
	// PodLabelPrefix and PodAnnotationPrefix prefix a pod's labels and
	// annotations, keyed as Kubernetes spells them (openchoreo.dev/component).
	PodLabelPrefix      = "k8s.pod.label."
	PodAnnotationPrefix = "k8s.pod.annotation."
	// kubernetesOtherPrefix keeps a kubernetes filter field that has no OTel
	// name (container_hash, ...), as the processor does.
	kubernetesOtherPrefix = "kubernetes."
)

// OpenChoreo's pod label names (after "openchoreo.dev/"), the resource
// attribute each becomes, and the label's own attribute key.
var ocLabelAttrs = []struct{ label, attr, key string }{
	{"namespace", "openchoreo.namespace", PodLabelPrefix + "openchoreo.dev/namespace"},
	{"namespace-uid", "openchoreo.namespace.uid", PodLabelPrefix + "openchoreo.dev/namespace-uid"},
	{"project", "openchoreo.project", PodLabelPrefix + "openchoreo.dev/project"},
	{"project-uid", "openchoreo.project.uid", PodLabelPrefix + "openchoreo.dev/project-uid"},
	{"component", "openchoreo.component", PodLabelPrefix + "openchoreo.dev/component"},
	{"component-uid", "openchoreo.component.uid", PodLabelPrefix + "openchoreo.dev/component-uid"},
	{"environment", "openchoreo.environment", PodLabelPrefix + "openchoreo.dev/environment"},
	{"environment-uid", "openchoreo.environment.uid", PodLabelPrefix + "openchoreo.dev/environment-uid"},
}

// kubernetesFields maps the kubernetes filter's fields to resource attributes.
var kubernetesFields = []struct{ field, attr string }{
	{"pod_name", AttrPodName},
	{"pod_id", AttrPodUID},
	{"namespace_name", AttrNamespaceName},
	{"container_name", AttrContainerName},
	{"host", AttrNodeName},
	{"docker_id", AttrContainerID},
	{"container_image", AttrImageName},
}

// LogRecord is one otel_logs row: the columns the mapping fills. Columns it
// leaves out (TraceFlags, schema URLs, scope version and attributes,
// EventName) are written empty.
type LogRecord struct {
	Timestamp          time.Time
	TraceID            string
	SpanID             string
	SeverityText       string
	SeverityNumber     uint8
	ServiceName        string
	Body               string
	ScopeName          string
	ResourceAttributes map[string]string
	LogAttributes      map[string]string
}

// Doc field names (Fluent Bit's, and ours for what it has no field for).
const (
	fieldTimestamp  = "@timestamp"
	fieldTime       = "time"
	fieldLog        = "log"
	fieldStream     = "stream"
	fieldKubernetes = "kubernetes"
	// fieldOtel holds what an OTel row has and a Fluent Bit document does
	// not (severity, trace context, other attributes), so a row survives
	// row -> document -> row. The index templates are dynamic:false, so it
	// stays in _source, unindexed; attributes are lists of {k, v} pairs
	// rather than objects so dotted keys ("k8s.pod.name" beside
	// "k8s.pod") can never collide in a dynamically mapped index.
	fieldOtel = "otel"
)

// ErrLogDocument marks a document that cannot become a row. Every error
// DecodeLogDocument returns wraps it.
var ErrLogDocument = errors.New("opensearch: log document")

func docErr(reason, format string, args ...any) error {
	return &DocError{Kind: ErrLogDocument, Reason: reason, Msg: fmt.Sprintf(format, args...)}
}

// DocError is the error of a document that cannot become a row. Kind is
// ErrLogDocument, ErrSpanDocument or ErrEventDocument; Reason a short
// category (Reason* constants) that migration reports count by.
type DocError struct {
	Kind   error
	Reason string
	Msg    string
}

func (e *DocError) Error() string { return e.Kind.Error() + ": " + e.Msg }
func (e *DocError) Unwrap() error { return e.Kind }

// The reasons a document is refused.
const (
	ReasonNotJSON        = "not-a-json-object"
	ReasonFieldType      = "wrong-field-type"
	ReasonNoTimestamp    = "no-timestamp"
	ReasonBadTimestamp   = "bad-timestamp"
	ReasonTimeOutOfRange = "timestamp-out-of-range"
	ReasonTooManyFields  = "too-many-fields"
	ReasonBadSeverity    = "bad-severity"
	ReasonNoIDs          = "no-trace-or-span-id"
	ReasonOther          = "other"
)

// RejectReason is the category of a decode error (ReasonOther when err is
// not a DocError).
func RejectReason(err error) string {
	var de *DocError
	if errors.As(err, &de) {
		return de.Reason
	}
	return ReasonOther
}

// Limits on foreign documents: they bound the work one document can cause.
const (
	// maxFlattenDepth is how deep an unknown object is flattened into dotted
	// attribute keys; anything deeper is kept as JSON text.
	maxFlattenDepth = 8
	// maxAttrs bounds the attributes one document yields.
	maxAttrs = 1024
)

// minTime and maxTime bound timestamps to what DateTime64(9) holds.
var (
	minTime = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(2262, 4, 11, 0, 0, 0, 0, time.UTC)
)

// DecodeLogDocument maps a container-logs (or legacy kubernetes-*) document's
// _source to a row.
//
//   - Timestamp: `time` (Fluent Bit's parser time, nanoseconds) when it
//     agrees with `@timestamp` to the millisecond, else `@timestamp`; a
//     document with neither parseable is an error. `@timestamp` is what
//     OpenSearch filters and sorts on, so a disagreeing `time` must not move
//     the line (it is kept as the log attribute "time").
//   - Body: `log`; a non-string `log` becomes its JSON text.
//   - `stream` -> log attribute log.iostream.
//   - kubernetes.{pod_name,pod_id,namespace_name,container_name,host,
//     docker_id,container_image} -> k8s.pod.name, k8s.pod.uid,
//     k8s.namespace.name, k8s.container.name, k8s.node.name, container.id,
//     container.image.name; other kubernetes fields -> kubernetes.<field>.
//   - kubernetes.labels.<key> -> k8s.pod.label.<key>, and the OpenChoreo
//     labels also -> openchoreo.{namespace,project,component,environment}
//     (and .uid); kubernetes.annotations.<key> -> k8s.pod.annotation.<key>.
//     Keys are un-Replace_Dots'ed in their prefix only (see UnreplaceDots).
//   - service.name (and ServiceName): otel.service_name when present, else
//     the component, as the gateway sets it.
//   - otel.*: severity, trace and span ids, scope, other attributes.
//   - every other field -> a log attribute of its dotted path, its value as
//     text.
//
// Malformed documents are errors wrapping ErrLogDocument; odd but usable
// values are sanitized (numbers and booleans become text, invalid UTF-8 is
// replaced). It never panics.
func DecodeLogDocument(source []byte) (LogRecord, error) {
	doc, err := parseObject(source)
	if err != nil {
		if errors.Is(err, errTrailingData) {
			return LogRecord{}, docErr(ReasonNotJSON, "%v", err)
		}
		return LogRecord{}, docErr(ReasonNotJSON, "not a JSON object: %v", err)
	}
	return decodeLog(doc)
}

// decodeLog is DecodeLogDocument of a document already known to be a valid
// JSON object.
func decodeLog(doc gjson.Result) (LogRecord, error) {
	var rec LogRecord
	// The fields the mapping knows are picked out first; the others keep
	// their document order and are flattened into attributes at the end.
	var ts, tm, body, stream, k8s, otel gjson.Result
	var others []gjsonField
	doc.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case fieldTimestamp:
			ts = v
		case fieldTime:
			tm = v
		case fieldLog:
			body = v
		case fieldStream:
			stream = v
		case fieldKubernetes:
			k8s = v
		case fieldOtel:
			otel = v
		default:
			others = append(others, gjsonField{k.Str, v})
		}
		return true
	})
	rec.ResourceAttributes = make(map[string]string, 16)
	rec.LogAttributes = make(map[string]string, 2+len(others))

	stamp, usedTime, err := docTimestamp(ts, tm)
	if err != nil {
		return rec, err
	}
	rec.Timestamp = stamp
	if body.Exists() {
		rec.Body = valueText(body)
	}
	if present(stream) {
		rec.LogAttributes[AttrIOStream] = valueText(stream)
	}
	if present(k8s) {
		if !k8s.IsObject() {
			return rec, docErr(ReasonFieldType, "field %q is a %s, want an object", fieldKubernetes, kindOf(k8s))
		}
		if err := decodeKubernetes(k8s, rec.ResourceAttributes); err != nil {
			return rec, err
		}
	}
	if present(otel) {
		if !otel.IsObject() {
			return rec, docErr(ReasonFieldType, "field %q is a %s, want an object", fieldOtel, kindOf(otel))
		}
		if err := decodeOtel(otel, &rec); err != nil {
			return rec, err
		}
	}
	if tm.Exists() && !usedTime {
		others = append(others, gjsonField{fieldTime, tm})
	}
	for _, f := range others {
		flatten(f.key, f.value, 0, rec.LogAttributes)
	}
	if len(rec.ResourceAttributes)+len(rec.LogAttributes) > maxAttrs {
		return rec, docErr(ReasonTooManyFields, "more than %d fields", maxAttrs)
	}
	if rec.ServiceName == "" {
		rec.ServiceName = rec.ResourceAttributes["openchoreo.component"]
	}
	if rec.ServiceName != "" {
		if _, ok := rec.ResourceAttributes[AttrServiceName]; !ok {
			rec.ResourceAttributes[AttrServiceName] = rec.ServiceName
		}
	}
	return rec, nil
}

// gjsonField is one field of an object, in document order.
type gjsonField struct {
	key   string
	value gjson.Result
}

// docTimestamp reads @timestamp and time; usedTime reports that time gave
// the timestamp (so it is not also kept as an attribute).
func docTimestamp(raw, rawTime gjson.Result) (ts time.Time, usedTime bool, err error) {
	if !present(raw) {
		return time.Time{}, false, docErr(ReasonNoTimestamp, "no %q field", fieldTimestamp)
	}
	ts, err = parseDocTime(raw)
	if err != nil {
		return time.Time{}, false, docErr(ReasonBadTimestamp, "field %q: %v", fieldTimestamp, err)
	}
	if rawTime.Exists() {
		if precise, err := parseDocTime(rawTime); err == nil && precise.Truncate(time.Millisecond).Equal(ts.Truncate(time.Millisecond)) {
			ts, usedTime = precise, true
		}
	}
	if ts.Before(minTime) || !ts.Before(maxTime) {
		return time.Time{}, false, docErr(ReasonTimeOutOfRange, "field %q: %s is outside 1900..2262", fieldTimestamp, ts.Format(time.RFC3339Nano))
	}
	return ts, usedTime, nil
}

// parseDocTime accepts what an OpenSearch date field with the default format
// (strict_date_optional_time||epoch_millis) accepts and Fluent Bit writes:
// RFC 3339 with any fraction, a date-time without zone (UTC), or epoch
// milliseconds as a number or a numeric string.
func parseDocTime(v gjson.Result) (time.Time, error) {
	switch v.Type {
	case gjson.Number:
		return epochMillis(v.Raw)
	case gjson.String:
		s := strings.TrimSpace(v.Str)
		if s == "" {
			return time.Time{}, errors.New("empty")
		}
		if s[0] >= '0' && s[0] <= '9' && !strings.ContainsAny(s, "-:T") {
			return epochMillis(s)
		}
		// The common case first: Fluent Bit's RFC 3339 in UTC.
		if ts, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return ts.UTC(), nil
		}
		for _, layout := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999", "2006-01-02"} {
			if ts, err := time.Parse(layout, s); err == nil {
				return ts.UTC(), nil
			}
		}
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 date-time or epoch milliseconds", truncateStr(sanitize(s), 64))
	}
	return time.Time{}, fmt.Errorf("a %s is not a date", kindOf(v))
}

func epochMillis(s string) (time.Time, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return time.Time{}, fmt.Errorf("%q is not epoch milliseconds", truncateStr(s, 64))
	}
	// Bound before converting: 1e13 ms is year 2286, beyond DateTime64(9).
	if f < -1e13 || f > 1e13 {
		return time.Time{}, fmt.Errorf("%s epoch milliseconds is out of range", truncateStr(s, 32))
	}
	ms := math.Floor(f)
	ns := int64(math.Round((f - ms) * 1e6))
	return time.UnixMilli(int64(ms)).Add(time.Duration(ns)).UTC(), nil
}

// kubernetesAttr is the resource attribute of a kubernetes filter field
// (kubernetesFields), "" for the others.
func kubernetesAttr(field string) string {
	for _, f := range kubernetesFields {
		if f.field == field {
			return f.attr
		}
	}
	return ""
}

func decodeKubernetes(k gjson.Result, res map[string]string) error {
	var err error
	k.ForEach(func(key, v gjson.Result) bool {
		if !present(v) {
			return true
		}
		name := key.Str
		switch name {
		case "labels", "annotations":
			if !v.IsObject() {
				err = docErr(ReasonFieldType, "field kubernetes.%s is a %s, want an object", name, kindOf(v))
				return false
			}
			prefix := PodLabelPrefix
			if name == "annotations" {
				prefix = PodAnnotationPrefix
			}
			v.ForEach(func(lk, lv gjson.Result) bool {
				if lk.Str != "" && present(lv) {
					res[prefix+UnreplaceDots(sanitize(lk.Str))] = valueText(lv)
				}
				return true
			})
			return true
		}
		if attr := kubernetesAttr(name); attr != "" {
			res[attr] = valueText(v)
			return true
		}
		flatten(kubernetesOtherPrefix+name, v, 1, res)
		return true
	})
	if err != nil {
		return err
	}
	// OpenChoreo's tenant attributes come from its labels, as the gateway
	// derives them. Empty label values do not count.
	for _, l := range ocLabelAttrs {
		if v := res[l.key]; v != "" {
			res[l.attr] = v
		}
	}
	return nil
}

// otelDoc is the "otel" object of a document EncodeLogDocument wrote.
type otelDoc struct {
	SeverityText   string   `json:"severity_text,omitempty"`
	SeverityNumber uint8    `json:"severity_number,omitempty"`
	TraceID        string   `json:"trace_id,omitempty"`
	SpanID         string   `json:"span_id,omitempty"`
	ServiceName    string   `json:"service_name,omitempty"`
	ScopeName      string   `json:"scope_name,omitempty"`
	Resource       []attrKV `json:"resource,omitempty"`
	Attributes     []attrKV `json:"attributes,omitempty"`
}

type attrKV struct {
	K string `json:"k"`
	V string `json:"v"`
}

func decodeOtel(o gjson.Result, rec *LogRecord) error {
	var sevNum, resource, attributes gjson.Result
	o.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "severity_text":
			rec.SeverityText = valueText(v)
		case "severity_number":
			sevNum = v
		case "trace_id":
			rec.TraceID = valueText(v)
		case "span_id":
			rec.SpanID = valueText(v)
		case "service_name":
			rec.ServiceName = valueText(v)
		case "scope_name":
			rec.ScopeName = valueText(v)
		case "resource":
			resource = v
		case "attributes":
			attributes = v
		}
		return true
	})
	if s := valueText(sevNum); s != "" {
		n, err := strconv.ParseUint(s, 10, 8)
		if err != nil || n > 24 {
			return docErr(ReasonBadSeverity, "field otel.severity_number %q is not an OTel severity number (0..24)", truncateStr(s, 32))
		}
		rec.SeverityNumber = uint8(n)
	}
	for _, p := range []struct {
		name string
		list gjson.Result
		dst  map[string]string
	}{{"resource", resource, rec.ResourceAttributes}, {"attributes", attributes, rec.LogAttributes}} {
		if !present(p.list) {
			continue
		}
		if !p.list.IsArray() {
			return docErr(ReasonFieldType, "field otel.%s is a %s, want a list of {k, v}", p.name, kindOf(p.list))
		}
		var err error
		i := 0
		p.list.ForEach(func(_, e gjson.Result) bool {
			if i >= maxAttrs {
				err = docErr(ReasonFieldType, "field otel.%s has more than %d entries", p.name, maxAttrs)
				return false
			}
			if !e.IsObject() {
				err = docErr(ReasonFieldType, "field otel.%s[%d] is a %s, want {k, v}", p.name, i, kindOf(e))
				return false
			}
			var k string
			var v gjson.Result
			e.ForEach(func(ek, ev gjson.Result) bool {
				switch ek.Str {
				case "k":
					k = ""
					if ev.Type == gjson.String {
						k = ev.Str
					}
				case "v":
					v = ev
				}
				return true
			})
			if k == "" {
				err = docErr(ReasonFieldType, "field otel.%s[%d] has no string k", p.name, i)
				return false
			}
			// Fluent Bit's own fields win over the copies in otel.*: they are
			// what OpenSearch queries see.
			k = sanitize(k)
			if _, exists := p.dst[k]; !exists {
				p.dst[k] = valueText(v)
			}
			i++
			return true
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// flatten writes v under key: scalars as text, objects as key.child paths
// (up to maxFlattenDepth, deeper as JSON text), arrays as JSON text.
func flatten(key string, v gjson.Result, depth int, dst map[string]string) {
	if key == "" {
		return // an attribute needs a name; "" is not one in OTel
	}
	key = sanitize(key)
	if v.IsObject() && depth < maxFlattenDepth && !emptyObject(v) {
		v.ForEach(func(k, sub gjson.Result) bool {
			flatten(key+"."+k.Str, sub, depth+1, dst)
			return true
		})
		return
	}
	if !present(v) {
		return
	}
	if len(dst) >= maxAttrs+1 {
		return // DecodeLogDocument reports the overflow
	}
	dst[key] = valueText(v)
}

func truncateStr(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// ReplaceDots is Fluent Bit's Replace_Dots: every "." in a key becomes "_"
// (openchoreo.dev/component-uid -> openchoreo_dev/component-uid).
func ReplaceDots(key string) string { return strings.ReplaceAll(key, ".", "_") }

// UnreplaceDots undoes ReplaceDots where that is exact: in a label or
// annotation key's prefix (before the last "/"). A prefix is a DNS subdomain,
// which cannot contain "_", so every "_" there was a ".". The name after "/"
// may legally hold either, so it is left as stored.
func UnreplaceDots(key string) string {
	i := strings.LastIndexByte(key, '/')
	if i <= 0 {
		return key
	}
	return strings.ReplaceAll(key[:i], "_", ".") + key[i:]
}

// EncodeLogDocument maps a row to the document Fluent Bit would have written
// for it (the inverse of DecodeLogDocument), plus an "otel" object for what
// Fluent Bit has no field for. Keys are emitted in a fixed order, so equal
// rows give equal bytes (DocumentID depends on it).
//
// The OpenChoreo tenant attributes (openchoreo.component.uid, ...) also
// become their pod labels (openchoreo_dev/component-uid, ...) when the row
// has no such label, so a line that arrived over OTLP is found by the same
// label queries the Observer runs today.
func EncodeLogDocument(rec LogRecord) ([]byte, error) {
	if rec.Timestamp.IsZero() {
		return nil, errors.New("opensearch: encode log document: zero timestamp")
	}
	ts := rec.Timestamp.UTC()
	res := rec.ResourceAttributes
	k8s := map[string]any{}
	labels := map[string]string{}
	annotations := map[string]string{}
	used := map[string]bool{}
	for _, f := range kubernetesFields {
		if v, ok := res[f.attr]; ok {
			k8s[f.field] = v
			used[f.attr] = true
		}
	}
	// Sorted, so keys that collide after ReplaceDots (a.b and a_b) resolve
	// the same way every time and equal rows give equal bytes.
	for _, k := range sortedKeys(res) {
		v := res[k]
		switch {
		case strings.HasPrefix(k, PodLabelPrefix) && len(k) > len(PodLabelPrefix):
			labels[ReplaceDots(k[len(PodLabelPrefix):])] = v
			used[k] = true
		case strings.HasPrefix(k, PodAnnotationPrefix) && len(k) > len(PodAnnotationPrefix):
			annotations[ReplaceDots(k[len(PodAnnotationPrefix):])] = v
			used[k] = true
		case strings.HasPrefix(k, kubernetesOtherPrefix) && len(k) > len(kubernetesOtherPrefix):
			name := k[len(kubernetesOtherPrefix):]
			if name != "labels" && name != "annotations" && !strings.Contains(name, ".") {
				k8s[name] = v
				used[k] = true
			}
		}
	}
	for _, l := range ocLabelAttrs {
		label := "openchoreo_dev/" + l.label
		if _, ok := labels[label]; ok {
			if res[l.attr] == labels[label] {
				used[l.attr] = true // derived again from the label on decode
			}
			continue
		}
		// The schema's fallback keys (openchoreo.dev/X as a resource
		// attribute, as OpenChoreo's own collectors copy labels) count too.
		v := res[l.attr]
		if v == "" {
			v = res["openchoreo.dev/"+l.label]
		}
		if v != "" {
			labels[label] = v
		}
	}
	if len(labels) > 0 {
		k8s["labels"] = labels
	}
	if len(annotations) > 0 {
		k8s["annotations"] = annotations
	}
	o := otelDoc{
		SeverityText:   rec.SeverityText,
		SeverityNumber: rec.SeverityNumber,
		TraceID:        rec.TraceID,
		SpanID:         rec.SpanID,
		ScopeName:      rec.ScopeName,
	}
	// service.name is derived from the component on decode; only a
	// different one needs carrying.
	if rec.ServiceName != "" && rec.ServiceName != res["openchoreo.component"] {
		o.ServiceName = rec.ServiceName
	}
	if sv, ok := res[AttrServiceName]; ok && sv == rec.ServiceName {
		used[AttrServiceName] = true
	}
	for _, k := range sortedKeys(res) {
		if !used[k] && k != "" {
			o.Resource = append(o.Resource, attrKV{k, res[k]})
		}
	}
	stream := rec.LogAttributes[AttrIOStream]
	streamKey := AttrIOStream
	if stream == "" {
		// The fluentforward receiver keeps Fluent Bit's field name.
		stream, streamKey = rec.LogAttributes[fieldStream], fieldStream
	}
	for _, k := range sortedKeys(rec.LogAttributes) {
		if k == streamKey && stream != "" || k == "" {
			continue
		}
		o.Attributes = append(o.Attributes, attrKV{k, rec.LogAttributes[k]})
	}

	// A struct keeps Fluent Bit's field order; maps inside marshal sorted.
	doc := struct {
		Timestamp  string         `json:"@timestamp"`
		Log        string         `json:"log"`
		Stream     string         `json:"stream,omitempty"`
		Time       string         `json:"time"`
		Kubernetes map[string]any `json:"kubernetes,omitempty"`
		Otel       *otelDoc       `json:"otel,omitempty"`
	}{
		Timestamp:  ts.Format("2006-01-02T15:04:05.000Z"),
		Log:        rec.Body,
		Stream:     stream,
		Time:       ts.Format(time.RFC3339Nano),
		Kubernetes: k8s,
	}
	if o.SeverityText != "" || o.SeverityNumber != 0 || o.TraceID != "" || o.SpanID != "" || o.ServiceName != "" ||
		o.ScopeName != "" || len(o.Resource) > 0 || len(o.Attributes) > 0 {
		doc.Otel = &o
	}
	if len(k8s) == 0 {
		doc.Kubernetes = nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // log lines keep <, > and & as written
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("opensearch: encode log document: %w", err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// RecordFromOTel is the row the ClickHouse exporter writes for one log
// record: Timestamp falls back to the observed time, Body and attribute
// values are Value.AsString, unset trace and span ids are empty.
func RecordFromOTel(res pcommon.Resource, scope pcommon.InstrumentationScope, lr plog.LogRecord) LogRecord {
	t := lr.Timestamp()
	if t == 0 {
		t = lr.ObservedTimestamp()
	}
	rec := LogRecord{
		Timestamp:          t.AsTime().UTC(),
		SeverityText:       lr.SeverityText(),
		SeverityNumber:     uint8(lr.SeverityNumber()),
		Body:               lr.Body().AsString(),
		ScopeName:          scope.Name(),
		ResourceAttributes: attrStrings(res.Attributes()),
		LogAttributes:      attrStrings(lr.Attributes()),
	}
	if id := lr.TraceID(); !id.IsEmpty() {
		rec.TraceID = id.String()
	}
	if id := lr.SpanID(); !id.IsEmpty() {
		rec.SpanID = id.String()
	}
	rec.ServiceName = rec.ResourceAttributes[AttrServiceName]
	return rec
}

func attrStrings(m pcommon.Map) map[string]string {
	out := make(map[string]string, m.Len())
	m.Range(func(k string, v pcommon.Value) bool {
		out[k] = v.AsString()
		return true
	})
	return out
}

// LogsBatch is the otel_logs insert for recs (database.otel_logs), with the
// column types the schema has; the tenant columns are materialized by the
// table from ResourceAttributes.
func LogsBatch(database string, recs []LogRecord) *store.Batch {
	rows := schema.NewLogRows[map[string]string](len(recs))
	for _, r := range recs {
		rows.Append(schema.LogRow[map[string]string]{Timestamp: r.Timestamp, TraceID: r.TraceID, SpanID: r.SpanID,
			SeverityText: r.SeverityText, SeverityNumber: r.SeverityNumber, ServiceName: r.ServiceName, Body: r.Body,
			ResourceAttributes: nonNil(r.ResourceAttributes), ScopeName: r.ScopeName, ScopeAttributes: map[string]string{},
			LogAttributes: nonNil(r.LogAttributes)})
	}
	return rows.Batch(database, "otel_logs")
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
