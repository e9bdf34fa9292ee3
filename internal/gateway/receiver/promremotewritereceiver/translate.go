package promremotewritereceiver

import (
	"encoding/hex"
	"fmt"
	"math"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/prompb"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// ScopeName is the instrumentation scope of every metric this receiver
// produces, so the rows of remote-written series can be told from OTLP ones.
const ScopeName = "obsplane/promremotewrite"

// Kind is what table a remote-written series lands in. Remote write 1.0
// carries no type with the samples (metadata travels in other requests, if
// at all), so the kind comes from the name's suffix as the Prometheus and
// OpenMetrics naming conventions define it: counters end in _total, and the
// _bucket, _sum and _count series of histograms and summaries are counters
// too. Everything else is a gauge. The same name always lands in the same
// table, whatever metadata has or has not arrived.
type Kind int

const (
	Gauge Kind = iota
	Counter
)

// KindOf returns the kind of the series called name.
func KindOf(name string) Kind {
	for _, s := range []string{"_total", "_bucket", "_sum", "_count"} {
		if strings.HasSuffix(name, s) && len(name) > len(s) {
			return Counter
		}
	}
	return Gauge
}

// requestError is a request the receiver refuses (HTTP 400): nothing of it
// is passed on.
type requestError struct{ msg string }

func (e *requestError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &requestError{msg: fmt.Sprintf(format, args...)}
}

// The DateTime columns of the metric tables hold seconds from 1970 to 2106.
const maxTimestampMs = int64(math.MaxUint32) * 1000

// metadata remembers HELP and UNIT per metric family, from the metadata
// Prometheus sends every minute (send_metadata), bounded in size.
type metadata struct {
	mu  sync.Mutex
	max int
	m   map[string]meta
}

type meta struct{ help, unit string }

func (c *metadata) put(md []prompb.MetricMetadata) {
	if c.max == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]meta{}
	}
	for _, x := range md {
		if x.MetricFamilyName == "" {
			continue
		}
		if _, ok := c.m[x.MetricFamilyName]; !ok && len(c.m) >= c.max {
			// Full: forget everything rather than keep a stale half; the
			// next metadata round (a minute) fills it again.
			clear(c.m)
		}
		c.m[x.MetricFamilyName] = meta{help: x.Help, unit: x.Unit}
	}
}

func (c *metadata) get(name string) meta {
	c.mu.Lock()
	defer c.mu.Unlock()
	if m, ok := c.m[name]; ok {
		return m
	}
	for _, s := range []string{"_total", "_bucket", "_sum", "_count"} {
		if f, ok := strings.CutSuffix(name, s); ok {
			if m, ok := c.m[f]; ok {
				return m
			}
		}
	}
	return meta{}
}

// resKey groups series into resources: job and instance, as the
// OpenTelemetry Prometheus compatibility rules map them to service.name and
// service.instance.id.
type resKey struct{ job, instance string }

