package promremotewritereceiver

import (
	"testing"

	"github.com/prometheus/prometheus/prompb"
)

// FuzzWriteRequest feeds arbitrary bytes to the decoder and translator: no
// input may panic, and an accepted request yields one point per sample.
func FuzzWriteRequest(f *testing.F) {
	raw, err := sampleRequest().Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	f.Add(raw[:len(raw)/2])
	f.Add([]byte{0x0a, 0x04, 0x08, 0x01, 0x10, 0x02})
	f.Fuzz(func(t *testing.T, body []byte) {
		var wr prompb.WriteRequest
		if err := wr.Unmarshal(body); err != nil {
			return
		}
		want := 0
		for _, ts := range wr.Timeseries {
			want += len(ts.Samples) + len(ts.Histograms)
		}
		md, points, err := toMetrics(&wr, &metadata{max: 10}, defaultMaxSeriesPerRequest)
		if err != nil {
			return
		}
		if points != want || md.DataPointCount() != want {
			t.Fatalf("accepted request: %d samples, %d points counted, %d in pdata", want, points, md.DataPointCount())
		}
	})
}
