package promremotewritereceiver

import (
	"bytes"
	"context"
	"errors"
	"math"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/prompb"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver/receivertest"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// start runs the receiver in front of next and returns its write URL.
func start(t *testing.T, next consumer.Metrics) string {
	t.Helper()
	f := NewFactory()
	cfg := f.CreateDefaultConfig().(*Config)
	cfg.NetAddr.Endpoint = freeAddr(t)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	r, err := f.CreateMetrics(context.Background(), receivertest.NewNopSettings(Type), cfg, next)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Shutdown(context.Background()) })
	return "http://" + cfg.NetAddr.Endpoint + "/api/v1/write"
}

func post(t *testing.T, url string, body []byte, header map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	for k, v := range header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

func encode(t testing.TB, wr *prompb.WriteRequest) []byte {
	t.Helper()
	raw, err := wr.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return snappy.Encode(nil, raw)
}

func labels(kv ...string) []prompb.Label {
	var out []prompb.Label
	for i := 0; i < len(kv); i += 2 {
		out = append(out, prompb.Label{Name: kv[i], Value: kv[i+1]})
	}
	return out
}

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC).UnixMilli()

func sampleRequest() *prompb.WriteRequest {
	return &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
		{Labels: labels("__name__", "container_cpu_usage_seconds_total", "job", "cadvisor", "instance", "node-1", "namespace", "dp-1", "pod", "api-0", "container", "main"),
			Samples: []prompb.Sample{{Value: 1.5, Timestamp: t0 + 137}, {Value: 2.25, Timestamp: t0 + 15137}}},
		{Labels: labels("__name__", "container_memory_working_set_bytes", "job", "cadvisor", "instance", "node-1", "namespace", "dp-1", "pod", "api-0", "container", "main"),
			Samples: []prompb.Sample{{Value: 1e8, Timestamp: t0 + 137}, {Value: math.Float64frombits(value.StaleNaN), Timestamp: t0 + 15137}}},
		{Labels: labels("__name__", "hubble_http_request_duration_seconds_bucket", "job", "hubble", "instance", "node-1", "le", "+Inf", "reporter", "server"),
			Samples: []prompb.Sample{{Value: 7, Timestamp: t0 + 500}}},
	}}
}

func TestAcceptedRequestBecomesOneDataPointPerSample(t *testing.T) {
	sink := &consumertest.MetricsSink{}
	url := start(t, sink)
	if code, body := post(t, url, encode(t, sampleRequest()), nil); code != http.StatusNoContent {
		t.Fatalf("status %d: %s", code, body)
	}
	if sink.DataPointCount() != 5 {
		t.Fatalf("want 5 data points, got %d", sink.DataPointCount())
	}
	md := sink.AllMetrics()[0]
	byName := map[string]pmetric.Metric{}
	resources := map[string]bool{}
	for i := 0; i < md.ResourceMetrics().Len(); i++ {
		rm := md.ResourceMetrics().At(i)
		job, _ := rm.Resource().Attributes().Get("service.name")
		inst, _ := rm.Resource().Attributes().Get("service.instance.id")
		resources[job.Str()+"/"+inst.Str()] = true
		sm := rm.ScopeMetrics().At(0)
		if sm.Scope().Name() != ScopeName {
			t.Errorf("scope %q", sm.Scope().Name())
		}
		for j := 0; j < sm.Metrics().Len(); j++ {
			byName[sm.Metrics().At(j).Name()] = sm.Metrics().At(j)
		}
	}
	if !resources["cadvisor/node-1"] || !resources["hubble/node-1"] || len(resources) != 2 {
		t.Errorf("resources by job and instance: %v", resources)
	}
	cpu := byName["container_cpu_usage_seconds_total"]
	if cpu.Type() != pmetric.MetricTypeSum || !cpu.Sum().IsMonotonic() || cpu.Sum().AggregationTemporality() != pmetric.AggregationTemporalityCumulative {
		t.Fatalf("counter: %v", cpu.Type())
	}
	dp := cpu.Sum().DataPoints().At(1)
	if dp.DoubleValue() != 2.25 || dp.Timestamp().AsTime().UnixMilli() != t0+15137 {
		t.Errorf("counter point: %v at %v", dp.DoubleValue(), dp.Timestamp().AsTime())
	}
	if got := dp.Attributes().AsRaw(); got["pod"] != "api-0" || got["job"] != "cadvisor" || got["__name__"] != nil {
		t.Errorf("attributes keep every label but __name__: %v", got)
	}
	mem := byName["container_memory_working_set_bytes"]
	if mem.Type() != pmetric.MetricTypeGauge {
		t.Fatalf("gauge: %v", mem.Type())
	}
	if p := mem.Gauge().DataPoints().At(1); !p.Flags().NoRecordedValue() {
		t.Error("a staleness marker must be flagged no-recorded-value")
	}
	if p := mem.Gauge().DataPoints().At(0); p.Flags().NoRecordedValue() {
		t.Error("a value must not be flagged")
	}
	if b := byName["hubble_http_request_duration_seconds_bucket"]; b.Type() != pmetric.MetricTypeSum {
		t.Errorf("buckets are counters: %v", b.Type())
	}
}

