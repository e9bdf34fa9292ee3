package cleanup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// Kube is the Kubernetes part of the cleanup: OpenSearch's objects, each
// named (the chart's opensearch.statefulSetName, serviceNames,
// configMapNames, secretNames, pvcNames) and deleted by name through
// client-go. Names are what the chart's Role grants get and delete on;
// nothing is listed or selected by label, so nothing beyond the names can
// be reached.
type Kube struct {
	Client    kubernetes.Interface
	Namespace string
	// Release, when set, is the Helm release that installed OpenSearch: the
	// StatefulSet, Services and ConfigMaps must carry it (label
	// app.kubernetes.io/instance or release, or annotation
	// meta.helm.sh/release-name), or the cleanup refuses. Secrets are
	// exempt (OpenChoreo's admin credentials come from an ExternalSecret,
	// not the release); PVCs must be the StatefulSet's own claims or carry
	// the release.
	Release string

	StatefulSet       string
	DeleteStatefulSet bool
	// PVCs are deleted with DeletePVCs; empty means the StatefulSet's own
	// claims, <claim template>-<statefulset>-<ordinal> for every replica.
	PVCs             []string
	DeletePVCs       bool
	Services         []string
	DeleteServices   bool
	ConfigMaps       []string
	DeleteConfigMaps bool
	Secrets          []string
	DeleteSecrets    bool

	// Timeout bounds the wait for the StatefulSet and its pods to go
	// (default 10m); PollInterval is between two looks (default 2s).
	Timeout      time.Duration
	PollInterval time.Duration
}

func (k *Kube) defaults() error {
	if k.Client == nil {
		return errors.New("cleanup: Kubernetes part without a client")
	}
	if k.Namespace == "" {
		return errors.New("cleanup: Kubernetes part without --namespace")
	}
	if k.Timeout <= 0 {
		k.Timeout = 10 * time.Minute
	}
	if k.PollInterval <= 0 {
		k.PollInterval = 2 * time.Second
	}
	return nil
}

// Kinds, in the order they are deleted: the StatefulSet first (its pods
// hold the claims), the claims, then what pointed at or configured it.
const (
	KindStatefulSet = "StatefulSet"
	KindPVC         = "PersistentVolumeClaim"
	KindService     = "Service"
	KindConfigMap   = "ConfigMap"
	KindSecret      = "Secret"
)

// KubeObject is one named object and what the cleanup does with it.
type KubeObject struct {
	Kind, Name string
	UID        types.UID // as seen when planning; the deletion requires the same
	Exists     bool
	Delete     bool
	Why        string // why it is kept, or where its name came from
}

// KubePlan is the Kubernetes part of a plan.
type KubePlan struct {
	Namespace, Release string
	Objects            []KubeObject
	Refusal            string
}

func (p *KubePlan) count() int {
	n := 0
	for _, ob := range p.Objects {
		if ob.Delete && ob.Exists {
			n++
		}
	}
	return n
}

// KubeAction is what happened to one object.
type KubeAction struct {
	Kind, Namespace, Name string
	Outcome               string // deleted, already gone
}

