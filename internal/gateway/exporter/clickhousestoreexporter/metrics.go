package clickhousestoreexporter

import (
	"encoding/hex"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/openchoreo/obsplane/internal/schema"
	"github.com/openchoreo/obsplane/internal/store"
)

// The metric tables share their leading columns; meta holds one data
// point's share of them.
type meta struct {
	resAttrs, scopeAttrs column.IterableOrderedMap
	resURL, scopeURL     string
	scope                pcommon.InstrumentationScope
	service              string
	metric               pmetric.Metric
}

type commonCols struct {
	resAttrs, scopeAttrs, attrs                                      []column.IterableOrderedMap
	resURL, scopeName, scopeVersion, scopeURL, svc, name, desc, unit []string
	scopeDropped, flags                                              []uint32
	start, ts                                                        []time.Time
}

func (c *commonCols) add(m *meta, attrs pcommon.Map, start, ts pcommon.Timestamp, flags uint32) {
	c.resAttrs = append(c.resAttrs, m.resAttrs)
	c.resURL = append(c.resURL, m.resURL)
	c.scopeName = append(c.scopeName, m.scope.Name())
	c.scopeVersion = append(c.scopeVersion, m.scope.Version())
	c.scopeAttrs = append(c.scopeAttrs, m.scopeAttrs)
	c.scopeDropped = append(c.scopeDropped, m.scope.DroppedAttributesCount())
	c.scopeURL = append(c.scopeURL, m.scopeURL)
	c.svc = append(c.svc, m.service)
	c.name = append(c.name, m.metric.Name())
	c.desc = append(c.desc, m.metric.Description())
	c.unit = append(c.unit, m.metric.Unit())
	c.attrs = append(c.attrs, toMap(attrs))
	c.start = append(c.start, start.AsTime())
	c.ts = append(c.ts, ts.AsTime())
	c.flags = append(c.flags, flags)
}

func (c *commonCols) columns() []store.Column {
	return []store.Column{
		{Name: "ResourceAttributes", Type: schema.MapType, Values: c.resAttrs},
		{Name: "ResourceSchemaUrl", Type: "String", Values: c.resURL},
		{Name: "ScopeName", Type: "String", Values: c.scopeName},
		{Name: "ScopeVersion", Type: "String", Values: c.scopeVersion},
		{Name: "ScopeAttributes", Type: schema.MapType, Values: c.scopeAttrs},
		{Name: "ScopeDroppedAttrCount", Type: "UInt32", Values: c.scopeDropped},
		{Name: "ScopeSchemaUrl", Type: "String", Values: c.scopeURL},
		{Name: "ServiceName", Type: "LowCardinality(String)", Values: c.svc},
		{Name: "MetricName", Type: "LowCardinality(String)", Values: c.name},
		{Name: "MetricDescription", Type: "String", Values: c.desc},
		{Name: "MetricUnit", Type: "String", Values: c.unit},
		{Name: "Attributes", Type: schema.MapType, Values: c.attrs},
		{Name: "StartTimeUnix", Type: "DateTime", Values: c.start},
		{Name: "TimeUnix", Type: "DateTime", Values: c.ts},
		{Name: "Flags", Type: "UInt32", Values: c.flags},
		// obsplane's addition: the point's time to the millisecond, which
		// Prometheus samples have and TimeUnix (whole seconds) drops.
		{Name: "TimeUnixMilli", Type: "DateTime64(3)", Values: c.ts},
	}
}

// exemplarCols fill the Exemplars Nested columns. Unlike the log and span
// id columns, the contrib exporter hex-encodes exemplar ids even when unset
// (all zeros), and so does this.
type exemplarCols struct {
	attrs            [][]column.IterableOrderedMap
	times            [][]time.Time
	values           [][]float64
	spanIDs, traceID [][]string
}

func (e *exemplarCols) add(ex pmetric.ExemplarSlice) {
	n := ex.Len()
	a, t, v, s, tr := make([]column.IterableOrderedMap, n), make([]time.Time, n), make([]float64, n), make([]string, n), make([]string, n)
	for i := 0; i < n; i++ {
		x := ex.At(i)
		a[i] = toMap(x.FilteredAttributes())
		t[i] = x.Timestamp().AsTime()
		switch x.ValueType() {
		case pmetric.ExemplarValueTypeDouble:
			v[i] = x.DoubleValue()
		case pmetric.ExemplarValueTypeInt:
			v[i] = float64(x.IntValue())
		}
		sid, tid := x.SpanID(), x.TraceID()
		s[i] = hex.EncodeToString(sid[:])
		tr[i] = hex.EncodeToString(tid[:])
	}
	e.attrs, e.times, e.values = append(e.attrs, a), append(e.times, t), append(e.values, v)
	e.spanIDs, e.traceID = append(e.spanIDs, s), append(e.traceID, tr)
}

