package helm_test

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/kube"
	"helm.sh/helm/v3/pkg/release"
)

// helmCommand is one helm command of the whitepaper, parsed.
type helmCommand struct {
	label     string // the comment above it
	verb      string // upgrade or rollback
	release   string
	namespace string
	sets      []string
	wait      bool
}

// whitepaperCommands reads testdata/whitepaper-5.5.sh: backslash-continued
// lines joined, each helm command with the comment above it.
func whitepaperCommands(t *testing.T) []helmCommand {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "whitepaper-5.5.sh"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []helmCommand
	var label, cur string
	sc := bufio.NewScanner(f)
	flush := func() {
		if cur == "" {
			return
		}
		fields := strings.Fields(cur)
		c := helmCommand{label: label, verb: fields[1], release: fields[2]}
		for i := 3; i < len(fields); i++ {
			switch fields[i] {
			case "--namespace", "-n":
				i++
				c.namespace = fields[i]
			case "--set":
				i++
				c.sets = append(c.sets, fields[i])
			case "--wait":
				c.wait = true
			}
		}
		out = append(out, c)
		cur = ""
	}
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(l, "# ") && cur == "":
			label = strings.TrimPrefix(l, "# ")
		case strings.HasPrefix(l, "helm ") || cur != "":
			cur += " " + strings.TrimSuffix(l, "\\")
			if !strings.HasSuffix(l, "\\") {
				flush()
			}
		}
	}
	if len(out) != 8 {
		t.Fatalf("parsed %d helm commands from the whitepaper's 5.5, want 8", len(out))
	}
	return out
}

// contextNamespace is the namespace of the kube context: the whitepaper's
// last command gives no --namespace, so it runs where the context points,
// which the runbook sets to the release's namespace.
const contextNamespace = namespace

// releaseState is what a release's objects say about the migration.
type releaseState struct {
	jobs        map[string]object // by step label
	shadowWrite string            // the gateway's OBSPLANE_SHADOW_WRITE
	backend     string            // the query side's OBSPLANE_BACKEND
	dualRead    string
	fluentBit   string // the Fluent Bit ConfigMap's output
	cleanupRole *rbacv1.Role
	manifest    string
}

func stateOf(t *testing.T, rel *release.Release) releaseState {
	t.Helper()
	objs := decodeAll(t, rel)
	checkObjects(t, objs)
	s := releaseState{jobs: map[string]object{}, manifest: rel.Manifest}
	for _, o := range objs {
		switch v := o.obj.(type) {
		case *corev1.ConfigMap:
			if out, ok := v.Annotations["obsplane.openchoreo.dev/output"]; ok {
				s.fluentBit = out
			}
		case *appsv1.StatefulSet:
			e := env(v.Spec.Template.Spec.Containers[0])
			s.shadowWrite, s.backend, s.dualRead = e["OBSPLANE_SHADOW_WRITE"], e["OBSPLANE_BACKEND"], e["OBSPLANE_DUAL_READ"]
		case *rbacv1.Role:
			s.cleanupRole = v
		}
		if o.kind == "Job" {
			step := o.obj.(interface{ GetLabels() map[string]string }).GetLabels()["obsplane.openchoreo.dev/migration-step"]
			if step != "" {
				s.jobs[step] = o
			}
		}
	}
	return s
}

