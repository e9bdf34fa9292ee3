package openchoreoprocessor

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor/processortest"
)

// promMetrics builds what the remote write receiver makes of a scrape: one
// resource per job, labels as data point attributes.
func promMetrics(job string, series ...map[string]string) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", job)
	ms := rm.ScopeMetrics().AppendEmpty().Metrics()
	byName := map[string]pmetric.Metric{}
	for _, s := range series {
		name := s["__name__"]
		m, ok := byName[name]
		if !ok {
			m = ms.AppendEmpty()
			m.SetName(name)
			if name == "container_cpu_usage_seconds_total" {
				m.SetEmptySum().SetIsMonotonic(true)
				m.Sum().SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
			} else {
				m.SetEmptyGauge()
			}
			byName[name] = m
		}
		var dp pmetric.NumberDataPoint
		if m.Type() == pmetric.MetricTypeSum {
			dp = m.Sum().DataPoints().AppendEmpty()
		} else {
			dp = m.Gauge().DataPoints().AppendEmpty()
		}
		dp.SetDoubleValue(1)
		dp.SetTimestamp(pcommon.NewTimestampFromTime(time.Unix(1700000000, 0)))
		for k, v := range s {
			if k != "__name__" {
				dp.Attributes().PutStr(k, v)
			}
		}
	}
	return md
}

func podLabelsSeries(ns, pod, component, uid string) map[string]string {
	return map[string]string{"__name__": KubePodLabels, "job": "kube-state-metrics", "namespace": ns, "pod": pod,
		"label_openchoreo_dev_component": component, "label_openchoreo_dev_component_uid": uid,
		"label_openchoreo_dev_namespace": "org", "label_openchoreo_dev_project_uid": "p-uid", "label_openchoreo_dev_environment_uid": "e-uid",
		"label_app": "x"}
}

func newMetricsProcessor(t *testing.T, sink *consumertest.MetricsSink, opts ...Option) func(pmetric.Metrics) {
	t.Helper()
	f := NewFactory(opts...)
	p, err := f.CreateMetrics(context.Background(), processortest.NewNopSettings(Type), f.CreateDefaultConfig(), sink)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	return func(md pmetric.Metrics) {
		if err := p.ConsumeMetrics(context.Background(), md); err != nil {
			t.Fatal(err)
		}
	}
}

// resourcesByPod maps "namespace/pod" (or "" for no pod) to the resource
// attributes and the metric names under it.
func resourcesByPod(md pmetric.Metrics) (map[string]map[string]any, map[string][]string) {
	attrs, names := map[string]map[string]any{}, map[string][]string{}
	for i := 0; i < md.ResourceMetrics().Len(); i++ {
		rm := md.ResourceMetrics().At(i)
		a := rm.Resource().Attributes().AsRaw()
		key := ""
		if p, ok := a[AttrPodName]; ok {
			key = a[AttrNamespaceName].(string) + "/" + p.(string)
		}
		attrs[key] = a
		ms := rm.ScopeMetrics().At(0).Metrics()
		for j := 0; j < ms.Len(); j++ {
			names[key] = append(names[key], ms.At(j).Name())
		}
	}
	return attrs, names
}

