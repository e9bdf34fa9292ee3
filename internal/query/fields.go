package query

import (
	"strings"
)

// Resource attribute keys the gateway's openchoreo processor writes. They are the
// only place the query side names them; tenancy and the OpenChoreo filters
// read ResourceAttributes[key] directly, so queries stay correct whether or
// not a MATERIALIZED column for the key exists.
const (
	AttrNamespace      = "openchoreo.namespace"
	AttrProject        = "openchoreo.project"
	AttrComponent      = "openchoreo.component"
	AttrEnvironment    = "openchoreo.environment"
	AttrNamespaceUID   = "openchoreo.namespace.uid"
	AttrProjectUID     = "openchoreo.project.uid"
	AttrComponentUID   = "openchoreo.component.uid"
	AttrEnvironmentUID = "openchoreo.environment.uid"

	AttrK8sPodName       = "k8s.pod.name"
	AttrK8sPodUID        = "k8s.pod.uid"
	AttrK8sNamespaceName = "k8s.namespace.name"
	AttrK8sContainerName = "k8s.container.name"
	AttrK8sNodeName      = "k8s.node.name"
)

// Kind is the value type of a field; it decides how literals compared with
// the field are bound.
type Kind int

// Field kinds.
const (
	KindString Kind = iota
	KindTime        // DateTime64(9); literals are parsed as times
	KindInt         // signed integer
	KindUint        // unsigned integer
	KindFloat       // floating point
)

func (k Kind) String() string {
	switch k {
	case KindTime:
		return "time"
	case KindInt, KindUint:
		return "integer"
	case KindFloat:
		return "number"
	}
	return "string"
}

// Field is one user-facing field and the expression it stands for.
type Field struct {
	// Name is the canonical user-facing name.
	Name string
	// Expr is the ClickHouse expression.
	Expr Expr
	Kind Kind
	// Text marks the full-text body: like '%tok%', match() and free-text
	// search use token functions on it.
	Text bool
	// Fold makes equality case-insensitive (severity: "error" finds
	// "ERROR"). The value is upper-cased and compared with upper(column).
	Fold bool
	// mapValue rewrites a literal before binding (Data Prepper's numeric
	// status codes to the exporter's names). ok=false keeps the literal.
	mapValue func(v string) (string, bool)
}

// FieldMap resolves user-facing field names (OpenChoreo's OpenSearch names,
// OTel names, and the short names of the obsplane API) on one table.
type FieldMap struct {
	fields map[string]*Field
	// dynamic maps a name prefix ("resource.attributes.") to a Map column;
	// the rest of the name is the key, bound as a parameter.
	dynamic []dynamicField
	// tenant is the expression Scope filters on.
	tenant Expr
	// text is the field free-text search reads (Body for logs).
	text *Field
	// time is the table's event time.
	time *Field
}

type dynamicField struct {
	prefix string
	mapCol string
}

// maxAttrKey bounds a user-chosen attribute key.
const maxAttrKey = 256

// Lookup returns the field called name, or false. Names are matched exactly,
// then case-insensitively.
func (m *FieldMap) Lookup(name string) (*Field, bool) {
	if f, ok := m.fields[name]; ok {
		return f, true
	}
	if f, ok := m.fields[strings.ToLower(name)]; ok {
		return f, true
	}
	for _, d := range m.dynamic {
		if len(name) > len(d.prefix) && strings.EqualFold(name[:len(d.prefix)], d.prefix) {
			key := name[len(d.prefix):]
			if len(key) > maxAttrKey {
				return nil, false
			}
			return &Field{Name: name, Expr: MapKeyParam(d.mapCol, key)}, true
		}
	}
	return nil, false
}

// Text returns the full-text field (Body), or nil.
func (m *FieldMap) Text() *Field { return m.text }

// Time returns the event-time field (Timestamp).
func (m *FieldMap) Time() *Field { return m.time }

// Names lists the canonical field names, for error messages and docs.
func (m *FieldMap) Names() []string {
	seen := map[string]bool{}
	var out []string
	for _, f := range m.fields {
		if !seen[f.Name] {
			seen[f.Name] = true
			out = append(out, f.Name)
		}
	}
	return out
}

type fieldDef struct {
	names []string // first is canonical
	f     Field
}

func newFieldMap(defs []fieldDef, dynamic []dynamicField) *FieldMap {
	m := &FieldMap{fields: map[string]*Field{}, dynamic: dynamic}
	for _, d := range defs {
		f := d.f
		f.Name = d.names[0]
		for _, n := range d.names {
			m.fields[n] = &f
			m.fields[strings.ToLower(n)] = &f
		}
	}
	return m
}

