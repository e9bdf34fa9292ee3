package helm_test

import (
	"fmt"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
)

func metaOf(obj runtime.Object) metav1.Object {
	m, err := meta.Accessor(obj)
	if err != nil {
		panic(err)
	}
	return m
}

// podTemplate is a workload's pod template, with where it came from.
type podTemplate struct {
	owner string
	spec  corev1.PodTemplateSpec
}

func podTemplates(objs []object) []podTemplate {
	var out []podTemplate
	for _, o := range objs {
		switch w := o.obj.(type) {
		case *appsv1.Deployment:
			out = append(out, podTemplate{"Deployment/" + o.name, w.Spec.Template})
		case *appsv1.StatefulSet:
			out = append(out, podTemplate{"StatefulSet/" + o.name, w.Spec.Template})
		case *batchv1.Job:
			out = append(out, podTemplate{"Job/" + o.name, w.Spec.Template})
		}
	}
	return out
}

func find[T runtime.Object](objs []object, name string) (T, bool) {
	var zero T
	for _, o := range objs {
		if v, ok := o.obj.(T); ok && o.name == name {
			return v, true
		}
	}
	return zero, false
}

func all[T runtime.Object](objs []object) []T {
	var out []T
	for _, o := range objs {
		if v, ok := o.obj.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

// jobArgs is a Job's container args.
func jobArgs(o object) []string {
	j, ok := o.obj.(*batchv1.Job)
	if !ok || len(j.Spec.Template.Spec.Containers) == 0 {
		return nil
	}
	return j.Spec.Template.Spec.Containers[0].Args
}

// namedPorts are the container port names of a pod template.
func namedPorts(p corev1.PodTemplateSpec) map[string]bool {
	out := map[string]bool{}
	for _, c := range p.Spec.Containers {
		for _, cp := range c.Ports {
			out[cp.Name] = true
		}
	}
	return out
}

func portResolves(p intstr.IntOrString, ports map[string]bool) bool {
	return p.Type == intstr.Int || ports[p.StrVal]
}

// checkObjects holds the rendered objects to what a cluster would need of
// them beyond their schema: names valid, selectors selecting, named ports
// existing, accounts and roles present, pods locked down.
func checkObjects(t *testing.T, objs []object) {
	t.Helper()
	seen := map[string]bool{}
	for _, o := range objs {
		key := o.kind + "/" + o.ns + "/" + o.name
		if seen[key] {
			t.Errorf("%s rendered twice", key)
		}
		seen[key] = true
		if errs := validation.IsDNS1123Subdomain(o.name); len(errs) > 0 {
			t.Errorf("%s/%s: name: %v", o.kind, o.name, errs)
		}
		if o.ns == "" {
			t.Errorf("%s/%s: no namespace", o.kind, o.name)
		}
	}
	pods := podTemplates(objs)
	accounts := map[string]bool{"": true}
	for _, sa := range all[*corev1.ServiceAccount](objs) {
		accounts[sa.Name] = true
	}
	secrets := map[string]bool{}
	for _, s := range all[*corev1.Secret](objs) {
		secrets[s.Name] = true
	}
	for _, p := range pods {
		ps := p.spec.Spec
		if !accounts[ps.ServiceAccountName] {
			t.Errorf("%s: service account %q is not rendered", p.owner, ps.ServiceAccountName)
		}
		if ps.SecurityContext == nil || ps.SecurityContext.RunAsNonRoot == nil || !*ps.SecurityContext.RunAsNonRoot {
			t.Errorf("%s: pod may run as root", p.owner)
		}
		ports := namedPorts(p.spec)
		for _, c := range ps.Containers {
			sc := c.SecurityContext
			if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
				sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
				t.Errorf("%s/%s: container not locked down (read-only root, no privilege escalation)", p.owner, c.Name)
			}
			if c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
				t.Errorf("%s/%s: no memory request or limit", p.owner, c.Name)
			}
			for _, pr := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
				if pr == nil {
					continue
				}
				if pr.HTTPGet != nil && !portResolves(pr.HTTPGet.Port, ports) {
					t.Errorf("%s/%s: probe port %v is not a container port", p.owner, c.Name, pr.HTTPGet.Port.String())
				}
				if pr.TCPSocket != nil && !portResolves(pr.TCPSocket.Port, ports) {
					t.Errorf("%s/%s: probe port %v is not a container port", p.owner, c.Name, pr.TCPSocket.Port.String())
				}
			}
			mounts := map[string]bool{}
			for _, v := range ps.Volumes {
				mounts[v.Name] = true
			}
			for _, m := range c.VolumeMounts {
				if !mounts[m.Name] && !claimTemplate(objs, p.owner, m.Name) {
					t.Errorf("%s/%s: volume mount %q has no volume", p.owner, c.Name, m.Name)
				}
			}
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					ref := e.ValueFrom.SecretKeyRef.Name
					if ref == "" {
						t.Errorf("%s/%s: env %s from a Secret with no name", p.owner, c.Name, e.Name)
					}
				}
			}
		}
	}
	for _, d := range all[*appsv1.Deployment](objs) {
		checkSelector(t, "Deployment/"+d.Name, d.Spec.Selector, d.Spec.Template.Labels)
	}
	for _, s := range all[*appsv1.StatefulSet](objs) {
		checkSelector(t, "StatefulSet/"+s.Name, s.Spec.Selector, s.Spec.Template.Labels)
		if _, ok := find[*corev1.Service](objs, s.Spec.ServiceName); !ok {
			t.Errorf("StatefulSet/%s: serviceName %q is not rendered", s.Name, s.Spec.ServiceName)
		}
	}
	for _, svc := range all[*corev1.Service](objs) {
		sel := labels.SelectorFromSet(svc.Spec.Selector)
		var matched []podTemplate
		for _, p := range pods {
			if !strings.HasPrefix(p.owner, "Job/") && sel.Matches(labels.Set(p.spec.Labels)) {
				matched = append(matched, p)
			}
		}
		if len(matched) == 0 {
			t.Errorf("Service/%s: selector %v selects no pod", svc.Name, svc.Spec.Selector)
		}
		for _, sp := range svc.Spec.Ports {
			for _, p := range matched {
				if !portResolves(sp.TargetPort, namedPorts(p.spec)) {
					t.Errorf("Service/%s: targetPort %s is not a port of %s", svc.Name, sp.TargetPort.String(), p.owner)
				}
			}
		}
	}
	for _, h := range all[*autoscalingv2.HorizontalPodAutoscaler](objs) {
		if _, ok := find[*appsv1.Deployment](objs, h.Spec.ScaleTargetRef.Name); !ok {
			t.Errorf("HPA/%s: target Deployment %q is not rendered", h.Name, h.Spec.ScaleTargetRef.Name)
		}
		if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas > h.Spec.MaxReplicas {
			t.Errorf("HPA/%s: min replicas above max", h.Name)
		}
	}
	for _, pdb := range all[*policyv1.PodDisruptionBudget](objs) {
		checkSelectsSome(t, "PDB/"+pdb.Name, pdb.Spec.Selector, pods)
	}
	for _, np := range all[*networkingv1.NetworkPolicy](objs) {
		selected := checkSelectsSome(t, "NetworkPolicy/"+np.Name, &np.Spec.PodSelector, pods)
		for _, r := range np.Spec.Ingress {
			for _, pp := range r.Ports {
				for _, p := range selected {
					if pp.Port != nil && !portResolves(*pp.Port, namedPorts(p.spec)) {
						t.Errorf("NetworkPolicy/%s: port %s is not a port of %s", np.Name, pp.Port.String(), p.owner)
					}
				}
			}
		}
	}
	roles := map[string]*rbacv1.Role{}
	for _, r := range all[*rbacv1.Role](objs) {
		roles[r.Namespace+"/"+r.Name] = r
		for _, rule := range r.Rules {
			if len(rule.ResourceNames) == 0 {
				t.Errorf("Role/%s: a rule on %v not limited to named objects", r.Name, rule.Resources)
			}
			for _, v := range rule.Verbs {
				if v != "get" && v != "delete" {
					t.Errorf("Role/%s: verb %q beyond get and delete", r.Name, v)
				}
			}
		}
	}
	for _, rb := range all[*rbacv1.RoleBinding](objs) {
		if roles[rb.Namespace+"/"+rb.RoleRef.Name] == nil {
			t.Errorf("RoleBinding/%s: role %q is not rendered in %s", rb.Name, rb.RoleRef.Name, rb.Namespace)
		}
		for _, s := range rb.Subjects {
			if s.Kind == "ServiceAccount" && !accounts[s.Name] {
				t.Errorf("RoleBinding/%s: subject %q is not rendered", rb.Name, s.Name)
			}
		}
	}
	if len(all[*rbacv1.ClusterRole](objs))+len(all[*rbacv1.ClusterRoleBinding](objs)) > 0 {
		t.Errorf("cluster-wide RBAC rendered; the chart needs none")
	}
	for _, sm := range all[*monitoringv1.ServiceMonitor](objs) {
		sel, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, svc := range all[*corev1.Service](objs) {
			if sel.Matches(labels.Set(svc.Labels)) {
				n++
				for _, ep := range sm.Spec.Endpoints {
					if !hasServicePort(svc, ep.Port) {
						t.Errorf("ServiceMonitor/%s: Service/%s has no port %q", sm.Name, svc.Name, ep.Port)
					}
				}
			}
		}
		if n == 0 {
			t.Errorf("ServiceMonitor/%s selects no Service", sm.Name)
		}
	}
	for _, pm := range all[*monitoringv1.PodMonitor](objs) {
		selected := checkSelectsSome(t, "PodMonitor/"+pm.Name, &pm.Spec.Selector, pods)
		for _, ep := range pm.Spec.PodMetricsEndpoints {
			found := false
			for _, p := range selected {
				found = found || (ep.Port != nil && namedPorts(p.spec)[*ep.Port])
			}
			if !found {
				t.Errorf("PodMonitor/%s: no selected pod has the endpoint's port", pm.Name)
			}
		}
	}
	for _, j := range all[*batchv1.Job](objs) {
		if j.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever && j.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyOnFailure {
			t.Errorf("Job/%s: restartPolicy %q", j.Name, j.Spec.Template.Spec.RestartPolicy)
		}
		c := j.Spec.Template.Spec.Containers[0]
		if len(c.Command) > 0 || len(c.Args) == 0 || strings.Contains(strings.Join(c.Args, " "), "sh -c") {
			t.Errorf("Job/%s: runs %v %v; want the image's obsplane with arguments", j.Name, c.Command, c.Args)
		}
	}
}

