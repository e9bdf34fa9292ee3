package bench

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/openchoreo/obsplane/internal/opensearch"
	"github.com/openchoreo/obsplane/internal/schema"
	"github.com/openchoreo/obsplane/internal/store"
)

// Generators of the earlier benchmarks, kept for the migrate tests that
// build their OpenSearch fixtures with them (internal/migrate).

// LogRows builds n otel_logs rows shaped like what the gateway writes for
// OpenChoreo workloads: a handful of components in a few namespaces, k8s and
// openchoreo resource attributes, bodies of 80-200 bytes. seed makes runs
// repeatable; start is the first row's timestamp, rows are 1 ms apart.
func LogRows(n int, seed uint64, start time.Time) *store.Batch {
	r := rand.New(rand.NewPCG(seed, 1))
	rows := schema.NewLogRows[map[string]string](n)
	components := []string{"gateway", "orders", "payments", "catalog", "users", "search", "cart", "auth"}
	namespaces := []string{"default", "acme", "globex"}
	levels := []struct {
		text string
		num  uint8
	}{{"INFO", 9}, {"INFO", 9}, {"INFO", 9}, {"DEBUG", 5}, {"WARN", 13}, {"ERROR", 17}}
	words := []string{"request", "served", "user", "order", "payment", "timeout", "cache", "miss", "db", "query", "retry", "connection", "reset", "upstream", "latency"}
	// Resource attribute maps are shared per (namespace, component): the
	// gateway builds one per resource, not one per record.
	res := map[string]map[string]string{}
	for _, ns := range namespaces {
		for _, c := range components {
			res[ns+"/"+c] = map[string]string{
				"k8s.namespace.name":     "dp-" + ns + "-" + c,
				"k8s.pod.name":           c + "-7d9f8b6c5-x2x9z",
				"k8s.container.name":     c,
				"k8s.node.name":          "node-1",
				"openchoreo.namespace":   ns,
				"openchoreo.project":     "shop",
				"openchoreo.component":   c,
				"openchoreo.environment": "development",
				"service.name":           c,
			}
		}
	}
	for i := range n {
		ns := namespaces[r.IntN(len(namespaces))]
		c := components[r.IntN(len(components))]
		lv := levels[r.IntN(len(levels))]
		row := schema.LogRow[map[string]string]{Timestamp: start.Add(time.Duration(i) * time.Millisecond),
			SeverityText: lv.text, SeverityNumber: lv.num, ServiceName: c, ResourceAttributes: res[ns+"/"+c],
			ScopeAttributes: map[string]string{}, LogAttributes: map[string]string{"log.iostream": "stdout"}}
		if r.IntN(4) == 0 {
			row.TraceID = fmt.Sprintf("%016x%016x", r.Uint64(), r.Uint64())
			row.SpanID = fmt.Sprintf("%016x", r.Uint64())
			row.TraceFlags = 1
		}
		b := make([]byte, 0, 200)
		b = fmt.Appendf(b, "%s %s", row.Timestamp.Format(time.RFC3339Nano), lv.text)
		for w := 0; w < 8+r.IntN(12); w++ {
			b = append(b, ' ')
			b = append(b, words[r.IntN(len(words))]...)
		}
		b = fmt.Appendf(b, " id=%d", r.IntN(1_000_000))
		row.Body = string(b)
		rows.Append(row)
	}
	return rows.Batch("otel", "otel_logs")
}

// LogDocuments encodes a LogRows batch as the container-logs documents
// Fluent Bit would have written for the same lines, with internal/opensearch's
// mapping (EncodeLogDocument), each bound for its daily index.
func LogDocuments(b *store.Batch) ([]opensearch.BulkDoc, error) {
	ts := column[time.Time](b, "Timestamp")
	tid, sid := column[string](b, "TraceId"), column[string](b, "SpanId")
	sevText, sevNum := column[string](b, "SeverityText"), column[uint8](b, "SeverityNumber")
	svc, body, scope := column[string](b, "ServiceName"), column[string](b, "Body"), column[string](b, "ScopeName")
	res, attrs := column[map[string]string](b, "ResourceAttributes"), column[map[string]string](b, "LogAttributes")
	docs := make([]opensearch.BulkDoc, b.Rows)
	for i := range b.Rows {
		src, err := opensearch.EncodeLogDocument(opensearch.LogRecord{
			Timestamp: ts[i], TraceID: tid[i], SpanID: sid[i], SeverityText: sevText[i], SeverityNumber: sevNum[i],
			ServiceName: svc[i], Body: body[i], ScopeName: scope[i], ResourceAttributes: res[i], LogAttributes: attrs[i],
		})
		if err != nil {
			return nil, fmt.Errorf("log row %d: %w", i, err)
		}
		docs[i] = opensearch.BulkDoc{Index: opensearch.ContainerLogsIndex(ts[i]), Source: src}
	}
	return docs, nil
}

// callTree is the shape every generated trace follows: a SERVER span per
// service hop, with the CLIENT span that called it as its parent.
var callTree = []struct {
	service, name, parent string
}{
	{"gateway", "GET /api/orders", ""},
	{"orders", "GET /orders", "gateway"},
	{"catalog", "GET /items", "orders"},
	{"payments", "POST /charge", "orders"},
	{"users", "GET /users/{id}", "gateway"},
}