func (e *exemplarCols) columns() []store.Column {
	return []store.Column{
		{Name: "Exemplars.FilteredAttributes", Type: "Array(" + schema.MapType + ")", Values: e.attrs},
		{Name: "Exemplars.TimeUnix", Type: "Array(DateTime)", Values: e.times},
		{Name: "Exemplars.Value", Type: "Array(Float64)", Values: e.values},
		{Name: "Exemplars.SpanId", Type: "Array(String)", Values: e.spanIDs},
		{Name: "Exemplars.TraceId", Type: "Array(String)", Values: e.traceID},
	}
}

func numberValue(dp pmetric.NumberDataPoint) float64 {
	switch dp.ValueType() {
	case pmetric.NumberDataPointValueTypeDouble:
		return dp.DoubleValue()
	case pmetric.NumberDataPointValueTypeInt:
		return float64(dp.IntValue())
	}
	return 0
}

type gaugeCols struct {
	commonCols
	exemplarCols
	value []float64
}

type sumCols struct {
	commonCols
	exemplarCols
	value       []float64
	temporality []int32
	monotonic   []bool
}

type histCols struct {
	commonCols
	exemplarCols
	count         []uint64
	sum, min, max []float64
	buckets       [][]uint64
	bounds        [][]float64
	temporality   []int32
}

type expHistCols struct {
	commonCols
	exemplarCols
	count, zero           []uint64
	sum, min, max         []float64
	scale, posOff, negOff []int32
	pos, neg              [][]uint64
	temporality           []int32
}

type summaryCols struct {
	commonCols
	count     []uint64
	sum       []float64
	quantiles [][]float64
	values    [][]float64
}

