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
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

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

// OpenChoreo's pod label names (after "openchoreo.dev/") and the resource
// attribute each becomes.
var ocLabelAttrs = []struct{ label, attr string }{
	{"namespace", "openchoreo.namespace"},
	{"namespace-uid", "openchoreo.namespace.uid"},
	{"project", "openchoreo.project"},
	{"project-uid", "openchoreo.project.uid"},
	{"component", "openchoreo.component"},
	{"component-uid", "openchoreo.component.uid"},
	{"environment", "openchoreo.environment"},
	{"environment-uid", "openchoreo.environment.uid"},
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
	var rec LogRecord
	dec := json.NewDecoder(bytes.NewReader(source))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return rec, docErr(ReasonNotJSON, "not a JSON object: %v", err)
	}
	if doc == nil {
		return rec, docErr(ReasonNotJSON, "not a JSON object: null")
	}
	if dec.More() {
		return rec, docErr(ReasonNotJSON, "trailing data after the JSON object")
	}
	rec.ResourceAttributes = map[string]string{}
	rec.LogAttributes = map[string]string{}

	ts, usedTime, err := docTimestamp(doc)
	if err != nil {
		return rec, err
	}
	rec.Timestamp = ts
	if v, ok := doc[fieldLog]; ok {
		rec.Body = scalarText(v)
	}
	if v, ok := doc[fieldStream]; ok && v != nil {
		rec.LogAttributes[AttrIOStream] = scalarText(v)
	}
	if v, ok := doc[fieldKubernetes]; ok && v != nil {
		k, ok := v.(map[string]any)
		if !ok {
			return rec, docErr(ReasonFieldType, "field %q is a %s, want an object", fieldKubernetes, jsonKind(v))
		}
		if err := decodeKubernetes(k, rec.ResourceAttributes); err != nil {
			return rec, err
		}
	}
	if v, ok := doc[fieldOtel]; ok && v != nil {
		o, ok := v.(map[string]any)
		if !ok {
			return rec, docErr(ReasonFieldType, "field %q is a %s, want an object", fieldOtel, jsonKind(v))
		}
		if err := decodeOtel(o, &rec); err != nil {
			return rec, err
		}
	}
	for k, v := range doc {
		switch k {
		case fieldTimestamp, fieldLog, fieldStream, fieldKubernetes, fieldOtel:
			continue
		case fieldTime:
			if usedTime {
				continue
			}
		}
		flatten(k, v, 0, rec.LogAttributes)
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

// docTimestamp reads @timestamp and time; usedTime reports that time gave
// the timestamp (so it is not also kept as an attribute).
func docTimestamp(doc map[string]any) (ts time.Time, usedTime bool, err error) {
	raw, ok := doc[fieldTimestamp]
	if !ok || raw == nil {
		return time.Time{}, false, docErr(ReasonNoTimestamp, "no %q field", fieldTimestamp)
	}
	ts, err = parseDocTime(raw)
	if err != nil {
		return time.Time{}, false, docErr(ReasonBadTimestamp, "field %q: %v", fieldTimestamp, err)
	}
	if rawTime, ok := doc[fieldTime]; ok {
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
func parseDocTime(v any) (time.Time, error) {
	switch t := v.(type) {
	case json.Number:
		return epochMillis(string(t))
	case string:
		s := strings.TrimSpace(t)
		if s == "" {
			return time.Time{}, errors.New("empty")
		}
		if s[0] >= '0' && s[0] <= '9' && !strings.ContainsAny(s, "-:T") {
			return epochMillis(s)
		}
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999", "2006-01-02"} {
			if ts, err := time.Parse(layout, s); err == nil {
				return ts.UTC(), nil
			}
		}
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 date-time or epoch milliseconds", truncateStr(s, 64))
	}
	return time.Time{}, fmt.Errorf("a %s is not a date", jsonKind(v))
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

func decodeKubernetes(k map[string]any, res map[string]string) error {
	known := map[string]string{}
	for _, f := range kubernetesFields {
		known[f.field] = f.attr
	}
	for name, v := range k {
		if v == nil {
			continue
		}
		switch name {
		case "labels", "annotations":
			m, ok := v.(map[string]any)
			if !ok {
				return docErr(ReasonFieldType, "field kubernetes.%s is a %s, want an object", name, jsonKind(v))
			}
			prefix := PodLabelPrefix
			if name == "annotations" {
				prefix = PodAnnotationPrefix
			}
			for key, lv := range m {
				if key == "" || lv == nil {
					continue
				}
				res[prefix+UnreplaceDots(key)] = scalarText(lv)
			}
			continue
		}
		if attr, ok := known[name]; ok {
			res[attr] = scalarText(v)
			continue
		}
		flatten(kubernetesOtherPrefix+name, v, 1, res)
	}
	// OpenChoreo's tenant attributes come from its labels, as the gateway
	// derives them. Empty label values do not count.
	for _, l := range ocLabelAttrs {
		if v := res[PodLabelPrefix+"openchoreo.dev/"+l.label]; v != "" {
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

func decodeOtel(o map[string]any, rec *LogRecord) error {
	str := func(name string) string {
		if v, ok := o[name]; ok && v != nil {
			return scalarText(v)
		}
		return ""
	}
	rec.SeverityText = str("severity_text")
	if s := str("severity_number"); s != "" {
		n, err := strconv.ParseUint(s, 10, 8)
		if err != nil || n > 24 {
			return docErr(ReasonBadSeverity, "field otel.severity_number %q is not an OTel severity number (0..24)", truncateStr(s, 32))
		}
		rec.SeverityNumber = uint8(n)
	}
	rec.TraceID = str("trace_id")
	rec.SpanID = str("span_id")
	rec.ServiceName = str("service_name")
	rec.ScopeName = str("scope_name")
	for _, p := range []struct {
		name string
		dst  map[string]string
	}{{"resource", rec.ResourceAttributes}, {"attributes", rec.LogAttributes}} {
		v, ok := o[p.name]
		if !ok || v == nil {
			continue
		}
		list, ok := v.([]any)
		if !ok {
			return docErr(ReasonFieldType, "field otel.%s is a %s, want a list of {k, v}", p.name, jsonKind(v))
		}
		if len(list) > maxAttrs {
			return docErr(ReasonFieldType, "field otel.%s has more than %d entries", p.name, maxAttrs)
		}
		for i, e := range list {
			kv, ok := e.(map[string]any)
			if !ok {
				return docErr(ReasonFieldType, "field otel.%s[%d] is a %s, want {k, v}", p.name, i, jsonKind(e))
			}
			k, _ := kv["k"].(string)
			if k == "" {
				return docErr(ReasonFieldType, "field otel.%s[%d] has no string k", p.name, i)
			}
			// Fluent Bit's own fields win over the copies in otel.*: they are
			// what OpenSearch queries see.
			if _, exists := p.dst[k]; !exists {
				p.dst[sanitize(k)] = scalarText(kv["v"])
			}
		}
	}
	return nil
}

// flatten writes v under key: scalars as text, objects as key.child paths
// (up to maxFlattenDepth, deeper as JSON text), arrays as JSON text.
func flatten(key string, v any, depth int, dst map[string]string) {
	if key == "" {
		return // an attribute needs a name; "" is not one in OTel
	}
	key = sanitize(key)
	if m, ok := v.(map[string]any); ok && depth < maxFlattenDepth && len(m) > 0 {
		for k, sub := range m {
			flatten(key+"."+k, sub, depth+1, dst)
		}
		return
	}
	if v == nil {
		return
	}
	if len(dst) >= maxAttrs+1 {
		return // DecodeLogDocument reports the overflow
	}
	dst[key] = scalarText(v)
}

// scalarText is a JSON value as attribute text: strings as they are, numbers
// in their JSON spelling, booleans as true/false, objects and arrays as
// compact JSON.
func scalarText(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return sanitize(t)
	case json.Number:
		return string(t)
	case bool:
		return strconv.FormatBool(t)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

// sanitize makes s valid UTF-8 (encoding/json already replaces bad bytes
// in strings it decodes; keys built here are checked again).
func sanitize(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case json.Number, float64:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "list"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
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
