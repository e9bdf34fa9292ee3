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

	"github.com/openchoreo/obsplane/internal/schema"
	"github.com/openchoreo/obsplane/internal/store"
)

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