func ra(key string) Expr { return MapKey("ResourceAttributes", key) }

// openChoreoFields are the tenant and Kubernetes fields both tables share.
// OpenSearch stored pod labels with dots replaced (Fluent Bit Replace_Dots),
// so openchoreo.dev/component is kubernetes.labels.openchoreo_dev/component.
var openChoreoFields = []fieldDef{
	{[]string{"kubernetes.labels.openchoreo_dev/namespace", "namespace", "namespaceName", AttrNamespace}, Field{Expr: ra(AttrNamespace)}},
	{[]string{"kubernetes.labels.openchoreo_dev/project", "project", "projectName", AttrProject}, Field{Expr: ra(AttrProject)}},
	{[]string{"kubernetes.labels.openchoreo_dev/component", "component", "componentName", AttrComponent}, Field{Expr: ra(AttrComponent)}},
	{[]string{"kubernetes.labels.openchoreo_dev/environment", "environment", "environmentName", AttrEnvironment}, Field{Expr: ra(AttrEnvironment)}},
	{[]string{"kubernetes.labels.openchoreo_dev/namespace-uid", "namespaceId", "namespaceUid", AttrNamespaceUID}, Field{Expr: ra(AttrNamespaceUID)}},
	{[]string{"kubernetes.labels.openchoreo_dev/project-uid", "projectId", "projectUid", AttrProjectUID}, Field{Expr: ra(AttrProjectUID)}},
	{[]string{"kubernetes.labels.openchoreo_dev/component-uid", "componentId", "componentUid", AttrComponentUID}, Field{Expr: ra(AttrComponentUID)}},
	{[]string{"kubernetes.labels.openchoreo_dev/environment-uid", "environmentId", "environmentUid", AttrEnvironmentUID}, Field{Expr: ra(AttrEnvironmentUID)}},
	{[]string{"kubernetes.pod_name", "pod", "podName", AttrK8sPodName}, Field{Expr: ra(AttrK8sPodName)}},
	{[]string{"kubernetes.pod_id", "podId", AttrK8sPodUID}, Field{Expr: ra(AttrK8sPodUID)}},
	{[]string{"kubernetes.namespace_name", "podNamespace", AttrK8sNamespaceName}, Field{Expr: ra(AttrK8sNamespaceName)}},
	{[]string{"kubernetes.container_name", "container", "containerName", AttrK8sContainerName}, Field{Expr: ra(AttrK8sContainerName)}},
	{[]string{"kubernetes.host", "node", "nodeName", AttrK8sNodeName}, Field{Expr: ra(AttrK8sNodeName)}},
}

// LogFields maps OpenChoreo's OpenSearch log fields (and OTel and short
// names) to otel_logs.
var LogFields = func() *FieldMap {
	defs := append([]fieldDef{
		{[]string{"@timestamp", "timestamp", "time", "Timestamp"}, Field{Expr: Col("Timestamp"), Kind: KindTime}},
		{[]string{"log", "message", "body", "Body"}, Field{Expr: Col("Body"), Text: true}},
		{[]string{"service", "serviceName", "service.name", "ServiceName"}, Field{Expr: Col("ServiceName")}},
		{[]string{"level", "logLevel", "severity", "severityText", "SeverityText"}, Field{Expr: Col("SeverityText"), Fold: true}},
		{[]string{"severityNumber", "SeverityNumber"}, Field{Expr: Col("SeverityNumber"), Kind: KindUint}},
		{[]string{"traceId", "trace_id", "traceID", "TraceId"}, Field{Expr: Col("TraceId")}},
		{[]string{"spanId", "span_id", "spanID", "SpanId"}, Field{Expr: Col("SpanId")}},
		{[]string{"traceFlags", "TraceFlags"}, Field{Expr: Col("TraceFlags"), Kind: KindUint}},
		{[]string{"scopeName", "ScopeName"}, Field{Expr: Col("ScopeName")}},
		{[]string{"scopeVersion", "ScopeVersion"}, Field{Expr: Col("ScopeVersion")}},
		{[]string{"eventName", "EventName"}, Field{Expr: Col("EventName")}},
	}, openChoreoFields...)
	m := newFieldMap(defs, []dynamicField{
		{"resource.attributes.", "ResourceAttributes"},
		{"ResourceAttributes.", "ResourceAttributes"},
		{"log.attributes.", "LogAttributes"},
		{"attributes.", "LogAttributes"},
		{"LogAttributes.", "LogAttributes"},
		{"scope.attributes.", "ScopeAttributes"},
	})
	m.tenant = Col("OpenChoreoNamespace")
	m.text = m.fields["log"]
	m.time = m.fields["@timestamp"]
	return m
}()

