package bench

import "testing"

// BenchmarkEncodeNative is the Go side of every insert: 5,000 workload logs
// as one otel_logs Native block.
func BenchmarkEncodeNative(b *testing.B) {
	w := NewWorkload(5000, 0)
	pods, weights := w.Pods()
	batch := LogBatch(w.Request(0, pods, newPicker(weights)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := batch.EncodeNative(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/5000, "ns/row")
}