// TraceRows builds otel_traces rows for traces traces, each a call tree over
// five services: nine spans, the root SERVER span and a CLIENT and a SERVER
// span for each of the four hops. About 2% of traces fail in payments. Returns the batch and the
// trace ids in order.
func TraceRows(traces int, seed uint64, start time.Time) (*store.Batch, []string) {
	r := rand.New(rand.NewPCG(seed, 2))
	n := traces * (2*len(callTree) - 1)
	ts := make([]time.Time, 0, n)
	traceID := make([]string, 0, n)
	spanID := make([]string, 0, n)
	parentID := make([]string, 0, n)
	state := make([]string, 0, n)
	spanName := make([]string, 0, n)
	kind := make([]string, 0, n)
	svc := make([]string, 0, n)
	resAttrs := make([]map[string]string, 0, n)
	scopeName := make([]string, 0, n)
	scopeVer := make([]string, 0, n)
	spanAttrs := make([]map[string]string, 0, n)
	dur := make([]uint64, 0, n)
	status := make([]string, 0, n)
	statusMsg := make([]string, 0, n)
	evTS := make([][]time.Time, 0, n)
	evName := make([][]string, 0, n)
	evAttrs := make([][]map[string]string, 0, n)
	lkTrace := make([][]string, 0, n)
	lkSpan := make([][]string, 0, n)
	lkState := make([][]string, 0, n)
	lkAttrs := make([][]map[string]string, 0, n)
	res := map[string]map[string]string{}
	for _, c := range callTree {
		res[c.service] = map[string]string{
			"service.name": c.service, "k8s.namespace.name": "dp-acme-" + c.service, "k8s.pod.name": c.service + "-5c7b9-abcde",
			"openchoreo.namespace": "acme", "openchoreo.project": "shop", "openchoreo.component": c.service, "openchoreo.environment": "development",
		}
	}
	ids := make([]string, traces)
	add := func(t time.Time, tid, sid, pid, name, k, service string, d time.Duration, failed bool) {
		ts = append(ts, t)
		traceID = append(traceID, tid)
		spanID = append(spanID, sid)
		parentID = append(parentID, pid)
		state = append(state, "")
		spanName = append(spanName, name)
		kind = append(kind, k)
		svc = append(svc, service)
		resAttrs = append(resAttrs, res[service])
		scopeName = append(scopeName, "obsplane-bench")
		scopeVer = append(scopeVer, "1")
		spanAttrs = append(spanAttrs, map[string]string{"http.method": "GET"})
		dur = append(dur, uint64(d))
		st, msg := "Ok", ""
		if failed {
			st, msg = "Error", "card declined"
		}
		status = append(status, st)
		statusMsg = append(statusMsg, msg)
		evTS = append(evTS, []time.Time{})
		evName = append(evName, []string{})
		evAttrs = append(evAttrs, []map[string]string{})
		lkTrace = append(lkTrace, []string{})
		lkSpan = append(lkSpan, []string{})
		lkState = append(lkState, []string{})
		lkAttrs = append(lkAttrs, []map[string]string{})
	}
	for i := range traces {
		tid := fmt.Sprintf("%016x%016x", r.Uint64(), r.Uint64())
		ids[i] = tid
		t0 := start.Add(time.Duration(i) * 10 * time.Millisecond)
		failed := r.IntN(50) == 0
		serverSpan := map[string]string{}
		for _, c := range callTree {
			d := time.Duration(1+r.IntN(200)) * time.Millisecond
			sid := fmt.Sprintf("%016x", r.Uint64())
			if c.parent == "" {
				add(t0, tid, sid, "", c.name, "SPAN_KIND_SERVER", c.service, d, false)
			} else {
				cid := fmt.Sprintf("%016x", r.Uint64())
				fail := failed && c.service == "payments"
				add(t0, tid, cid, serverSpan[c.parent], c.name, "SPAN_KIND_CLIENT", c.parent, d+time.Millisecond, fail)
				add(t0, tid, sid, cid, c.name, "SPAN_KIND_SERVER", c.service, d, fail)
			}
			serverSpan[c.service] = sid
		}
	}
	return &store.Batch{Database: "otel", Table: "otel_traces", Rows: len(ts), Columns: []store.Column{
		{Name: "Timestamp", Type: "DateTime64(9)", Values: ts},
		{Name: "TraceId", Type: "String", Values: traceID},
		{Name: "SpanId", Type: "String", Values: spanID},
		{Name: "ParentSpanId", Type: "String", Values: parentID},
		{Name: "TraceState", Type: "String", Values: state},
		{Name: "SpanName", Type: "LowCardinality(String)", Values: spanName},
		{Name: "SpanKind", Type: "LowCardinality(String)", Values: kind},
		{Name: "ServiceName", Type: "LowCardinality(String)", Values: svc},
		{Name: "ResourceAttributes", Type: "Map(LowCardinality(String), String)", Values: resAttrs},
		{Name: "ScopeName", Type: "String", Values: scopeName},
		{Name: "ScopeVersion", Type: "String", Values: scopeVer},
		{Name: "SpanAttributes", Type: "Map(LowCardinality(String), String)", Values: spanAttrs},
		{Name: "Duration", Type: "UInt64", Values: dur},
		{Name: "StatusCode", Type: "LowCardinality(String)", Values: status},
		{Name: "StatusMessage", Type: "String", Values: statusMsg},
		{Name: "Events.Timestamp", Type: "Array(DateTime64(9))", Values: evTS},
		{Name: "Events.Name", Type: "Array(LowCardinality(String))", Values: evName},
		{Name: "Events.Attributes", Type: "Array(Map(LowCardinality(String), String))", Values: evAttrs},
		{Name: "Links.TraceId", Type: "Array(String)", Values: lkTrace},
		{Name: "Links.SpanId", Type: "Array(String)", Values: lkSpan},
		{Name: "Links.TraceState", Type: "Array(String)", Values: lkState},
		{Name: "Links.Attributes", Type: "Array(Map(LowCardinality(String), String))", Values: lkAttrs},
	}}, ids
}

// SpansPerTrace is how many spans TraceRows writes per trace.
func SpansPerTrace() int { return 2*len(callTree) - 1 }