func (s releaseState) steps() []string {
	var out []string
	for k := range s.jobs {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// expectJobs checks that exactly these migration steps have a Job.
func (s releaseState) expectJobs(t *testing.T, steps ...string) {
	t.Helper()
	slices.Sort(steps)
	if got := s.steps(); !slices.Equal(got, steps) {
		t.Errorf("migration Jobs %v, want %v", got, steps)
	}
}

func (s releaseState) expectArgs(t *testing.T, step, hook string, args ...string) {
	t.Helper()
	o, ok := s.jobs[step]
	if !ok {
		t.Errorf("no %s Job", step)
		return
	}
	if o.hook != hook {
		t.Errorf("%s Job: hook %q, want %q", step, o.hook, hook)
	}
	got := jobArgs(o)
	for _, a := range args {
		if !slices.Contains(got, a) {
			t.Errorf("%s Job args %v lack %q", step, got, a)
		}
	}
}

func (s releaseState) expect(t *testing.T, shadowWrite, backend, fluentBit string) {
	t.Helper()
	if s.shadowWrite != shadowWrite || s.backend != backend || s.fluentBit != fluentBit {
		t.Errorf("dual write %s, primary %s, Fluent Bit to %s; want %s, %s, %s",
			s.shadowWrite, s.backend, s.fluentBit, shadowWrite, backend, fluentBit)
	}
}

// cluster runs helm actions against one in-memory release history.
type cluster struct {
	t   *testing.T
	cfg *action.Configuration
}

func newCluster(t *testing.T) *cluster {
	c := &cluster{t: t, cfg: newConfig()}
	in := action.NewInstall(c.cfg)
	in.ReleaseName, in.Namespace = releaseName, namespace
	if _, err := in.Run(loadChart(t), vals(t, []string{siteValues}, nil)); err != nil {
		t.Fatalf("install: %v", err)
	}
	return c
}

const siteValues = "testdata/values/site.yaml"

// run runs one whitepaper command, with the site's values file given as -f
// (as every upgrade must: Helm resets what a command does not give).
func (c *cluster) run(cmd helmCommand, rollbackTo int) (*release.Release, error) {
	ns := cmd.namespace
	if ns == "" {
		ns = contextNamespace
	}
	c.cfg.Releases.Driver.(interface{ SetNamespace(string) }).SetNamespace(ns)
	switch cmd.verb {
	case "upgrade":
		up := action.NewUpgrade(c.cfg)
		up.Namespace, up.Wait = ns, cmd.wait
		return up.Run(cmd.release, loadChart(c.t), vals(c.t, []string{siteValues}, cmd.sets))
	case "rollback":
		rb := action.NewRollback(c.cfg)
		rb.Version, rb.Wait = rollbackTo, cmd.wait
		if err := rb.Run(cmd.release); err != nil {
			return nil, err
		}
		return action.NewGet(c.cfg).Run(cmd.release)
	}
	c.t.Fatalf("unknown verb %q", cmd.verb)
	return nil, nil
}

func (c *cluster) must(cmd helmCommand, rollbackTo int) releaseState {
	c.t.Helper()
	rel, err := c.run(cmd, rollbackTo)
	if err != nil {
		c.t.Fatalf("%s: %v", cmd.label, err)
	}
	c.t.Logf("%s -> revision %d", cmd.label, rel.Version)
	return stateOf(c.t, rel)
}

// TestWhitepaperCommands runs each helm command of the whitepaper's 5.5 through
// Helm's upgrade and rollback actions, from the state it is meant for, and
// checks that it renders the intended Job or change.
func TestWhitepaperCommands(t *testing.T) {
	cmds := whitepaperCommands(t)
	byLabel := map[string]helmCommand{}
	for _, c := range cmds {
		byLabel[c.label] = c
	}
	get := func(label string) helmCommand {
		c, ok := byLabel[label]
		if !ok {
			t.Fatalf("no command %q", label)
		}
		return c
	}
	p1, p2, p3, p5 := get("Phase 1: Enable Shadow Write"), get("Phase 2: Validate Data Consistency"),
		get("Phase 3: Cutover Traffic"), get("Phase 5: Cleanup OpenSearch")
	rbShadow, rbCutover := get("Rollback During Shadow Write (Phase 1-2)"), get("Rollback After Cutover (Phase 3-4)")
	emRollback, emUpgrade := get("Emergency Recovery (Post-Cleanup), step 1"), get("Emergency Recovery (Post-Cleanup), step 3")

	t.Run("install", func(t *testing.T) {
		c := newCluster(t)
		rel, err := action.NewGet(c.cfg).Run(releaseName)
		if err != nil {
			t.Fatal(err)
		}
		s := stateOf(t, rel)
		s.expectJobs(t)
		s.expect(t, "false", "opensearch", "opensearch")
	})
	t.Run("phase1-shadow-write", func(t *testing.T) {
		c := newCluster(t)
		s := c.must(p1, 0)
		s.expectJobs(t, "shadow-write")
		s.expectArgs(t, "shadow-write", "post-install,post-upgrade", "migrate", "shadow-write", "enable")
		s.expect(t, "true", "opensearch", "forward")
	})
	t.Run("phase2-validation", func(t *testing.T) {
		c := newCluster(t)
		c.must(p1, 0)
		s := c.must(p2, 0)
		s.expectJobs(t, "validation")
		s.expectArgs(t, "validation", "", "validate", "--duration=3600s", "--max-drift-percent=1.0",
			"--sample-interval=60s", "--max-overall-drift-percent=5")
		s.expect(t, "true", "opensearch", "forward")
	})
	t.Run("phase3-cutover", func(t *testing.T) {
		c := newCluster(t)
		c.must(p1, 0)
		c.must(p2, 0)
		s := c.must(p3, 0)
		s.expectJobs(t, "cutover")
		s.expectArgs(t, "cutover", "pre-upgrade", "cutover", "--max-validation-age=604800s", "--ramp=5,20,50,100",
			"--require-backfill-range=2025-01-01:2025-02-01")
		s.expect(t, "true", "clickstack", "forward")
		if s.dualRead != "false" {
			t.Errorf("dual read %q, want false", s.dualRead)
		}
	})
	t.Run("phase5-cleanup", func(t *testing.T) {
		c := newCluster(t)
		for _, cmd := range []helmCommand{p1, p2, p3} {
			c.must(cmd, 0)
		}
		s := c.must(p5, 0)
		// Dual write off first (the flag persists across releases), then
		// the cleanup.
		s.expectJobs(t, "cleanup", "shadow-write")
		s.expectArgs(t, "shadow-write", "post-install,post-upgrade", "migrate", "shadow-write", "disable")
		if w := s.jobs["shadow-write"].obj.(interface{ GetAnnotations() map[string]string }).GetAnnotations()["helm.sh/hook-weight"]; w != "-10" {
			t.Errorf("shadow-write disable hook weight %q, want -10 (before the cleanup's 0)", w)
		}
		s.expectArgs(t, "cleanup", "post-upgrade", "cleanup", "--confirmed=true", "--archive-indices=true",
			"--require-explicit-flag=true", "--delete-statefulset=true", "--delete-pvcs=false",
			"--delete-services=true", "--delete-configmaps=true", "--delete-secrets=false")
		s.expect(t, "false", "clickstack", "forward")
		if s.cleanupRole == nil {
			t.Fatal("no cleanup Role")
		}
		var kinds []string
		for _, r := range s.cleanupRole.Rules {
			kinds = append(kinds, r.Resources...)
		}
		slices.Sort(kinds)
		if want := []string{"configmaps", "services", "statefulsets"}; !slices.Equal(kinds, want) {
			t.Errorf("cleanup Role may delete %v, want exactly %v (PVCs and Secrets kept)", kinds, want)
		}
	})
	t.Run("rollback-during-shadow-write", func(t *testing.T) {
		c := newCluster(t)
		c.must(p1, 0)
		c.must(p2, 0)
		s := c.must(rbShadow, 0)
		s.expectJobs(t, "rollback", "shadow-write")
		s.expectArgs(t, "shadow-write", "post-install,post-upgrade", "migrate", "shadow-write", "disable")
		s.expectArgs(t, "rollback", "", "rollback")
		s.expect(t, "false", "opensearch", "opensearch")
	})
	t.Run("rollback-after-cutover", func(t *testing.T) {
		c := newCluster(t)
		for _, cmd := range []helmCommand{p1, p2, p3} {
			c.must(cmd, 0)
		}
		s := c.must(rbCutover, 0)
		s.expectJobs(t, "rollback", "shadow-write")
		s.expectArgs(t, "shadow-write", "post-install,post-upgrade", "migrate", "shadow-write", "enable")
		s.expectArgs(t, "rollback", "", "rollback", "--syncback=true")
		s.expect(t, "true", "opensearch", "forward")
	})
	t.Run("emergency-recovery", func(t *testing.T) {
		c := newCluster(t)
		var cutover releaseState
		for _, cmd := range []helmCommand{p1, p2, p3} {
			cutover = c.must(cmd, 0)
		}
		c.must(p5, 0)
		// <previous-revision>: the one before cleanup (install is 1, p3 is 4).
		s := c.must(emRollback, 4)
		if s.manifest != cutover.manifest {
			t.Errorf("helm rollback did not restore the revision before cleanup")
		}
		s.expect(t, "true", "clickstack", "forward")
		s = c.must(emUpgrade, 0)
		s.expectJobs(t, "rollback", "shadow-write")
		s.expect(t, "true", "opensearch", "forward")
	})
	t.Run("cutover-refused-fails-upgrade", func(t *testing.T) {
		// A cutover Job that fails (migrate cutover refusing) fails the
		// upgrade before Helm applies any of it: the query side stays on
		// OpenSearch.
		c := newCluster(t)
		c.must(p1, 0)
		fk := &failingHooks{Interface: c.cfg.KubeClient}
		c.cfg.KubeClient = fk
		if _, err := c.run(p3, 0); err == nil || !strings.Contains(err.Error(), "pre-upgrade") {
			t.Fatalf("upgrade with a failing cutover hook: err %v, want the pre-upgrade hook's failure", err)
		}
		if fk.updates != 0 {
			t.Errorf("%d object updates applied after the cutover hook failed", fk.updates)
		}
		rel, err := c.cfg.Releases.Deployed(releaseName)
		if err != nil {
			t.Fatal(err)
		}
		if s := stateOf(t, rel); s.backend != "opensearch" {
			t.Errorf("deployed primary %q after a refused cutover, want opensearch", s.backend)
		}
	})
}

// failingHooks is a cluster whose hook Jobs fail, and which counts the
// updates applied to release objects.
type failingHooks struct {
	kube.Interface
	updates int
}

func (f *failingHooks) WatchUntilReady(kube.ResourceList, time.Duration) error {
	return errors.New("job failed: BackoffLimitExceeded")
}

func (f *failingHooks) Update(original, target kube.ResourceList, force bool) (*kube.Result, error) {
	f.updates++
	return f.Interface.Update(original, target, force)
}
