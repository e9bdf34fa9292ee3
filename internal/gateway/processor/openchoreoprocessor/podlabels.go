package openchoreoprocessor

import (
	"context"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// Metrics scraped by Prometheus from cAdvisor, kube-state-metrics and
// Hubble name their pod by labels, not by resource attributes, and only
// kube-state-metrics' kube_pod_labels carries the pod's OpenChoreo labels
// (label_openchoreo_dev_component_uid, ...). The processor joins them at
// ingest, as OpenChoreo's PromQL joins them at query time
// (`* on (pod, namespace) group_left kube_pod_labels`): it remembers every
// kube_pod_labels series it sees, and regroups the data points of other
// metrics under one resource per pod with k8s.namespace.name, k8s.pod.name
// and the openchoreo.* attributes, so their rows carry the tenant columns.
//
// A data point names its pod by the labels namespace and pod (cAdvisor,
// kube-state-metrics), or destination_namespace and destination_pod
// (Hubble's HTTP flows, whose server side OpenChoreo attributes them to).

// KubePodLabels is kube-state-metrics' pod label series.
const KubePodLabels = "kube_pod_labels"

// PodKey names a pod.
type PodKey struct{ Namespace, Pod string }

// PodLabels are one pod's kube_pod_labels series labels
// (label_openchoreo_dev_component_uid, ...).
type PodLabels struct {
	PodKey
	Labels map[string]string
}

// PodLabelSource returns the pods whose kube_pod_labels series were stored
// since a time, so a restarted gateway joins from its first request instead
// of waiting for the next kube_pod_labels scrape.
type PodLabelSource func(ctx context.Context, since time.Time) ([]PodLabels, error)

// promLabelTargets maps kube-state-metrics' label names (the Kubernetes
// label with every character outside [a-zA-Z0-9_] turned into _) to the
// openchoreo.* attribute.
var promLabelTargets = func() map[string]string {
	m := make(map[string]string, len(ocLabels))
	for k, v := range ocLabels {
		m["label_openchoreo_dev_"+strings.ReplaceAll(k, "-", "_")] = v
	}
	return m
}()

type podEntry struct {
	attrs derived
	seen  time.Time
}

// podCache holds the pods seen in kube_pod_labels. Entries not seen for ttl
// are dropped; at max entries the oldest are.
type podCache struct {
	mu  sync.RWMutex
	m   map[PodKey]podEntry
	ttl time.Duration
	max int
}

func newPodCache(ttl time.Duration, maxEntries int) *podCache {
	return &podCache{m: map[PodKey]podEntry{}, ttl: ttl, max: maxEntries}
}

func (c *podCache) put(k PodKey, d derived, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; !ok && len(c.m) >= c.max {
		c.evictLocked(now)
	}
	c.m[k] = podEntry{attrs: d, seen: now}
}

// evictLocked drops expired entries, and when that frees nothing, the
// oldest tenth.
func (c *podCache) evictLocked(now time.Time) {
	for k, e := range c.m {
		if now.Sub(e.seen) > c.ttl {
			delete(c.m, k)
		}
	}
	if len(c.m) < c.max {
		return
	}
	var oldest time.Time
	for _, e := range c.m {
		if oldest.IsZero() || e.seen.Before(oldest) {
			oldest = e.seen
		}
	}
	cut := oldest.Add(c.ttl / 10)
	for k, e := range c.m {
		if !e.seen.After(cut) {
			delete(c.m, k)
		}
	}
}

func (c *podCache) get(k PodKey, now time.Time) (derived, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.m[k]
	if !ok || now.Sub(e.seen) > c.ttl {
		return nil, false
	}
	return e.attrs, true
}

func (c *podCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}

// derivedFromPromLabels reads the OpenChoreo labels of a kube_pod_labels
// series.
func derivedFromPromLabels(each func(yield func(k, v string))) derived {
	var d derived
	each(func(k, v string) {
		if t, ok := promLabelTargets[k]; ok && v != "" {
			d.put(t, v)
		}
	})
	return d.finish()
}

func attrPairs(attrs pcommon.Map) func(func(k, v string)) {
	return func(yield func(k, v string)) {
		attrs.Range(func(k string, v pcommon.Value) bool {
			yield(k, v.Str())
			return true
		})
	}
}

func mapPairs(m map[string]string) func(func(k, v string)) {
	return func(yield func(k, v string)) {
		for k, v := range m {
			yield(k, v)
		}
	}
}

// podOf returns the pod a data point is about.
func podOf(attrs pcommon.Map) (PodKey, bool) {
	for _, p := range [][2]string{{"namespace", "pod"}, {"destination_namespace", "destination_pod"}} {
		ns, ok1 := attrs.Get(p[0])
		pod, ok2 := attrs.Get(p[1])
		if ok1 && ok2 && ns.Str() != "" && pod.Str() != "" {
			return PodKey{ns.Str(), pod.Str()}, true
		}
	}
	return PodKey{}, false
}

// learn records every kube_pod_labels data point of md.
func (c *podCache) learn(md pmetric.Metrics, now time.Time) {
	eachMetric(md, func(m pmetric.Metric) {
		if m.Name() != KubePodLabels {
			return
		}
		var dps pmetric.NumberDataPointSlice
		switch m.Type() {
		case pmetric.MetricTypeGauge:
			dps = m.Gauge().DataPoints()
		case pmetric.MetricTypeSum:
			dps = m.Sum().DataPoints()
		default:
			return
		}
		for i := 0; i < dps.Len(); i++ {
			dp := dps.At(i)
			if dp.Flags().NoRecordedValue() {
				continue
			}
			if k, ok := podOf(dp.Attributes()); ok {
				c.put(k, derivedFromPromLabels(attrPairs(dp.Attributes())), now)
			}
		}
	})
}

func eachMetric(md pmetric.Metrics, f func(pmetric.Metric)) {
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		sms := rms.At(i).ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				f(ms.At(k))
			}
		}
	}
}

