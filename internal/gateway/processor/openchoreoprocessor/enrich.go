package openchoreoprocessor

import (
	"sort"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// Resource attribute keys written by the processor. The schema's tenant
// columns (OpenChoreoNamespace, ...) read the openchoreo.* keys.
const (
	AttrPodName       = "k8s.pod.name"
	AttrPodUID        = "k8s.pod.uid"
	AttrNamespaceName = "k8s.namespace.name"
	AttrContainerName = "k8s.container.name"
	AttrNodeName      = "k8s.node.name"
	AttrContainerID   = "container.id"
	AttrImageName     = "container.image.name"
	AttrServiceName   = "service.name"

	AttrOCNamespace      = "openchoreo.namespace"
	AttrOCNamespaceUID   = "openchoreo.namespace.uid"
	AttrOCProject        = "openchoreo.project"
	AttrOCProjectUID     = "openchoreo.project.uid"
	AttrOCComponent      = "openchoreo.component"
	AttrOCComponentUID   = "openchoreo.component.uid"
	AttrOCEnvironment    = "openchoreo.environment"
	AttrOCEnvironmentUID = "openchoreo.environment.uid"

	// Pod labels and annotations, as the OTel semantic conventions name them.
	PodLabelPrefix      = "k8s.pod.label."
	PodAnnotationPrefix = "k8s.pod.annotation."
)

// ocLabels maps OpenChoreo's pod label keys (as OpenChoreo sets them; the
// suffix after "openchoreo.dev/") to the resource attribute they become.
var ocLabels = map[string]string{
	"namespace":       AttrOCNamespace,
	"namespace-uid":   AttrOCNamespaceUID,
	"project":         AttrOCProject,
	"project-uid":     AttrOCProjectUID,
	"component":       AttrOCComponent,
	"component-uid":   AttrOCComponentUID,
	"environment":     AttrOCEnvironment,
	"environment-uid": AttrOCEnvironmentUID,
}

// kubernetesFields maps the fields of Fluent Bit's kubernetes filter record
// to OTel resource attributes. Fields not listed keep their name under
// "kubernetes." so nothing the filter produced is lost.
var kubernetesFields = map[string]string{
	"pod_name":        AttrPodName,
	"pod_id":          AttrPodUID,
	"namespace_name":  AttrNamespaceName,
	"container_name":  AttrContainerName,
	"host":            AttrNodeName,
	"docker_id":       AttrContainerID,
	"container_image": AttrImageName,
}

// ocLabelTarget returns the openchoreo.* key for a pod label key, accepting
// the key as OpenChoreo writes it (openchoreo.dev/component-uid) and as
// Fluent Bit's Replace_Dots stores it (openchoreo_dev/component-uid).
func ocLabelTarget(label string) (string, bool) {
	var rest string
	switch {
	case strings.HasPrefix(label, "openchoreo.dev/"):
		rest = label[len("openchoreo.dev/"):]
	case strings.HasPrefix(label, "openchoreo_dev/"):
		rest = label[len("openchoreo_dev/"):]
	default:
		return "", false
	}
	t, ok := ocLabels[rest]
	return t, ok
}

// kv is one derived resource attribute.
type kv struct{ k, v string }

// derived collects the resource attributes one record implies. It is a
// sorted slice (not a map) because records are grouped by it and the
// grouping key must not depend on map iteration order.
type derived []kv

func (d *derived) put(k, v string) { *d = append(*d, kv{k, v}) }

// finish sorts and removes duplicate keys, keeping the first value put for a
// key (callers put the most authoritative source first).
func (d derived) finish() derived {
	sort.SliceStable(d, func(i, j int) bool { return d[i].k < d[j].k })
	out := d[:0]
	for i, e := range d {
		if i > 0 && e.k == d[i-1].k {
			continue
		}
		out = append(out, e)
	}
	return out
}

func (d derived) key() string {
	if len(d) == 0 {
		return ""
	}
	var b strings.Builder
	for _, e := range d {
		b.WriteString(e.k)
		b.WriteByte(0)
		b.WriteString(e.v)
		b.WriteByte(0)
	}
	return b.String()
}

// fromRecord reads Fluent Bit's kubernetes metadata from a log record's
// attributes: the nested `kubernetes` map the kubernetes filter adds, or the
// same fields flattened to `kubernetes.pod_name`, `kubernetes.labels.<key>`
// (OpenSearch documents and nest/lift filters produce those). It reports
// whether the record had any, so the caller knows what to strip.
//
// Unless cfg trusts the record (kubernetes_record), its OpenChoreo labels
// are ignored. When it does but not the sender's own labels (resource),
// only the nested map counts: that is the shape the kubernetes filter
// writes, while flattened keys could come from an application's JSON line
// merged into the record.
func fromRecord(attrs pcommon.Map, d *derived, cfg *Config) bool {
	labels := cfg.trusts(SourceKubernetesRecord)
	flatLabels := labels && cfg.trusts(SourceResource)
	found := false
	if v, ok := attrs.Get("kubernetes"); ok && v.Type() == pcommon.ValueTypeMap {
		found = true
		v.Map().Range(func(k string, fv pcommon.Value) bool {
			kubernetesField(k, fv, d, labels)
			return true
		})
	}
	attrs.Range(func(k string, v pcommon.Value) bool {
		if !strings.HasPrefix(k, "kubernetes.") {
			return true
		}
		found = true
		rest := k[len("kubernetes."):]
		switch {
		case strings.HasPrefix(rest, "labels."):
			label(rest[len("labels."):], v.AsString(), d, flatLabels)
		case strings.HasPrefix(rest, "annotations."):
			d.put(PodAnnotationPrefix+rest[len("annotations."):], v.AsString())
		default:
			kubernetesField(rest, v, d, flatLabels)
		}
		return true
	})
	return found
}

func kubernetesField(name string, v pcommon.Value, d *derived, ocLabels bool) {
	switch name {
	case "labels":
		if v.Type() == pcommon.ValueTypeMap {
			v.Map().Range(func(k string, lv pcommon.Value) bool {
				label(k, lv.AsString(), d, ocLabels)
				return true
			})
		}
		return
	case "annotations":
		if v.Type() == pcommon.ValueTypeMap {
			v.Map().Range(func(k string, av pcommon.Value) bool {
				d.put(PodAnnotationPrefix+k, av.AsString())
				return true
			})
		}
		return
	}
	if name == "" {
		return
	}
	if t, ok := kubernetesFields[name]; ok {
		d.put(t, v.AsString())
		return
	}
	d.put("kubernetes."+name, v.AsString())
}

// label puts one pod label; an OpenChoreo label only when ocLabels (its
// source is trusted), so an untrusted one is not kept even as a pod label.
func label(k, v string, d *derived, ocLabels bool) {
	if k == "" {
		return
	}
	t, isOC := ocLabelTarget(k)
	if isOC && !ocLabels {
		return
	}
	d.put(PodLabelPrefix+k, v)
	if isOC && v != "" {
		d.put(t, v)
	}
}

// fromResource derives openchoreo.* keys from labels a producer already put
// on the resource: the k8sattributes processor (k8s.pod.label.<key> per the
// semantic conventions, k8s.pod.labels.<key> by its default tag name) or the
// bare label key as OpenChoreo's own collectors copy it.
//
// Pod-label keys count only when cfg trusts pod_labels, bare label keys only
// when it trusts resource.
func fromResource(res pcommon.Map, d *derived, cfg *Config) {
	podLabels, bare := cfg.trusts(SourcePodLabels), cfg.trusts(SourceResource)
	res.Range(func(k string, v pcommon.Value) bool {
		l := k
		switch {
		case strings.HasPrefix(k, PodLabelPrefix):
			l = k[len(PodLabelPrefix):]
		case strings.HasPrefix(k, "k8s.pod.labels."):
			l = k[len("k8s.pod.labels."):]
		}
		if (l == k && !bare) || (l != k && !podLabels) {
			return true
		}
		if t, ok := ocLabelTarget(l); ok {
			if s := v.AsString(); s != "" {
				d.put(t, s)
			}
		}
		return true
	})
}

// stripSenderLabels removes the tenant labels a sender set on the resource
// (openchoreo.*, and the bare pod-label keys the tenant columns fall back
// to), when cfg does not trust them; untrusted pod-label keys go too.
func stripSenderLabels(res pcommon.Map, cfg *Config) {
	if cfg.trusts(SourceResource) {
		return
	}
	podLabels := cfg.trusts(SourcePodLabels)
	res.RemoveIf(func(k string, _ pcommon.Value) bool {
		if strings.HasPrefix(k, "openchoreo.") || strings.HasPrefix(k, "openchoreo_dev/") {
			return true
		}
		if !podLabels {
			for _, p := range []string{PodLabelPrefix, "k8s.pod.labels."} {
				if strings.HasPrefix(k, p) {
					if _, oc := ocLabelTarget(k[len(p):]); oc {
						return true
					}
				}
			}
		}
		return false
	})
}

// apply writes the derived attributes the resource does not already have
// (what the source set explicitly wins; stripSenderLabels has removed what
// it may not set), then service.name from the component.
func apply(res pcommon.Map, d derived, cfg *Config) {
	for _, e := range d {
		if _, ok := res.Get(e.k); !ok {
			res.PutStr(e.k, e.v)
		}
	}
	if cfg.ServiceNameFromComponent {
		if sv, ok := res.Get(AttrServiceName); !ok || sv.AsString() == "" {
			if c, ok := res.Get(AttrOCComponent); ok && c.AsString() != "" {
				res.PutStr(AttrServiceName, c.AsString())
			}
		}
	}
}

func stripKubernetes(attrs pcommon.Map) {
	attrs.RemoveIf(func(k string, _ pcommon.Value) bool {
		return k == "kubernetes" || strings.HasPrefix(k, "kubernetes.")
	})
}

// moveLogToBody puts a `log` attribute into the body when the body is empty:
// the forward receiver already does this for Fluent Bit records, but OTLP
// producers that mirror Fluent Bit's record shape leave it in attributes.
func moveLogToBody(lr plog.LogRecord) {
	if b := lr.Body(); b.Type() != pcommon.ValueTypeEmpty && !(b.Type() == pcommon.ValueTypeStr && b.Str() == "") {
		return
	}
	v, ok := lr.Attributes().Get("log")
	if !ok {
		return
	}
	v.CopyTo(lr.Body())
	lr.Attributes().Remove("log")
}

// EnrichLogs rewrites ld in place and returns it: every record's Kubernetes
// and OpenChoreo metadata becomes resource attributes, the `log` attribute
// becomes the body, and a missing severity is derived from the line.
//
// Records that arrived under one resource but belong to different pods (a
// forward connection carries a whole node's containers) are regrouped under
// one resource per distinct attribute set, keeping their order and scopes.
// It is exported so the OpenSearch backfill maps documents the same way the
// gateway maps live traffic.
func EnrichLogs(ld plog.Logs, cfg *Config) plog.Logs {
	rls := ld.ResourceLogs()
	needsRegroup := false
	// One pass computes each record's derived set; records are visited in
	// (resource, scope, record) order and the sets stored in that order.
	type recInfo struct {
		key string
		d   derived
	}
	perRL := make([][]recInfo, rls.Len())
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		res := rl.Resource().Attributes()
		stripSenderLabels(res, cfg)
		var base derived
		fromResource(res, &base, cfg)
		var infos []recInfo
		first := ""
		for j := 0; j < rl.ScopeLogs().Len(); j++ {
			recs := rl.ScopeLogs().At(j).LogRecords()
			for k := 0; k < recs.Len(); k++ {
				lr := recs.At(k)
				moveLogToBody(lr)
				deriveSeverity(lr, cfg)
				d := append(derived(nil), base...)
				if fromRecord(lr.Attributes(), &d, cfg) && !cfg.KeepKubernetesRecord {
					stripKubernetes(lr.Attributes())
				}
				d = d.finish()
				key := d.key()
				if len(infos) == 0 {
					first = key
				} else if key != first {
					needsRegroup = true
				}
				infos = append(infos, recInfo{key, d})
			}
		}
		perRL[i] = infos
	}

	if !needsRegroup {
		// Common case (OTLP, or one pod per forward chunk): every record of
		// a resource implies the same attributes, so enrich in place.
		for i := 0; i < rls.Len(); i++ {
			var d derived
			if len(perRL[i]) > 0 {
				d = perRL[i][0].d
			}
			apply(rls.At(i).Resource().Attributes(), d, cfg)
		}
		return ld
	}

	out := plog.NewLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		infos := perRL[i]
		groups := map[string]plog.ResourceLogs{}
		n := 0
		for j := 0; j < rl.ScopeLogs().Len(); j++ {
			sl := rl.ScopeLogs().At(j)
			scopes := map[string]plog.ScopeLogs{}
			recs := sl.LogRecords()
			for k := 0; k < recs.Len(); k++ {
				info := infos[n]
				n++
				grl, ok := groups[info.key]
				if !ok {
					grl = out.ResourceLogs().AppendEmpty()
					rl.Resource().CopyTo(grl.Resource())
					grl.SetSchemaUrl(rl.SchemaUrl())
					apply(grl.Resource().Attributes(), info.d, cfg)
					groups[info.key] = grl
				}
				gsl, ok := scopes[info.key]
				if !ok {
					gsl = grl.ScopeLogs().AppendEmpty()
					sl.Scope().CopyTo(gsl.Scope())
					gsl.SetSchemaUrl(sl.SchemaUrl())
					scopes[info.key] = gsl
				}
				recs.At(k).MoveTo(gsl.LogRecords().AppendEmpty())
			}
		}
		if n == 0 {
			// A resource with no records still travels (and still gets its
			// resource-level enrichment).
			nrl := out.ResourceLogs().AppendEmpty()
			rl.MoveTo(nrl)
			var d derived
			fromResource(nrl.Resource().Attributes(), &d, cfg)
			apply(nrl.Resource().Attributes(), d.finish(), cfg)
		}
	}
	return out
}

// EnrichResource applies the resource-level part (OpenChoreo labels already
// on the resource -> openchoreo.*, service.name) to a trace or metric
// resource.
func EnrichResource(res pcommon.Map, cfg *Config) {
	stripSenderLabels(res, cfg)
	var d derived
	fromResource(res, &d, cfg)
	apply(res, d.finish(), cfg)
}
