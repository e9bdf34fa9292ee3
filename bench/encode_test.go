package bench

import (
	"strings"
	"testing"

	"github.com/openchoreo/obsplane/internal/store"
)

// BenchmarkEncodeNative is the Go side of every insert: 5,000 workload logs
// as one otel_logs Native block, with the attribute maps on the typed
// encoder (as inserts run) and, for comparison, on clickhouse-go's generic
// one (the type spelled without its space, which the typed path does not
// take). cpu-ns/row is the process's CPU time, which other work on the
// machine does not inflate as it does wall time.
func BenchmarkEncodeNative(b *testing.B) {
	w := NewWorkload(5000, 0)
	pods, weights := w.Pods()
	batch := LogBatch(w.Request(0, pods, newPicker(weights)))
	generic := *batch
	generic.Columns = append([]store.Column(nil), batch.Columns...)
	for i, c := range generic.Columns {
		generic.Columns[i].Type = strings.ReplaceAll(c.Type, ", String)", ",String)")
	}
	for _, bc := range []struct {
		name  string
		batch *store.Batch
	}{{"typed maps", batch}, {"generic maps", &generic}} {
		b.Run(bc.name, func(b *testing.B) {
			c0 := cpuSeconds()
			for b.Loop() {
				if _, err := bc.batch.EncodeNative(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric((cpuSeconds()-c0)*1e9/float64(b.N)/float64(bc.batch.Rows), "cpu-ns/row")
		})
	}
}