// toMetrics validates a whole write request and turns it into pdata: one
// resource per (job, instance), one metric per name and resource, one data
// point per sample. Every label but __name__ stays a data point attribute
// (job and instance included), so a series keeps its Prometheus identity.
// Staleness markers become points flagged "no recorded value". Any invalid
// series refuses the whole request.
func toMetrics(req *prompb.WriteRequest, md *metadata, maxSeries int) (pmetric.Metrics, int, error) {
	out := pmetric.NewMetrics()
	if len(req.Timeseries) > maxSeries {
		return out, 0, badRequest("request has %d time series; at most %d are accepted per request", len(req.Timeseries), maxSeries)
	}
	// Validate everything first: a request is taken whole or not at all.
	for i := range req.Timeseries {
		if err := validate(&req.Timeseries[i], i); err != nil {
			return out, 0, err
		}
	}
	type resEntry struct {
		rm      pmetric.ResourceMetrics
		metrics map[string]pmetric.Metric
	}
	resources := map[resKey]*resEntry{}
	points := 0
	for i := range req.Timeseries {
		ts := &req.Timeseries[i]
		if len(ts.Samples) == 0 && len(ts.Histograms) == 0 {
			continue
		}
		var name, job, instance string
		for _, l := range ts.Labels {
			switch l.Name {
			case "__name__":
				name = l.Value
			case "job":
				job = l.Value
			case "instance":
				instance = l.Value
			}
		}
		rk := resKey{job, instance}
		re := resources[rk]
		if re == nil {
			rm := out.ResourceMetrics().AppendEmpty()
			if job != "" {
				rm.Resource().Attributes().PutStr("service.name", job)
			}
			if instance != "" {
				rm.Resource().Attributes().PutStr("service.instance.id", instance)
			}
			rm.ScopeMetrics().AppendEmpty().Scope().SetName(ScopeName)
			re = &resEntry{rm: rm, metrics: map[string]pmetric.Metric{}}
			resources[rk] = re
		}
		if len(ts.Samples) > 0 {
			m, ok := re.metrics[name]
			if !ok {
				m = re.rm.ScopeMetrics().At(0).Metrics().AppendEmpty()
				m.SetName(name)
				mm := md.get(name)
				m.SetDescription(mm.help)
				m.SetUnit(mm.unit)
				if KindOf(name) == Counter {
					s := m.SetEmptySum()
					s.SetIsMonotonic(true)
					s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
				} else {
					m.SetEmptyGauge()
				}
				re.metrics[name] = m
			}
			var dps pmetric.NumberDataPointSlice
			if m.Type() == pmetric.MetricTypeSum {
				dps = m.Sum().DataPoints()
			} else {
				dps = m.Gauge().DataPoints()
			}
			first := dps.Len()
			for _, s := range ts.Samples {
				dp := dps.AppendEmpty()
				putLabels(dp.Attributes(), ts.Labels)
				dp.SetTimestamp(pcommon.Timestamp(s.Timestamp * 1e6))
				dp.SetDoubleValue(s.Value)
				if value.IsStaleNaN(s.Value) {
					dp.SetFlags(pmetric.DefaultDataPointFlags.WithNoRecordedValue(true))
				}
				points++
			}
			addExemplars(dps, first, ts.Exemplars)
		}
		if len(ts.Histograms) > 0 {
			hname := name
			m, ok := re.metrics["\x00h"+hname]
			if !ok {
				m = re.rm.ScopeMetrics().At(0).Metrics().AppendEmpty()
				m.SetName(hname)
				mm := md.get(hname)
				m.SetDescription(mm.help)
				m.SetUnit(mm.unit)
				m.SetEmptyExponentialHistogram().SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
				re.metrics["\x00h"+hname] = m
			}
			for _, h := range ts.Histograms {
				dp := m.ExponentialHistogram().DataPoints().AppendEmpty()
				putLabels(dp.Attributes(), ts.Labels)
				nativeToExponential(h, dp)
				points++
			}
		}
	}
	return out, points, nil
}

func putLabels(attrs pcommon.Map, ls []prompb.Label) {
	attrs.EnsureCapacity(len(ls))
	for _, l := range ls {
		if l.Name != "__name__" {
			attrs.PutStr(l.Name, l.Value)
		}
	}
}