func TestMetadataFillsDescriptionAndUnit(t *testing.T) {
	sink := &consumertest.MetricsSink{}
	url := start(t, sink)
	md := &prompb.WriteRequest{Metadata: []prompb.MetricMetadata{{Type: prompb.MetricMetadata_COUNTER, MetricFamilyName: "container_cpu_usage_seconds_total", Help: "Cumulative cpu time consumed", Unit: "seconds"}}}
	if code, body := post(t, url, encode(t, md), nil); code != http.StatusNoContent {
		t.Fatalf("metadata-only request: %d %s", code, body)
	}
	if sink.DataPointCount() != 0 {
		t.Fatalf("metadata-only request produced points")
	}
	if code, body := post(t, url, encode(t, sampleRequest()), nil); code != http.StatusNoContent {
		t.Fatalf("status %d: %s", code, body)
	}
	found := false
	rms := sink.AllMetrics()[0].ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		ms := rms.At(i).ScopeMetrics().At(0).Metrics()
		for j := 0; j < ms.Len(); j++ {
			if m := ms.At(j); m.Name() == "container_cpu_usage_seconds_total" {
				found = m.Description() == "Cumulative cpu time consumed" && m.Unit() == "seconds"
			}
		}
	}
	if !found {
		t.Error("HELP and UNIT from the metadata request were not applied")
	}
}

func TestBadRequestsAreRefusedWhole(t *testing.T) {
	sink := &consumertest.MetricsSink{}
	url := start(t, sink)
	good, err := sampleRequest().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	with := func(f func(wr *prompb.WriteRequest)) []byte {
		wr := sampleRequest()
		f(wr)
		return encode(t, wr)
	}
	// A field of the wrong wire type: TimeSeries.labels (field 1) sent
	// as a varint instead of a length-delimited message.
	wrongType := snappy.Encode(nil, []byte{0x0a, 0x04, 0x08, 0x01, 0x10, 0x02})
	cases := []struct {
		name   string
		body   []byte
		header map[string]string
		status int
	}{
		{"truncated", snappy.Encode(nil, good[:len(good)-7]), nil, 400},
		{"not snappy", []byte("this is not snappy at all"), nil, 400},
		{"raw protobuf", good, map[string]string{"Content-Encoding": ""}, 415},
		{"gzip", good, map[string]string{"Content-Encoding": "gzip"}, 415},
		{"remote write 2.0", encode(t, sampleRequest()), map[string]string{"Content-Type": "application/x-protobuf;proto=io.prometheus.write.v2.Request"}, 415},
		{"json", encode(t, sampleRequest()), map[string]string{"Content-Type": "application/json"}, 415},
		{"wrong wire type", wrongType, nil, 400},
		{"no metric name", with(func(wr *prompb.WriteRequest) { wr.Timeseries[2].Labels = wr.Timeseries[2].Labels[1:] }), nil, 400},
		{"duplicate label", with(func(wr *prompb.WriteRequest) {
			wr.Timeseries[0].Labels = append(wr.Timeseries[0].Labels, prompb.Label{Name: "pod", Value: "x"})
		}), nil, 400},
		{"empty label name", with(func(wr *prompb.WriteRequest) {
			wr.Timeseries[0].Labels = append(wr.Timeseries[0].Labels, prompb.Label{Value: "x"})
		}), nil, 400},
		{"invalid utf-8", with(func(wr *prompb.WriteRequest) { wr.Timeseries[1].Labels[2].Value = "\xff\xfe" }), nil, 400},
		{"timestamp zero", with(func(wr *prompb.WriteRequest) { wr.Timeseries[2].Samples[0].Timestamp = 0 }), nil, 400},
		{"timestamp past 2106", with(func(wr *prompb.WriteRequest) { wr.Timeseries[2].Samples[0].Timestamp = 5e12 }), nil, 400},
		{"float native histogram", with(func(wr *prompb.WriteRequest) {
			wr.Timeseries[2].Histograms = []prompb.Histogram{{Count: &prompb.Histogram_CountFloat{CountFloat: 1}, Timestamp: t0}}
		}), nil, 400},
	}
	for _, c := range cases {
		code, body := post(t, url, c.body, c.header)
		if code != c.status {
			t.Errorf("%s: status %d (%s), want %d", c.name, code, body, c.status)
		}
		if body == "" {
			t.Errorf("%s: the refusal names no problem", c.name)
		}
	}
	if n := sink.DataPointCount(); n != 0 {
		t.Errorf("refused requests stored %d points", n)
	}
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", resp.StatusCode)
	}
}