func TestPodLabelsJoinSeriesToTheirPod(t *testing.T) {
	sink := &consumertest.MetricsSink{}
	consume := newMetricsProcessor(t, sink)
	// kube-state-metrics' scrape first, then cAdvisor's and Hubble's.
	consume(promMetrics("kube-state-metrics", podLabelsSeries("dp-1", "api-0", "api", "c-api"), podLabelsSeries("dp-1", "web-0", "web", "c-web")))
	consume(promMetrics("cadvisor",
		map[string]string{"__name__": "container_cpu_usage_seconds_total", "namespace": "dp-1", "pod": "api-0", "container": "main"},
		map[string]string{"__name__": "container_cpu_usage_seconds_total", "namespace": "dp-1", "pod": "web-0", "container": "main"},
		map[string]string{"__name__": "container_cpu_usage_seconds_total", "namespace": "dp-1", "pod": "unknown-0", "container": "main"},
		map[string]string{"__name__": "machine_cpu_cores"},
	))
	consume(promMetrics("hubble", map[string]string{"__name__": "hubble_http_requests_total", "destination_namespace": "dp-1", "destination_pod": "web-0",
		"source_namespace": "dp-1", "source_pod": "api-0", "reporter": "server"}))

	out := sink.AllMetrics()
	attrs, names := resourcesByPod(out[1])
	api := attrs["dp-1/api-0"]
	if api[AttrOCComponentUID] != "c-api" || api[AttrOCComponent] != "api" || api[AttrOCNamespace] != "org" || api[AttrOCProjectUID] != "p-uid" ||
		api[AttrOCEnvironmentUID] != "e-uid" || api["service.name"] != "cadvisor" {
		t.Errorf("api-0 resource: %v", api)
	}
	if attrs["dp-1/web-0"][AttrOCComponentUID] != "c-web" {
		t.Errorf("web-0 resource: %v", attrs["dp-1/web-0"])
	}
	if u := attrs["dp-1/unknown-0"]; u == nil || u[AttrOCComponentUID] != nil {
		t.Errorf("a pod without kube_pod_labels keeps its k8s attributes and gets no tenant: %v", u)
	}
	if len(names[""]) != 1 || names[""][0] != "machine_cpu_cores" {
		t.Errorf("a series naming no pod stays on the job's resource: %v", names)
	}
	for _, key := range []string{"dp-1/api-0", "dp-1/web-0"} {
		if len(names[key]) != 1 {
			t.Errorf("%s: %v", key, names[key])
		}
	}
	m := findMetric(out[1], "dp-1/api-0", "container_cpu_usage_seconds_total")
	if m.Type() != pmetric.MetricTypeSum || !m.Sum().IsMonotonic() || m.Sum().AggregationTemporality() != pmetric.AggregationTemporalityCumulative || m.Sum().DataPoints().Len() != 1 {
		t.Errorf("the metric's shape must survive the regroup: %v", m.Type())
	}
	if out[0].DataPointCount() != 2 || out[1].DataPointCount() != 4 || out[2].DataPointCount() != 1 {
		t.Errorf("points lost or made up: %d %d %d", out[0].DataPointCount(), out[1].DataPointCount(), out[2].DataPointCount())
	}
	hattrs, _ := resourcesByPod(out[2])
	if hattrs["dp-1/web-0"][AttrOCComponentUID] != "c-web" {
		t.Errorf("Hubble's series belongs to its destination pod: %v", hattrs)
	}
	kattrs, _ := resourcesByPod(out[0])
	if kattrs["dp-1/api-0"][AttrOCComponentUID] != "c-api" {
		t.Errorf("kube_pod_labels itself carries its pod's tenant: %v", kattrs)
	}
}

func findMetric(md pmetric.Metrics, pod, name string) pmetric.Metric {
	for i := 0; i < md.ResourceMetrics().Len(); i++ {
		rm := md.ResourceMetrics().At(i)
		p, _ := rm.Resource().Attributes().Get(AttrPodName)
		ns, _ := rm.Resource().Attributes().Get(AttrNamespaceName)
		if ns.Str()+"/"+p.Str() != pod {
			continue
		}
		ms := rm.ScopeMetrics().At(0).Metrics()
		for j := 0; j < ms.Len(); j++ {
			if ms.At(j).Name() == name {
				return ms.At(j)
			}
		}
	}
	return pmetric.NewMetric()
}

func TestPodLabelsWarmFromTheStore(t *testing.T) {
	sink := &consumertest.MetricsSink{}
	var since time.Time
	src := func(_ context.Context, s time.Time) ([]PodLabels, error) {
		since = s
		return []PodLabels{{PodKey: PodKey{"dp-1", "api-0"}, Labels: podLabelsSeries("dp-1", "api-0", "api", "c-api")}}, nil
	}
	consume := newMetricsProcessor(t, sink, WithPodLabelSource(src))
	if d := time.Since(since); d < 59*time.Minute || d > 61*time.Minute {
		t.Errorf("warm-up reads the last hour by default, read since %v", since)
	}
	consume(promMetrics("cadvisor", map[string]string{"__name__": "container_memory_working_set_bytes", "namespace": "dp-1", "pod": "api-0"}))
	attrs, _ := resourcesByPod(sink.AllMetrics()[0])
	if attrs["dp-1/api-0"][AttrOCComponentUID] != "c-api" {
		t.Errorf("warm cache not used: %v", attrs)
	}
}

func TestPodCacheForgetsOldPods(t *testing.T) {
	c := newPodCache(time.Minute, 2)
	now := time.Unix(1000, 0)
	c.put(PodKey{"a", "1"}, nil, now)
	c.put(PodKey{"a", "2"}, nil, now.Add(30*time.Second))
	if _, ok := c.get(PodKey{"a", "1"}, now.Add(2*time.Minute)); ok {
		t.Error("an entry older than the ttl must not be used")
	}
	c.put(PodKey{"a", "3"}, nil, now.Add(2*time.Minute))
	if c.len() > 2 {
		t.Errorf("cache over its bound: %d", c.len())
	}
	if _, ok := c.get(PodKey{"a", "3"}, now.Add(2*time.Minute)); !ok {
		t.Error("the newest entry must be kept")
	}
}