// statusCodes maps Data Prepper's numeric status.code to the names the
// exporter writes (ptrace.StatusCode.String()).
var statusCodes = map[string]string{"0": "Unset", "1": "Ok", "2": "Error",
	"STATUS_CODE_UNSET": "Unset", "STATUS_CODE_OK": "Ok", "STATUS_CODE_ERROR": "Error"}

// spanKinds maps Data Prepper's kind values to ptrace.SpanKind.String().
var spanKinds = map[string]string{
	"SPAN_KIND_UNSPECIFIED": "Unspecified", "SPAN_KIND_INTERNAL": "Internal",
	"SPAN_KIND_SERVER": "Server", "SPAN_KIND_CLIENT": "Client",
	"SPAN_KIND_PRODUCER": "Producer", "SPAN_KIND_CONSUMER": "Consumer",
}

func lookupIn(m map[string]string) func(string) (string, bool) {
	return func(v string) (string, bool) { s, ok := m[strings.ToUpper(v)]; return s, ok }
}

// TraceFields maps OpenSearch trace-analytics span fields (Data Prepper's
// otel-v1-apm-span documents) and OTel names to otel_traces.
var TraceFields = func() *FieldMap {
	defs := append([]fieldDef{
		{[]string{"startTime", "@timestamp", "timestamp", "Timestamp"}, Field{Expr: Col("Timestamp"), Kind: KindTime}},
		{[]string{"traceId", "trace_id", "TraceId"}, Field{Expr: Col("TraceId")}},
		{[]string{"spanId", "span_id", "SpanId"}, Field{Expr: Col("SpanId")}},
		{[]string{"parentSpanId", "parent_span_id", "ParentSpanId"}, Field{Expr: Col("ParentSpanId")}},
		{[]string{"traceState", "TraceState"}, Field{Expr: Col("TraceState")}},
		{[]string{"name", "spanName", "operation", "SpanName"}, Field{Expr: Col("SpanName")}},
		{[]string{"kind", "spanKind", "SpanKind"}, Field{Expr: Col("SpanKind"), mapValue: lookupIn(spanKinds)}},
		{[]string{"serviceName", "service", "service.name", "ServiceName"}, Field{Expr: Col("ServiceName")}},
		{[]string{"durationInNanos", "duration", "Duration"}, Field{Expr: Col("Duration"), Kind: KindUint}},
		{[]string{"status.code", "statusCode", "StatusCode"}, Field{Expr: Col("StatusCode"), mapValue: lookupIn(statusCodes)}},
		{[]string{"status.message", "statusMessage", "StatusMessage"}, Field{Expr: Col("StatusMessage"), Text: true}},
		{[]string{"scopeName", "ScopeName"}, Field{Expr: Col("ScopeName")}},
	}, openChoreoFields...)
	m := newFieldMap(defs, []dynamicField{
		{"resource.attributes.", "ResourceAttributes"},
		{"ResourceAttributes.", "ResourceAttributes"},
		{"span.attributes.", "SpanAttributes"},
		{"attributes.", "SpanAttributes"},
		{"SpanAttributes.", "SpanAttributes"},
	})
	m.tenant = Col("OpenChoreoNamespace")
	m.text = m.fields["status.message"]
	m.time = m.fields["startTime"]
	return m
}()

// The tables obsplane reads, in database otel; Options.Database (PPL) and
// callers building their own statements copy the value and change Database.
var (
	LogsTable   = Table{Database: "otel", Name: "otel_logs", Fields: LogFields}
	TracesTable = Table{Database: "otel", Name: "otel_traces", Fields: TraceFields}
)

// TableForIndex maps an OpenSearch index name or pattern, as a PPL source
// names it, to the table holding the same data: OpenChoreo's log indices
// (container-logs-*, the pre-Dec-2025 kubernetes-*, logs) to otel_logs, and
// trace indices (otel-traces-*, otel-v1-apm-span-*, traces) to otel_traces.
func TableForIndex(index string) (Table, bool) {
	i := strings.ToLower(strings.Trim(index, "`"))
	switch {
	case i == "logs" || i == "otel_logs" || i == "otel-logs" || strings.HasPrefix(i, "otel-logs-") ||
		strings.HasPrefix(i, "container-logs") || strings.HasPrefix(i, "kubernetes"):
		return LogsTable, true
	case i == "traces" || i == "otel_traces" || strings.HasPrefix(i, "otel-traces") ||
		strings.HasPrefix(i, "otel-v1-apm-span"):
		return TracesTable, true
	}
	return Table{}, false
}