// Write prints the Kubernetes part of the plan.
func (p *KubePlan) Write(w io.Writer) {
	rel := ""
	if p.Release != "" {
		rel = ", release " + p.Release
	}
	fmt.Fprintf(w, "kubernetes (namespace %s%s), by name:\n", p.Namespace, rel)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, ob := range p.Objects {
		act := "keep"
		switch {
		case ob.Delete && ob.Exists:
			act = "delete"
		case ob.Delete:
			act = "absent"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t\n", act, ob.Kind, ob.Name, ob.Why)
	}
	_ = tw.Flush()
}

// meta reads an object's metadata; a missing object is (nil, nil).
type getter func(ctx context.Context, name string) (metav1.Object, error)

func (k *Kube) getters() map[string]getter {
	ns := k.Namespace
	c := k.Client
	wrap := func(o metav1.Object, err error) (metav1.Object, error) {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return o, err
	}
	return map[string]getter{
		KindStatefulSet: func(ctx context.Context, n string) (metav1.Object, error) {
			return wrap(c.AppsV1().StatefulSets(ns).Get(ctx, n, metav1.GetOptions{}))
		},
		KindPVC: func(ctx context.Context, n string) (metav1.Object, error) {
			return wrap(c.CoreV1().PersistentVolumeClaims(ns).Get(ctx, n, metav1.GetOptions{}))
		},
		KindService: func(ctx context.Context, n string) (metav1.Object, error) {
			return wrap(c.CoreV1().Services(ns).Get(ctx, n, metav1.GetOptions{}))
		},
		KindConfigMap: func(ctx context.Context, n string) (metav1.Object, error) {
			return wrap(c.CoreV1().ConfigMaps(ns).Get(ctx, n, metav1.GetOptions{}))
		},
		KindSecret: func(ctx context.Context, n string) (metav1.Object, error) {
			return wrap(c.CoreV1().Secrets(ns).Get(ctx, n, metav1.GetOptions{}))
		},
	}
}

// plan looks up every named object (get only) and checks it belongs to the
// release.
func (k *Kube) plan(ctx context.Context) (*KubePlan, error) {
	p := &KubePlan{Namespace: k.Namespace, Release: k.Release}
	get := k.getters()
	var refusals []string
	look := func(kind, name string, del bool, why string, releaseCheck bool) (metav1.Object, error) {
		ob := KubeObject{Kind: kind, Name: name, Delete: del, Why: why}
		if !del {
			p.Objects = append(p.Objects, ob)
			return nil, nil
		}
		m, err := get[kind](ctx, name)
		if err != nil {
			return nil, fmt.Errorf("cleanup: get %s %s/%s: %w", kind, k.Namespace, name, err)
		}
		if m != nil {
			ob.Exists, ob.UID = true, m.GetUID()
			if releaseCheck && k.Release != "" && !ofRelease(m, k.Release) {
				refusals = append(refusals, fmt.Sprintf("%s %s/%s does not belong to release %s (no app.kubernetes.io/instance, release label or meta.helm.sh/release-name annotation naming it)", kind, k.Namespace, name, k.Release))
			}
		} else {
			ob.Why = "not found: nothing to do"
		}
		p.Objects = append(p.Objects, ob)
		return m, nil
	}

	var claims []string // the StatefulSet's own claims
	if k.StatefulSet != "" {
		m, err := look(KindStatefulSet, k.StatefulSet, k.DeleteStatefulSet, keepWhy(k.DeleteStatefulSet, "--delete-statefulset"), true)
		if err != nil {
			return nil, err
		}
		if m == nil && k.DeletePVCs {
			// Kept StatefulSets are not read above; their claims are needed.
			if m, err = get[KindStatefulSet](ctx, k.StatefulSet); err != nil {
				return nil, fmt.Errorf("cleanup: get %s %s/%s: %w", KindStatefulSet, k.Namespace, k.StatefulSet, err)
			}
		}
		if m != nil {
			sts, err := k.Client.AppsV1().StatefulSets(k.Namespace).Get(ctx, k.StatefulSet, metav1.GetOptions{})
			if err != nil {
				return nil, fmt.Errorf("cleanup: get %s %s/%s: %w", KindStatefulSet, k.Namespace, k.StatefulSet, err)
			}
			replicas := int32(1)
			if sts.Spec.Replicas != nil {
				replicas = *sts.Spec.Replicas
			}
			for _, t := range sts.Spec.VolumeClaimTemplates {
				for i := int32(0); i < replicas; i++ {
					claims = append(claims, fmt.Sprintf("%s-%s-%d", t.Name, k.StatefulSet, i))
				}
			}
		}
	}
	pvcs, from := k.PVCs, "named by --pvcs"
	if len(pvcs) == 0 && k.DeletePVCs {
		pvcs, from = claims, "claim of statefulset "+k.StatefulSet
	}
	for _, n := range pvcs {
		m, err := look(KindPVC, n, k.DeletePVCs, keepWhy(k.DeletePVCs, "--delete-pvcs", from), false)
		if err != nil {
			return nil, err
		}
		if m != nil && k.Release != "" && !slices.Contains(claims, n) && !ofRelease(m, k.Release) {
			refusals = append(refusals, fmt.Sprintf("%s %s/%s is neither a claim of statefulset %s nor of release %s", KindPVC, k.Namespace, n, k.StatefulSet, k.Release))
		}
	}
	for _, n := range k.Services {
		if _, err := look(KindService, n, k.DeleteServices, keepWhy(k.DeleteServices, "--delete-services"), true); err != nil {
			return nil, err
		}
	}
	for _, n := range k.ConfigMaps {
		if _, err := look(KindConfigMap, n, k.DeleteConfigMaps, keepWhy(k.DeleteConfigMaps, "--delete-configmaps"), true); err != nil {
			return nil, err
		}
	}
	for _, n := range k.Secrets {
		if _, err := look(KindSecret, n, k.DeleteSecrets, keepWhy(k.DeleteSecrets, "--delete-secrets"), false); err != nil {
			return nil, err
		}
	}
	p.Refusal = strings.Join(refusals, "; ")
	return p, nil
}

func keepWhy(del bool, flag string, from ...string) string {
	if !del {
		return flag + "=false"
	}
	return strings.Join(from, "")
}

// ofRelease reports whether m carries Helm release rel.
func ofRelease(m metav1.Object, rel string) bool {
	l, a := m.GetLabels(), m.GetAnnotations()
	return l["app.kubernetes.io/instance"] == rel || l["release"] == rel || a["meta.helm.sh/release-name"] == rel
}

// apply deletes the planned objects in order, each by name and with the UID
// seen when planning as a precondition (an object recreated since is not
// the one planned, and stays). The StatefulSet is deleted in the
// foreground and awaited, so its pods are gone before their claims are
// deleted.
func (k *Kube) apply(ctx context.Context, p *KubePlan, log *slog.Logger) ([]KubeAction, error) {
	var acts []KubeAction
	c, ns := k.Client, k.Namespace
	for _, ob := range p.Objects {
		if !ob.Delete || !ob.Exists {
			continue
		}
		uid := ob.UID
		opts := metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}}
		var err error
		switch ob.Kind {
		case KindStatefulSet:
			fg := metav1.DeletePropagationForeground
			opts.PropagationPolicy = &fg
			err = c.AppsV1().StatefulSets(ns).Delete(ctx, ob.Name, opts)
		case KindPVC:
			err = c.CoreV1().PersistentVolumeClaims(ns).Delete(ctx, ob.Name, opts)
		case KindService:
			err = c.CoreV1().Services(ns).Delete(ctx, ob.Name, opts)
		case KindConfigMap:
			err = c.CoreV1().ConfigMaps(ns).Delete(ctx, ob.Name, opts)
		case KindSecret:
			err = c.CoreV1().Secrets(ns).Delete(ctx, ob.Name, opts)
		}
		act := KubeAction{Kind: ob.Kind, Namespace: ns, Name: ob.Name, Outcome: "deleted"}
		switch {
		case apierrors.IsNotFound(err):
			act.Outcome = "already gone"
			log.Warn("kubernetes object already gone", "kind", ob.Kind, "namespace", ns, "name", ob.Name)
		case err != nil:
			return acts, fmt.Errorf("cleanup: delete %s %s/%s: %w", ob.Kind, ns, ob.Name, err)
		default:
			log.Info("kubernetes object deleted", "kind", ob.Kind, "namespace", ns, "name", ob.Name)
		}
		if ob.Kind == KindStatefulSet && err == nil {
			if err := k.waitGone(ctx, ob, log); err != nil {
				return acts, err
			}
		}
		acts = append(acts, act)
	}
	return acts, nil
}

// waitGone waits, bounded by Timeout, until the object no longer exists.
func (k *Kube) waitGone(ctx context.Context, ob KubeObject, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, k.Timeout)
	defer cancel()
	get := k.getters()[ob.Kind]
	start, lastLog := time.Now(), time.Now()
	for {
		m, err := get(ctx, ob.Name)
		if err == nil && (m == nil || m.GetUID() != ob.UID) {
			log.Info("kubernetes object gone", "kind", ob.Kind, "name", ob.Name, "took", time.Since(start).Round(time.Millisecond))
			return nil
		}
		if time.Since(lastLog) >= 30*time.Second {
			log.Info("waiting for kubernetes object to go", "kind", ob.Kind, "name", ob.Name, "elapsed", time.Since(start).Round(time.Second), "timeout", k.Timeout)
			lastLog = time.Now()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cleanup: %s %s/%s still there after %s (the timeout; its pods may not have stopped): %v", ob.Kind, k.Namespace, ob.Name, k.Timeout, err)
		case <-time.After(k.PollInterval):
		}
	}
}