// metricsBatches maps metrics to rows of the five metric tables, as the
// contrib exporter v0.161.0 does. It returns only the non-empty batches, and
// the number of metrics skipped because their type is unset (the contrib
// exporter fails the whole request for one, which would retry it forever).
func metricsBatches(database string, tables MetricTablesConfig, md pmetric.Metrics) ([]*store.Batch, int) {
	var (
		g       gaugeCols
		s       sumCols
		h       histCols
		e       expHistCols
		q       summaryCols
		skipped int
	)
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		res := rm.Resource().Attributes()
		m := meta{resAttrs: toMap(res), resURL: rm.SchemaUrl(), service: serviceName(res)}
		for j := 0; j < rm.ScopeMetrics().Len(); j++ {
			sm := rm.ScopeMetrics().At(j)
			m.scope, m.scopeURL, m.scopeAttrs = sm.Scope(), sm.SchemaUrl(), toMap(sm.Scope().Attributes())
			ms := sm.Metrics()
			for k := 0; k < ms.Len(); k++ {
				m.metric = ms.At(k)
				switch m.metric.Type() {
				case pmetric.MetricTypeGauge:
					dps := m.metric.Gauge().DataPoints()
					for d := 0; d < dps.Len(); d++ {
						dp := dps.At(d)
						g.commonCols.add(&m, dp.Attributes(), dp.StartTimestamp(), dp.Timestamp(), uint32(dp.Flags()))
						g.exemplarCols.add(dp.Exemplars())
						g.value = append(g.value, numberValue(dp))
					}
				case pmetric.MetricTypeSum:
					sum := m.metric.Sum()
					dps := sum.DataPoints()
					for d := 0; d < dps.Len(); d++ {
						dp := dps.At(d)
						s.commonCols.add(&m, dp.Attributes(), dp.StartTimestamp(), dp.Timestamp(), uint32(dp.Flags()))
						s.exemplarCols.add(dp.Exemplars())
						s.value = append(s.value, numberValue(dp))
						s.temporality = append(s.temporality, int32(sum.AggregationTemporality()))
						s.monotonic = append(s.monotonic, sum.IsMonotonic())
					}
				case pmetric.MetricTypeHistogram:
					hist := m.metric.Histogram()
					dps := hist.DataPoints()
					for d := 0; d < dps.Len(); d++ {
						dp := dps.At(d)
						h.commonCols.add(&m, dp.Attributes(), dp.StartTimestamp(), dp.Timestamp(), uint32(dp.Flags()))
						h.exemplarCols.add(dp.Exemplars())
						h.count = append(h.count, dp.Count())
						h.sum = append(h.sum, dp.Sum())
						h.buckets = append(h.buckets, dp.BucketCounts().AsRaw())
						h.bounds = append(h.bounds, dp.ExplicitBounds().AsRaw())
						h.min = append(h.min, dp.Min())
						h.max = append(h.max, dp.Max())
						h.temporality = append(h.temporality, int32(hist.AggregationTemporality()))
					}
				case pmetric.MetricTypeExponentialHistogram:
					eh := m.metric.ExponentialHistogram()
					dps := eh.DataPoints()
					for d := 0; d < dps.Len(); d++ {
						dp := dps.At(d)
						e.commonCols.add(&m, dp.Attributes(), dp.StartTimestamp(), dp.Timestamp(), uint32(dp.Flags()))
						e.exemplarCols.add(dp.Exemplars())
						e.count = append(e.count, dp.Count())
						e.sum = append(e.sum, dp.Sum())
						e.scale = append(e.scale, dp.Scale())
						e.zero = append(e.zero, dp.ZeroCount())
						e.posOff = append(e.posOff, dp.Positive().Offset())
						e.pos = append(e.pos, dp.Positive().BucketCounts().AsRaw())
						e.negOff = append(e.negOff, dp.Negative().Offset())
						e.neg = append(e.neg, dp.Negative().BucketCounts().AsRaw())
						e.min = append(e.min, dp.Min())
						e.max = append(e.max, dp.Max())
						e.temporality = append(e.temporality, int32(eh.AggregationTemporality()))
					}
				case pmetric.MetricTypeSummary:
					dps := m.metric.Summary().DataPoints()
					for d := 0; d < dps.Len(); d++ {
						dp := dps.At(d)
						q.commonCols.add(&m, dp.Attributes(), dp.StartTimestamp(), dp.Timestamp(), uint32(dp.Flags()))
						q.count = append(q.count, dp.Count())
						q.sum = append(q.sum, dp.Sum())
						qv := dp.QuantileValues()
						qs, vs := make([]float64, qv.Len()), make([]float64, qv.Len())
						for x := 0; x < qv.Len(); x++ {
							qs[x], vs[x] = qv.At(x).Quantile(), qv.At(x).Value()
						}
						q.quantiles = append(q.quantiles, qs)
						q.values = append(q.values, vs)
					}
				default:
					skipped++
				}
			}
		}
	}

	var out []*store.Batch
	add := func(table string, c *commonCols, cols ...store.Column) {
		if len(c.ts) == 0 {
			return
		}
		out = append(out, &store.Batch{Database: database, Table: table, Rows: len(c.ts), Columns: append(c.columns(), cols...)})
	}
	add(tables.Gauge.Name, &g.commonCols, append(g.exemplarCols.columns(),
		store.Column{Name: "Value", Type: "Float64", Values: g.value})...)
	add(tables.Sum.Name, &s.commonCols, append(s.exemplarCols.columns(),
		store.Column{Name: "Value", Type: "Float64", Values: s.value},
		store.Column{Name: "AggregationTemporality", Type: "Int32", Values: s.temporality},
		store.Column{Name: "IsMonotonic", Type: "Bool", Values: s.monotonic})...)
	add(tables.Histogram.Name, &h.commonCols, append(h.exemplarCols.columns(),
		store.Column{Name: "Count", Type: "UInt64", Values: h.count},
		store.Column{Name: "Sum", Type: "Float64", Values: h.sum},
		store.Column{Name: "BucketCounts", Type: "Array(UInt64)", Values: h.buckets},
		store.Column{Name: "ExplicitBounds", Type: "Array(Float64)", Values: h.bounds},
		store.Column{Name: "Min", Type: "Float64", Values: h.min},
		store.Column{Name: "Max", Type: "Float64", Values: h.max},
		store.Column{Name: "AggregationTemporality", Type: "Int32", Values: h.temporality})...)
	add(tables.ExponentialHistogram.Name, &e.commonCols, append(e.exemplarCols.columns(),
		store.Column{Name: "Count", Type: "UInt64", Values: e.count},
		store.Column{Name: "Sum", Type: "Float64", Values: e.sum},
		store.Column{Name: "Scale", Type: "Int32", Values: e.scale},
		store.Column{Name: "ZeroCount", Type: "UInt64", Values: e.zero},
		store.Column{Name: "PositiveOffset", Type: "Int32", Values: e.posOff},
		store.Column{Name: "PositiveBucketCounts", Type: "Array(UInt64)", Values: e.pos},
		store.Column{Name: "NegativeOffset", Type: "Int32", Values: e.negOff},
		store.Column{Name: "NegativeBucketCounts", Type: "Array(UInt64)", Values: e.neg},
		store.Column{Name: "Min", Type: "Float64", Values: e.min},
		store.Column{Name: "Max", Type: "Float64", Values: e.max},
		store.Column{Name: "AggregationTemporality", Type: "Int32", Values: e.temporality})...)
	add(tables.Summary.Name, &q.commonCols,
		store.Column{Name: "Count", Type: "UInt64", Values: q.count},
		store.Column{Name: "Sum", Type: "Float64", Values: q.sum},
		store.Column{Name: "ValueAtQuantiles.Quantile", Type: "Array(Float64)", Values: q.quantiles},
		store.Column{Name: "ValueAtQuantiles.Value", Type: "Array(Float64)", Values: q.values})
	return out, skipped
}