func TestPipelineRefusalTellsTheSenderWhetherToRetry(t *testing.T) {
	for _, c := range []struct {
		err    error
		status int
	}{
		{errors.New("queue full"), http.StatusServiceUnavailable},
		{consumererror.NewPermanent(errors.New("cannot ever store this")), http.StatusBadRequest},
	} {
		next := consumertest.NewErr(c.err)
		url := start(t, next)
		if code, body := post(t, url, encode(t, sampleRequest()), nil); code != c.status {
			t.Errorf("%v: status %d (%s), want %d", c.err, code, body, c.status)
		}
	}
}

func TestNativeHistogramBecomesExponential(t *testing.T) {
	sink := &consumertest.MetricsSink{}
	url := start(t, sink)
	// Schema 0 (base 2): buckets 1 and 3 (upper bounds 2 and 8) with 2
	// and 3 observations, delta-encoded.
	h := prompb.Histogram{Count: &prompb.Histogram_CountInt{CountInt: 6}, Sum: 20, Schema: 0, ZeroThreshold: 1e-128,
		ZeroCount: &prompb.Histogram_ZeroCountInt{ZeroCountInt: 1}, Timestamp: t0,
		PositiveSpans: []prompb.BucketSpan{{Offset: 1, Length: 1}, {Offset: 1, Length: 1}}, PositiveDeltas: []int64{2, 1}}
	wr := &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{{Labels: labels("__name__", "rpc_latency", "job", "app"), Histograms: []prompb.Histogram{h}}}}
	if code, body := post(t, url, encode(t, wr), nil); code != http.StatusNoContent {
		t.Fatalf("status %d: %s", code, body)
	}
	m := sink.AllMetrics()[0].ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0)
	if m.Type() != pmetric.MetricTypeExponentialHistogram {
		t.Fatalf("type %v", m.Type())
	}
	dp := m.ExponentialHistogram().DataPoints().At(0)
	got := dp.Positive().BucketCounts().AsRaw()
	if dp.Scale() != 0 || dp.Count() != 6 || dp.ZeroCount() != 1 || dp.Positive().Offset() != 0 || len(got) != 3 || got[0] != 2 || got[1] != 0 || got[2] != 3 {
		t.Errorf("scale %d count %d zero %d offset %d buckets %v", dp.Scale(), dp.Count(), dp.ZeroCount(), dp.Positive().Offset(), got)
	}
}

func TestKindOf(t *testing.T) {
	for name, want := range map[string]Kind{
		"container_cpu_usage_seconds_total": Counter, "hubble_http_request_duration_seconds_bucket": Counter,
		"hubble_http_request_duration_seconds_sum": Counter, "x_count": Counter, "kube_pod_labels": Gauge,
		"container_memory_working_set_bytes": Gauge, "_total": Gauge, "up": Gauge,
	} {
		if got := KindOf(name); got != want {
			t.Errorf("%s: %v, want %v", name, got, want)
		}
	}
}