// validate checks one series as Prometheus's own remote-write receiver
// would, plus what the tables can hold.
func validate(ts *prompb.TimeSeries, i int) error {
	name := ""
	seen := make(map[string]struct{}, len(ts.Labels))
	for _, l := range ts.Labels {
		if l.Name == "" {
			return badRequest("time series %d has a label with an empty name", i)
		}
		if !utf8.ValidString(l.Name) || !utf8.ValidString(l.Value) {
			return badRequest("time series %d: label %q is not valid UTF-8", i, l.Name)
		}
		if _, dup := seen[l.Name]; dup {
			return badRequest("time series %d has label %q twice", i, l.Name)
		}
		seen[l.Name] = struct{}{}
		if l.Name == "__name__" {
			name = l.Value
		}
	}
	if name == "" {
		return badRequest("time series %d has no metric name (__name__ label)", i)
	}
	for _, s := range ts.Samples {
		if s.Timestamp <= 0 || s.Timestamp > maxTimestampMs {
			return badRequest("time series %d (%s): sample timestamp %d ms is outside 1970-01-01..2106-02-07", i, name, s.Timestamp)
		}
	}
	for _, h := range ts.Histograms {
		if h.Timestamp <= 0 || h.Timestamp > maxTimestampMs {
			return badRequest("time series %d (%s): histogram timestamp %d ms is outside 1970-01-01..2106-02-07", i, name, h.Timestamp)
		}
		if h.IsFloatHistogram() {
			return badRequest("time series %d (%s): float native histograms are not accepted (integer ones are)", i, name)
		}
		if h.Schema < -4 || h.Schema > 8 {
			return badRequest("time series %d (%s): native histogram schema %d is not an exponential schema (-4..8)", i, name, h.Schema)
		}
		if err := h.ToIntHistogram().Validate(); err != nil {
			return badRequest("time series %d (%s): native histogram: %v", i, name, err)
		}
	}
	for _, e := range ts.Exemplars {
		if e.Timestamp <= 0 || e.Timestamp > maxTimestampMs {
			return badRequest("time series %d (%s): exemplar timestamp %d ms is outside 1970-01-01..2106-02-07", i, name, e.Timestamp)
		}
		for _, l := range e.Labels {
			if !utf8.ValidString(l.Name) || !utf8.ValidString(l.Value) {
				return badRequest("time series %d (%s): exemplar label %q is not valid UTF-8", i, name, l.Name)
			}
		}
	}
	return nil
}

// addExemplars attaches each exemplar to the series' point taken at or
// before it (the first point when it precedes them all), carrying its
// trace_id and span_id labels in the exemplar's ids as OpenTelemetry does.
func addExemplars(dps pmetric.NumberDataPointSlice, first int, exs []prompb.Exemplar) {
	if len(exs) == 0 || dps.Len() == first {
		return
	}
	for _, e := range exs {
		at := first
		for j := first; j < dps.Len(); j++ {
			if int64(dps.At(j).Timestamp())/1e6 <= e.Timestamp {
				at = j
			}
		}
		x := dps.At(at).Exemplars().AppendEmpty()
		x.SetTimestamp(pcommon.Timestamp(e.Timestamp * 1e6))
		x.SetDoubleValue(e.Value)
		for _, l := range e.Labels {
			switch l.Name {
			case "trace_id":
				var id pcommon.TraceID
				if hexID(id[:], l.Value) {
					x.SetTraceID(id)
					continue
				}
			case "span_id":
				var id pcommon.SpanID
				if hexID(id[:], l.Value) {
					x.SetSpanID(id)
					continue
				}
			}
			x.FilteredAttributes().PutStr(l.Name, l.Value)
		}
	}
}

// hexID decodes a hex trace or span id into dst; false leaves it unset.
func hexID(dst []byte, s string) bool {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(dst) {
		return false
	}
	copy(dst, b)
	return true
}

// nativeToExponential maps an integer native histogram of an exponential
// schema onto an OpenTelemetry exponential histogram: the schema is the
// scale, and Prometheus bucket i (upper bound base^i) is OpenTelemetry
// bucket i-1 (lower bound base^(i-1)).
func nativeToExponential(h prompb.Histogram, dp pmetric.ExponentialHistogramDataPoint) {
	ih := h.ToIntHistogram()
	dp.SetTimestamp(pcommon.Timestamp(h.Timestamp * 1e6))
	dp.SetScale(ih.Schema)
	dp.SetCount(ih.Count)
	dp.SetSum(ih.Sum)
	dp.SetZeroCount(ih.ZeroCount)
	dp.SetZeroThreshold(ih.ZeroThreshold)
	if value.IsStaleNaN(ih.Sum) {
		dp.SetFlags(pmetric.DefaultDataPointFlags.WithNoRecordedValue(true))
	}
	fill := func(it histogram.BucketIterator[uint64], b pmetric.ExponentialHistogramDataPointBuckets) {
		first := true
		var next int32
		for it.Next() {
			bk := it.At()
			if first {
				b.SetOffset(bk.Index - 1)
				next = bk.Index
				first = false
			}
			for ; next < bk.Index; next++ {
				b.BucketCounts().Append(0)
			}
			b.BucketCounts().Append(bk.Count)
			next = bk.Index + 1
		}
	}
	fill(ih.PositiveBucketIterator(), dp.Positive())
	fill(ih.NegativeBucketIterator(), dp.Negative())
}