// groupKey is a pod, or the zero key for points that name none.
type groupKey struct {
	pod PodKey
	has bool
}

// enrichMetrics joins the pod labels (see the top of this file) and applies
// the resource-level enrichment to every resource.
func enrichMetrics(md pmetric.Metrics, cache *podCache, cfg *Config, now time.Time) pmetric.Metrics {
	cache.learn(md, now)
	out := pmetric.NewMetrics()
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		res := rm.Resource().Attributes()
		_, hasPod := res.Get(AttrPodName)
		if hasPod || !anyPointNamesPod(rm) {
			// Already about one pod (OTLP with k8s attributes), or about
			// none: resource-level enrichment only.
			EnrichResource(res, cfg)
			rm.MoveTo(out.ResourceMetrics().AppendEmpty())
			continue
		}
		regroup(rm, out, cache, cfg, now)
	}
	return out
}

func anyPointNamesPod(rm pmetric.ResourceMetrics) bool {
	found := false
	sms := rm.ScopeMetrics()
	for j := 0; j < sms.Len() && !found; j++ {
		ms := sms.At(j).Metrics()
		for k := 0; k < ms.Len() && !found; k++ {
			eachPointAttrs(ms.At(k), func(_ int, a pcommon.Map) {
				if !found {
					_, found = podOf(a)
				}
			})
		}
	}
	return found
}

// eachPointAttrs calls f with the index and attributes of every data point
// of m.
func eachPointAttrs(m pmetric.Metric, f func(int, pcommon.Map)) {
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		for i := 0; i < m.Gauge().DataPoints().Len(); i++ {
			f(i, m.Gauge().DataPoints().At(i).Attributes())
		}
	case pmetric.MetricTypeSum:
		for i := 0; i < m.Sum().DataPoints().Len(); i++ {
			f(i, m.Sum().DataPoints().At(i).Attributes())
		}
	case pmetric.MetricTypeHistogram:
		for i := 0; i < m.Histogram().DataPoints().Len(); i++ {
			f(i, m.Histogram().DataPoints().At(i).Attributes())
		}
	case pmetric.MetricTypeExponentialHistogram:
		for i := 0; i < m.ExponentialHistogram().DataPoints().Len(); i++ {
			f(i, m.ExponentialHistogram().DataPoints().At(i).Attributes())
		}
	case pmetric.MetricTypeSummary:
		for i := 0; i < m.Summary().DataPoints().Len(); i++ {
			f(i, m.Summary().DataPoints().At(i).Attributes())
		}
	}
}