func hasServicePort(svc *corev1.Service, name string) bool {
	for _, p := range svc.Spec.Ports {
		if p.Name == name {
			return true
		}
	}
	return false
}

func claimTemplate(objs []object, owner, name string) bool {
	if !strings.HasPrefix(owner, "StatefulSet/") {
		return false
	}
	s, ok := find[*appsv1.StatefulSet](objs, strings.TrimPrefix(owner, "StatefulSet/"))
	if !ok {
		return false
	}
	for _, c := range s.Spec.VolumeClaimTemplates {
		if c.Name == name {
			return true
		}
	}
	return false
}

func checkSelector(t *testing.T, what string, sel *metav1.LabelSelector, podLabels map[string]string) {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil || s.Empty() || !s.Matches(labels.Set(podLabels)) {
		t.Errorf("%s: selector %v does not select its own pods %v (%v)", what, sel, podLabels, err)
	}
}

func checkSelectsSome(t *testing.T, what string, sel *metav1.LabelSelector, pods []podTemplate) []podTemplate {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return nil
	}
	var out []podTemplate
	for _, p := range pods {
		if s.Matches(labels.Set(p.spec.Labels)) {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		t.Errorf("%s: selector %v selects no pod", what, sel)
	}
	return out
}

// env is a container's environment as name -> value (secret refs as
// secret:NAME/KEY).
func env(c corev1.Container) map[string]string {
	out := map[string]string{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			out[e.Name] = fmt.Sprintf("secret:%s/%s", e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key)
		default:
			out[e.Name] = e.Value
		}
	}
	return out
}
