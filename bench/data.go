// Package bench is obsplane's benchmark harness. Each benchmark measures an
// obsplane path and, in the same run, the raw engine (and a real OpenSearch
// where one is reachable) doing the same work, and reports ratios. Results
// are written into docs/BENCHMARKS.md between markers, one section per
// benchmark; cmd/obsplane-bench runs them.
package bench

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/openchoreo/obsplane/internal/store"
)

// LogRows builds n otel_logs rows shaped like what the gateway writes for
// OpenChoreo workloads: a handful of components in a few namespaces, k8s and
// openchoreo resource attributes, bodies of 80-200 bytes. seed makes runs
// repeatable; start is the first row's timestamp, rows are 1 ms apart.
func LogRows(n int, seed uint64, start time.Time) *store.Batch {
	r := rand.New(rand.NewPCG(seed, 1))
	ts := make([]time.Time, n)
	traceID := make([]string, n)
	spanID := make([]string, n)
	flags := make([]uint8, n)
	sevText := make([]string, n)
	sevNum := make([]uint8, n)
	svc := make([]string, n)
	body := make([]string, n)
	resURL := make([]string, n)
	resAttrs := make([]map[string]string, n)
	scopeURL := make([]string, n)
	scopeName := make([]string, n)
	scopeVer := make([]string, n)
	scopeAttrs := make([]map[string]string, n)
	logAttrs := make([]map[string]string, n)
	event := make([]string, n)
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
		ts[i] = start.Add(time.Duration(i) * time.Millisecond)
		if r.IntN(4) == 0 {
			traceID[i] = fmt.Sprintf("%016x%016x", r.Uint64(), r.Uint64())
			spanID[i] = fmt.Sprintf("%016x", r.Uint64())
			flags[i] = 1
		}
		sevText[i], sevNum[i] = lv.text, lv.num
		svc[i] = c
		b := make([]byte, 0, 200)
		b = fmt.Appendf(b, "%s %s", ts[i].Format(time.RFC3339Nano), lv.text)
		for w := 0; w < 8+r.IntN(12); w++ {
			b = append(b, ' ')
			b = append(b, words[r.IntN(len(words))]...)
		}
		b = fmt.Appendf(b, " id=%d", r.IntN(1_000_000))
		body[i] = string(b)
		resAttrs[i] = res[ns+"/"+c]
		scopeAttrs[i] = map[string]string{}
		logAttrs[i] = map[string]string{"log.iostream": "stdout"}
	}
	return &store.Batch{Database: "otel", Table: "otel_logs", Rows: n, Columns: []store.Column{
		{Name: "Timestamp", Type: "DateTime64(9)", Values: ts},
		{Name: "TraceId", Type: "String", Values: traceID},
		{Name: "SpanId", Type: "String", Values: spanID},
		{Name: "TraceFlags", Type: "UInt8", Values: flags},
		{Name: "SeverityText", Type: "LowCardinality(String)", Values: sevText},
		{Name: "SeverityNumber", Type: "UInt8", Values: sevNum},
		{Name: "ServiceName", Type: "LowCardinality(String)", Values: svc},
		{Name: "Body", Type: "String", Values: body},
		{Name: "ResourceSchemaUrl", Type: "LowCardinality(String)", Values: resURL},
		{Name: "ResourceAttributes", Type: "Map(LowCardinality(String), String)", Values: resAttrs},
		{Name: "ScopeSchemaUrl", Type: "LowCardinality(String)", Values: scopeURL},
		{Name: "ScopeName", Type: "String", Values: scopeName},
		{Name: "ScopeVersion", Type: "LowCardinality(String)", Values: scopeVer},
		{Name: "ScopeAttributes", Type: "Map(LowCardinality(String), String)", Values: scopeAttrs},
		{Name: "LogAttributes", Type: "Map(LowCardinality(String), String)", Values: logAttrs},
		{Name: "EventName", Type: "String", Values: event},
	}}
}