// regroup moves rm's data points into one resource per pod in out, in
// their original order within each.
func regroup(rm pmetric.ResourceMetrics, out pmetric.Metrics, cache *podCache, cfg *Config, now time.Time) {
	type group struct {
		rm      pmetric.ResourceMetrics
		scopes  map[int]pmetric.ScopeMetrics
		metrics map[[2]int]pmetric.Metric
	}
	groups := map[groupKey]*group{}
	groupFor := func(k groupKey) *group {
		if g, ok := groups[k]; ok {
			return g
		}
		g := &group{rm: out.ResourceMetrics().AppendEmpty(), scopes: map[int]pmetric.ScopeMetrics{}, metrics: map[[2]int]pmetric.Metric{}}
		g.rm.SetSchemaUrl(rm.SchemaUrl())
		rm.Resource().CopyTo(g.rm.Resource())
		res := g.rm.Resource().Attributes()
		if k.has {
			res.PutStr(AttrNamespaceName, k.pod.Namespace)
			res.PutStr(AttrPodName, k.pod.Pod)
			if d, ok := cache.get(k.pod, now); ok {
				apply(res, d, cfg)
			}
		}
		EnrichResource(res, cfg)
		groups[k] = g
		return g
	}
	metricFor := func(g *group, si, mi int, sm pmetric.ScopeMetrics, m pmetric.Metric) pmetric.Metric {
		if nm, ok := g.metrics[[2]int{si, mi}]; ok {
			return nm
		}
		gs, ok := g.scopes[si]
		if !ok {
			gs = g.rm.ScopeMetrics().AppendEmpty()
			gs.SetSchemaUrl(sm.SchemaUrl())
			sm.Scope().CopyTo(gs.Scope())
			g.scopes[si] = gs
		}
		nm := gs.Metrics().AppendEmpty()
		copyMetricShape(m, nm)
		g.metrics[[2]int{si, mi}] = nm
		return nm
	}
	sms := rm.ScopeMetrics()
	for si := 0; si < sms.Len(); si++ {
		sm := sms.At(si)
		ms := sm.Metrics()
		for mi := 0; mi < ms.Len(); mi++ {
			m := ms.At(mi)
			keys := map[int]groupKey{}
			eachPointAttrs(m, func(i int, a pcommon.Map) {
				k, ok := podOf(a)
				keys[i] = groupKey{k, ok}
			})
			movePoints(m, func(i int) pmetric.Metric {
				return metricFor(groupFor(keys[i]), si, mi, sm, m)
			})
		}
	}
}

// copyMetricShape gives dst src's name, description, unit, type and
// aggregation settings, without data points.
func copyMetricShape(src, dst pmetric.Metric) {
	dst.SetName(src.Name())
	dst.SetDescription(src.Description())
	dst.SetUnit(src.Unit())
	src.Metadata().CopyTo(dst.Metadata())
	switch src.Type() {
	case pmetric.MetricTypeGauge:
		dst.SetEmptyGauge()
	case pmetric.MetricTypeSum:
		s := dst.SetEmptySum()
		s.SetAggregationTemporality(src.Sum().AggregationTemporality())
		s.SetIsMonotonic(src.Sum().IsMonotonic())
	case pmetric.MetricTypeHistogram:
		dst.SetEmptyHistogram().SetAggregationTemporality(src.Histogram().AggregationTemporality())
	case pmetric.MetricTypeExponentialHistogram:
		dst.SetEmptyExponentialHistogram().SetAggregationTemporality(src.ExponentialHistogram().AggregationTemporality())
	case pmetric.MetricTypeSummary:
		dst.SetEmptySummary()
	}
}

// movePoints moves every data point i of m to the metric to(i) returns,
// which has m's shape.
func movePoints(m pmetric.Metric, to func(i int) pmetric.Metric) {
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		dps := m.Gauge().DataPoints()
		for i := 0; i < dps.Len(); i++ {
			dps.At(i).MoveTo(to(i).Gauge().DataPoints().AppendEmpty())
		}
	case pmetric.MetricTypeSum:
		dps := m.Sum().DataPoints()
		for i := 0; i < dps.Len(); i++ {
			dps.At(i).MoveTo(to(i).Sum().DataPoints().AppendEmpty())
		}
	case pmetric.MetricTypeHistogram:
		dps := m.Histogram().DataPoints()
		for i := 0; i < dps.Len(); i++ {
			dps.At(i).MoveTo(to(i).Histogram().DataPoints().AppendEmpty())
		}
	case pmetric.MetricTypeExponentialHistogram:
		dps := m.ExponentialHistogram().DataPoints()
		for i := 0; i < dps.Len(); i++ {
			dps.At(i).MoveTo(to(i).ExponentialHistogram().DataPoints().AppendEmpty())
		}
	case pmetric.MetricTypeSummary:
		dps := m.Summary().DataPoints()
		for i := 0; i < dps.Len(); i++ {
			dps.At(i).MoveTo(to(i).Summary().DataPoints().AppendEmpty())
		}
	}
}
