package cleanup_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/openchoreo/obsplane/internal/migrate/cleanup"
	"github.com/openchoreo/obsplane/internal/migrate/state"
	"github.com/openchoreo/obsplane/internal/opensearch"
	"github.com/openchoreo/obsplane/internal/opensearch/opensearchtest"
	"github.com/openchoreo/obsplane/internal/schema"
	"github.com/openchoreo/obsplane/internal/store"
	"github.com/openchoreo/obsplane/internal/store/chdb"
	"github.com/openchoreo/obsplane/internal/store/chdb/chdbtest"
)

var (
	osURL, osSkip string
	st            *chdb.Store // the migration state's store: the real embedded engine
)

func TestMain(m *testing.M) {
	osURL, osSkip = opensearchtest.ForMain("internal/migrate/cleanup")
	chdbtest.Main(m, &st)
}

func client(t *testing.T) *opensearch.Client {
	t.Helper()
	if osSkip != "" {
		t.Skip(osSkip)
	}
	c, err := opensearch.New(osURL, opensearch.Options{Timeout: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// fixture is one test's OpenSearch: OpenChoreo's daily indices of a year no
// other test uses, the patterns naming them, an index of the next year and
// one of another family that the patterns do not name, and a registered fs
// repository (relative to the node's path.repo, scripts/opensearch.sh).
type fixture struct {
	c         *opensearch.Client
	year      int
	patterns  []string
	named     []string // what the patterns match
	unrelated []string // what they do not
	docs      map[string]int64
	repo      string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	c := client(t)
	ctx := ctxT(t)
	f := &fixture{c: c, year: 1000 + rand.IntN(8000), docs: map[string]int64{}}
	y := fmt.Sprintf("%04d", f.year)
	f.patterns = []string{"container-logs-" + y + "-*", "otel-traces-" + y + "-*", "k8s-events-" + y + "-*"}
	f.named = []string{
		"container-logs-" + y + "-03-01", "container-logs-" + y + "-03-02",
		"otel-traces-" + y + "-03-01", "k8s-events-" + y + "-03-02",
	}
	f.unrelated = []string{fmt.Sprintf("container-logs-%04d-03-01", f.year+1), "unrelated-" + y}
	for i, ix := range append(slices.Clone(f.named), f.unrelated...) {
		n := 20 + 7*i
		docs := make([][]byte, n)
		for j := range docs {
			docs[j] = fmt.Appendf(nil, `{"@timestamp":"%s-03-01T00:00:%02dZ","log":"line %d of %s"}`, y, j%60, j, ix)
		}
		if _, err := c.BulkIndex(ctx, ix, docs); err != nil {
			t.Fatal(err)
		}
		f.docs[ix] = int64(n)
		t.Cleanup(func() { _ = c.DeleteIndex(context.Background(), ix) })
	}
	if err := c.Refresh(ctx, append(slices.Clone(f.named), f.unrelated...), opensearch.RetryOptions{}); err != nil {
		t.Fatal(err)
	}
	f.repo = "cleanup-test-" + y
	if err := c.RegisterRepository(ctx, f.repo, "fs", map[string]any{"location": f.repo}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.dropRepo(t) })
	return f
}

// dropRepo deletes the repository's snapshots and unregisters it.
func (f *fixture) dropRepo(t *testing.T) {
	ctx := context.Background()
	for _, s := range f.snapshots(t) {
		_, _ = raw(ctx, f.c, http.MethodDelete, "/_snapshot/"+f.repo+"/"+s, "")
	}
	_, _ = raw(ctx, f.c, http.MethodDelete, "/_snapshot/"+f.repo, "")
}

// snapshots lists the repository's snapshots.
func (f *fixture) snapshots(t *testing.T) []string {
	t.Helper()
	body, err := raw(context.Background(), f.c, http.MethodGet, "/_cat/snapshots/"+f.repo+"?h=id", "")
	if err != nil {
		if strings.Contains(err.Error(), "repository_missing") {
			return nil
		}
		t.Fatal(err)
	}
	return strings.Fields(body)
}

func raw(ctx context.Context, c *opensearch.Client, method, path, body string) (string, error) {
	var rd *strings.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	var req *http.Request
	var err error
	if rd != nil {
		req, err = http.NewRequestWithContext(ctx, method, path, rd)
		req.Header.Set("Content-Type", "application/json")
	} else {
		req, err = http.NewRequestWithContext(ctx, method, path, nil)
	}
	if err != nil {
		return "", err
	}
	resp, err := c.API.Client.Perform(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	if resp.StatusCode/100 != 2 {
		return b.String(), fmt.Errorf("%s %s: %d: %s", method, path, resp.StatusCode, b.String())
	}
	return b.String(), nil
}

// assertUntouched fails unless every index of the fixture still exists with
// all its documents, no check copy is left, and Kubernetes saw no delete.
func (f *fixture) assertUntouched(t *testing.T, kc *fake.Clientset) {
	t.Helper()
	ctx := ctxT(t)
	for _, ix := range append(slices.Clone(f.named), f.unrelated...) {
		ok, err := f.c.IndexExists(ctx, ix)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			t.Errorf("index %s was deleted", ix)
			continue
		}
		n, err := f.c.Count(ctx, []string{ix}, nil, opensearch.RetryOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if n != f.docs[ix] {
			t.Errorf("index %s holds %d documents, want %d", ix, n, f.docs[ix])
		}
	}
	left, err := f.c.ListIndices(ctx, cleanup.VerifyPrefix+"*", opensearch.RetryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("check copies left behind: %v", left)
	}
	if kc != nil {
		for _, a := range kc.Actions() {
			if a.GetVerb() == "delete" {
				t.Errorf("Kubernetes saw a delete: %s %s", a.GetVerb(), a.GetResource().Resource)
			}
		}
		if n := len(kubeObjects(t, kc)); n != len(kubeFixture()) {
			t.Errorf("%d Kubernetes objects left, want all %d", n, len(kubeFixture()))
		}
	}
}

var now = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

var dbSeq atomic.Int64

// clock is the state machine's clock: it starts where the test says and
// moves a millisecond per reading (rows of one transition need increasing
// times).
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

// machineAt is the real migration state machine on a database of the
// test's own, moved along the forward path to phase p, its transitions
// audited ago before now (the cleanup's clock).
func machineAt(t *testing.T, p state.Phase, ago time.Duration) (*state.Machine, string) {
	t.Helper()
	db := fmt.Sprintf("cleanup_test_%d", dbSeq.Add(1))
	if _, err := schema.Apply(ctxT(t), st, schema.Options{Database: db}); err != nil {
		t.Fatal(err)
	}
	c := &clock{t: now.Add(-ago)}
	m, err := state.New(st, db, nil, state.Options{Now: c.Now, LockLease: 10 * time.Second,
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range state.Phases[1 : slices.Index(state.Phases, p)+1] {
		if err := m.Move(ctxT(t), step, "cleanup-test", "reach "+string(p), nil); err != nil {
			t.Fatalf("move to %s: %v", step, err)
		}
	}
	s, err := m.Status(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if s.Phase != p {
		t.Fatalf("phase %s, want %s", s.Phase, p)
	}
	return m, db
}

// pendingFrom leaves on m's database a transition from Complete to
// DualWrite started and never finished: what a rollback killed mid-way
// leaves.
func pendingFrom(t *testing.T, m *state.Machine, db string) {
	t.Helper()
	s, err := m.Status(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	err = st.Exec(ctxT(t), "INSERT INTO "+store.QuoteIdent(db)+".obsplane_migration_transitions (Seq, Status, FromPhase, ToPhase, Actor, Reason, At) "+
		"SELECT {seq:UInt64}, 'started', 'Complete', 'DualWrite', 'killed', 'rollback killed mid-way', now64(3)",
		store.Params{"seq": fmt.Sprint(s.Transitions[0].Seq + 1)})
	if err != nil {
		t.Fatal(err)
	}
}

// options are the settings of a cleanup every guard lets through.
func (f *fixture) options(t *testing.T, out *bytes.Buffer) cleanup.Options {
	m, _ := machineAt(t, state.Complete, 8*24*time.Hour)
	return cleanup.Options{
		RequireExplicitFlag: true, Confirmed: true, MinCompleteAge: 168 * time.Hour,
		State:      m,
		OpenSearch: f.c, Indices: f.patterns,
		ArchiveIndices: true, Repository: f.repo,
		SnapshotTimeout: time.Minute, RestoreTimeout: time.Minute, DeleteTimeout: 30 * time.Second,
		PollInterval: 200 * time.Millisecond,
		Now:          func() time.Time { return now },
		Out:          out,
		Log:          slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
}

const kubeNS = "openchoreo-observability-plane"

// kubeFixture is OpenSearch as the community module installs it (release
// "opensearch"), and objects of others beside it.
func kubeFixture() []runtime.Object {
	rel := map[string]string{"app.kubernetes.io/instance": "opensearch", "app.kubernetes.io/name": "opensearch"}
	helm := map[string]string{"meta.helm.sh/release-name": "opensearch"}
	om := func(name string, labels, ann map[string]string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: kubeNS, Labels: labels, Annotations: ann, UID: types.UID("uid-" + name)}
	}
	two := int32(2)
	sts := func(name string, labels map[string]string) *appsv1.StatefulSet {
		return &appsv1.StatefulSet{ObjectMeta: om(name, labels, helm), Spec: appsv1.StatefulSetSpec{Replicas: &two,
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: name}}}}}
	}
	other := map[string]string{"app.kubernetes.io/instance": "obsplane"}
	return []runtime.Object{
		sts("opensearch-master", rel),
		&corev1.PersistentVolumeClaim{ObjectMeta: om("opensearch-master-opensearch-master-0", nil, nil)},
		&corev1.PersistentVolumeClaim{ObjectMeta: om("opensearch-master-opensearch-master-1", nil, nil)},
		&corev1.Service{ObjectMeta: om("opensearch", rel, helm)},
		&corev1.Service{ObjectMeta: om("opensearch-master-headless", rel, helm)},
		&corev1.ConfigMap{ObjectMeta: om("opensearch-master-config", rel, helm)},
		&corev1.Secret{ObjectMeta: om("opensearch-admin-credentials", map[string]string{"reconcile.external-secrets.io/managed": "true"}, nil)},
		// Not OpenSearch's: must stay.
		sts("obsplane-store", other),
		&corev1.PersistentVolumeClaim{ObjectMeta: om("obsplane-store-obsplane-store-0", other, nil)},
		&corev1.Service{ObjectMeta: om("obsplane", other, nil)},
		&corev1.ConfigMap{ObjectMeta: om("obsplane-config", other, nil)},
		&corev1.Secret{ObjectMeta: om("obsplane-credentials", other, nil)},
	}
}

func newKube() *fake.Clientset {
	return fake.NewClientset(kubeFixture()...)
}

// kubeOptions delete every OpenSearch object of the fixture by name, as the
// chart's Job does with every delete switch on.
func kubeOptions(kc *fake.Clientset) *cleanup.Kube {
	return &cleanup.Kube{
		Client: kc, Namespace: kubeNS, Release: "opensearch",
		StatefulSet: "opensearch-master", DeleteStatefulSet: true,
		DeletePVCs: true, // the StatefulSet's own claims
		Services:   []string{"opensearch", "opensearch-master-headless"}, DeleteServices: true,
		ConfigMaps: []string{"opensearch-master-config"}, DeleteConfigMaps: true,
		Secrets: []string{"opensearch-admin-credentials"}, DeleteSecrets: true,
		Timeout: 10 * time.Second, PollInterval: 50 * time.Millisecond,
	}
}

// kubeObjects lists what the fake cluster holds, as Kind/name.
func kubeObjects(t *testing.T, kc *fake.Clientset) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	ss, err := kc.AppsV1().StatefulSets(kubeNS).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range ss.Items {
		out = append(out, "StatefulSet/"+o.Name)
	}
	pv, _ := kc.CoreV1().PersistentVolumeClaims(kubeNS).List(ctx, metav1.ListOptions{})
	for _, o := range pv.Items {
		out = append(out, "PersistentVolumeClaim/"+o.Name)
	}
	sv, _ := kc.CoreV1().Services(kubeNS).List(ctx, metav1.ListOptions{})
	for _, o := range sv.Items {
		out = append(out, "Service/"+o.Name)
	}
	cm, _ := kc.CoreV1().ConfigMaps(kubeNS).List(ctx, metav1.ListOptions{})
	for _, o := range cm.Items {
		out = append(out, "ConfigMap/"+o.Name)
	}
	se, _ := kc.CoreV1().Secrets(kubeNS).List(ctx, metav1.ListOptions{})
	for _, o := range se.Items {
		out = append(out, "Secret/"+o.Name)
	}
	slices.Sort(out)
	return out
}
