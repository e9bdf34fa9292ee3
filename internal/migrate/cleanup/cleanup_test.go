package cleanup_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openchoreo/obsplane/internal/migrate/cleanup"
	"github.com/openchoreo/obsplane/internal/migrate/state"
	"github.com/openchoreo/obsplane/internal/opensearch"
)

// TestCleanupRefusals is docs/MIGRATE.md's refusal table: every unsafe
// configuration refuses with its reason, and afterwards every index still
// exists with all its documents, no check copy is left and Kubernetes saw
// no delete.
func TestCleanupRefusals(t *testing.T) {
	cases := []struct {
		name string
		// set makes the configuration unsafe; it may add to the fixture.
		set  func(t *testing.T, f *fixture, o *cleanup.Options)
		want string
		// snapshotted: the refusal comes after the snapshot was taken (the
		// snapshot stays in the repository; nothing is deleted).
		snapshotted bool
	}{
		{name: "requireExplicitFlag missing", want: "--require-explicit-flag is not set",
			set: func(_ *testing.T, _ *fixture, o *cleanup.Options) { o.RequireExplicitFlag = false }},
		{name: "confirmed missing", want: "--confirmed is not set",
			set: func(_ *testing.T, _ *fixture, o *cleanup.Options) { o.Confirmed = false }},
		{name: "both switches missing", want: "--require-explicit-flag is not set",
			set: func(_ *testing.T, _ *fixture, o *cleanup.Options) { o.RequireExplicitFlag, o.Confirmed = false, false }},
		{name: "state not Complete", want: "the migration is Cutover, not Complete",
			set: func(t *testing.T, _ *fixture, o *cleanup.Options) {
				o.State, _ = machineAt(t, state.Cutover, 30*24*time.Hour)
			}},
		{name: "transition pending", want: "a migration transition is pending (Complete -> DualWrite",
			set: func(t *testing.T, _ *fixture, o *cleanup.Options) {
				m, db := machineAt(t, state.Complete, 30*24*time.Hour)
				pendingFrom(t, m, db)
				o.State = m
			}},
		{name: "Complete for too short", want: "has been Complete for 167h0m0s",
			set: func(t *testing.T, _ *fixture, o *cleanup.Options) {
				o.State, _ = machineAt(t, state.Complete, 167*time.Hour)
			}},
		{name: "Complete shorter than a longer min age", want: "less than --min-complete-age 720h0m0s",
			set: func(_ *testing.T, _ *fixture, o *cleanup.Options) { o.MinCompleteAge = 720 * time.Hour }},
		{name: "snapshot repository unregistered", want: `snapshot repository "no-such-repository" is not registered`,
			set: func(_ *testing.T, _ *fixture, o *cleanup.Options) { o.Repository = "no-such-repository" }},
		{name: "repository elsewhere than backup location", want: "does not point at --backup-location /backup/opensearch",
			set: func(_ *testing.T, _ *fixture, o *cleanup.Options) { o.BackupLocation = "/backup/opensearch" }},
		{name: "patterns match nothing", want: "no index matches --indices container-logs-0999-*",
			set: func(_ *testing.T, _ *fixture, o *cleanup.Options) { o.Indices = []string{"container-logs-0999-*"} }},
		{name: "pattern matching every index", want: `pattern "*" would match every index`,
			set: func(_ *testing.T, _ *fixture, o *cleanup.Options) { o.Indices = []string{"*"} }},
		{name: "pattern of system indices", want: `pattern ".opendistro*" names hidden or system indices`,
			set: func(_ *testing.T, _ *fixture, o *cleanup.Options) { o.Indices = append(o.Indices, ".opendistro*") }},
		{name: "release does not own the StatefulSet", want: "StatefulSet " + kubeNS + "/opensearch-master does not belong to release another-release",
			set: func(_ *testing.T, _ *fixture, o *cleanup.Options) { o.Kube.Release = "another-release" }},
		{name: "snapshot PARTIAL", snapshotted: true, want: "ended PARTIAL, not SUCCESS",
			set: func(t *testing.T, f *fixture, _ *cleanup.Options) { redIndex(t, f) }},
		{name: "restored count differs", snapshotted: true, want: "holds 35 documents, the original 34; nothing was deleted",
			set: func(_ *testing.T, f *fixture, o *cleanup.Options) {
				// One more document in the restored copy than in the
				// original: the same as a restore that brought back
				// something else.
				o.Hooks.AfterRestore = func(ctx context.Context, restored string) error {
					_, err := f.c.BulkIndex(ctx, restored, [][]byte{[]byte(`{"log":"not in the original"}`)})
					return err
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			kc := newKube()
			var out bytes.Buffer
			o := f.options(t, &out)
			o.Kube = kubeOptions(kc)
			tc.set(t, f, &o)
			_, err := cleanup.Run(ctxT(t), o)
			t.Logf("output:\n%s", out.String())
			if !errors.Is(err, cleanup.ErrRefused) {
				t.Fatalf("err = %v, want a refusal", err)
			}
			if !strings.HasPrefix(err.Error(), "refused: ") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %q, want \"refused: ...%s...\"", err, tc.want)
			}
			if !errors.Is(err, state.ErrRefused) {
				t.Errorf("a refusal that is not the migration's (state.ErrRefused, exit 2): %v", err)
			}
			if !strings.Contains(out.String(), "REFUSED: ") && !tc.snapshotted {
				t.Errorf("the plan does not show the refusal:\n%s", out.String())
			}
			f.assertUntouched(t, kc)
			snaps := f.snapshots(t)
			if !tc.snapshotted && len(snaps) > 0 {
				t.Errorf("refused before archiving, yet snapshots were taken: %v", snaps)
			}
			if tc.snapshotted && len(snaps) != 1 {
				t.Errorf("snapshots %v, want the one refused", snaps)
			}
		})
	}
}

// redIndex adds to the fixture's patterns an index whose primary can never
// be allocated (it requires a node that does not exist), so a snapshot of
// it cannot be whole.
func redIndex(t *testing.T, f *fixture) {
	t.Helper()
	ctx := ctxT(t)
	name := fmt.Sprintf("container-logs-%04d-03-03", f.year)
	_, err := raw(ctx, f.c, http.MethodPut, "/"+name+"?wait_for_active_shards=0",
		`{"settings":{"index.number_of_shards":1,"index.number_of_replicas":0,"index.routing.allocation.require._name":"no-such-node"}}`)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ok, err := f.c.IndexExists(context.Background(), name)
		if err != nil || !ok {
			t.Errorf("the unallocatable index %s was deleted (%v)", name, err)
		}
		_ = f.c.DeleteIndex(context.Background(), name)
	})
}

// TestCleanupDryRun: a dry run prints what it would archive, verify and
// delete, takes no snapshot and deletes nothing; a dry run whose guards
// fail shows every failed guard, not only the first.
func TestCleanupDryRun(t *testing.T) {
	f := newFixture(t)
	kc := newKube()
	var out bytes.Buffer
	o := f.options(t, &out)
	o.Kube = kubeOptions(kc)
	o.DryRun = true
	rep, err := cleanup.Run(ctxT(t), o)
	if err != nil {
		t.Fatal(err)
	}
	plan := out.String()
	t.Logf("plan:\n%s", plan)
	for _, want := range append(slices.Clone(f.named),
		"dry run: nothing is changed", "archive: snapshot obsplane-cleanup-20261202t120000z of the 4 indices below into repository "+f.repo,
		"verify:  restore "+f.named[2]+" as "+cleanup.VerifyPrefix,
		"delete  StatefulSet            opensearch-master",
		"delete  PersistentVolumeClaim  opensearch-master-opensearch-master-1",
		"delete  Secret                 opensearch-admin-credentials",
	) {
		if !strings.Contains(plan, want) {
			t.Errorf("the plan lacks %q", want)
		}
	}
	for _, not := range f.unrelated {
		if strings.Contains(plan, not) {
			t.Errorf("the plan names %s, which the patterns do not match", not)
		}
	}
	if got := len(rep.Plan.Indices); got != len(f.named) {
		t.Errorf("plan of %d indices, want %d", got, len(f.named))
	}
	f.assertUntouched(t, kc)
	if s := f.snapshots(t); len(s) > 0 {
		t.Errorf("a dry run took snapshots: %v", s)
	}

	out.Reset()
	o.Confirmed, o.Repository = false, "no-such-repository"
	_, err = cleanup.Run(ctxT(t), o)
	if !errors.Is(err, cleanup.ErrRefused) {
		t.Fatalf("dry run with failing guards: err = %v, want a refusal", err)
	}
	for _, want := range []string{"REFUSED: --confirmed is not set", `REFUSED: snapshot repository "no-such-repository" is not registered`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the dry run's plan lacks %q:\n%s", want, out.String())
		}
	}
	f.assertUntouched(t, kc)
}

// TestCleanupArchivesVerifiesDeletes is the whole cleanup: the snapshot
// holds exactly the named indices and succeeded on every shard, the sample
// was restored and counted, exactly those indices are gone while the
// unrelated ones are whole, the archive restores, and on Kubernetes exactly
// OpenSearch's named objects are deleted.
func TestCleanupArchivesVerifiesDeletes(t *testing.T) {
	f := newFixture(t)
	kc := newKube()
	var out bytes.Buffer
	o := f.options(t, &out)
	o.Kube = kubeOptions(kc)
	ctx := ctxT(t)
	rep, err := cleanup.Run(ctx, o)
	t.Logf("output:\n%s", out.String())
	if err != nil {
		t.Fatal(err)
	}
	info, err := f.c.Snapshot(ctx, f.repo, rep.Plan.Snapshot, opensearch.RetryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := slices.Sorted(slices.Values(info.Indices))
	want := slices.Sorted(slices.Values(f.named))
	if info.State != opensearch.SnapshotSuccess || info.Shards.Failed != 0 || info.Shards.Successful != info.Shards.Total || !slices.Equal(got, want) {
		t.Errorf("snapshot %s: state %s, shards %+v, indices %v; want SUCCESS, all shards, %v", info.Name, info.State, info.Shards, got, want)
	}
	if rep.SampleDocs != f.docs[rep.Plan.Sample] {
		t.Errorf("sample %s counted %d, want %d", rep.Plan.Sample, rep.SampleDocs, f.docs[rep.Plan.Sample])
	}
	if !slices.Equal(slices.Sorted(slices.Values(rep.Deleted)), want) {
		t.Errorf("deleted %v, want exactly %v", rep.Deleted, want)
	}
	for _, ix := range f.named {
		if ok, err := f.c.IndexExists(ctx, ix); err != nil || ok {
			t.Errorf("index %s still exists (%v)", ix, err)
		}
	}
	for _, ix := range f.unrelated {
		n, err := f.c.Count(ctx, []string{ix}, nil, opensearch.RetryOptions{})
		if ok, _ := f.c.IndexExists(ctx, ix); !ok || err != nil || n != f.docs[ix] {
			t.Errorf("unrelated index %s: exists %v, %d docs (%v); want untouched with %d", ix, ok, n, err, f.docs[ix])
		}
	}
	if left, _ := f.c.ListIndices(ctx, cleanup.VerifyPrefix+"*", opensearch.RetryOptions{}); len(left) > 0 {
		t.Errorf("check copies left behind: %v", left)
	}

	// The archive gives back what was deleted.
	back := f.named[0]
	if _, err := raw(ctx, f.c, http.MethodPost, "/_snapshot/"+f.repo+"/"+rep.Plan.Snapshot+"/_restore?wait_for_completion=true",
		`{"indices":"`+back+`","include_global_state":false,"index_settings":{"index.number_of_replicas":0}}`); err != nil {
		t.Fatal(err)
	}
	_ = f.c.Refresh(ctx, []string{back}, opensearch.RetryOptions{})
	if n, err := f.c.Count(ctx, []string{back}, nil, opensearch.RetryOptions{}); err != nil || n != f.docs[back] {
		t.Errorf("%s restored from the archive: %d docs (%v), want %d", back, n, err, f.docs[back])
	}

	left := kubeObjects(t, kc)
	wantLeft := []string{"ConfigMap/obsplane-config", "PersistentVolumeClaim/obsplane-store-obsplane-store-0", "Secret/obsplane-credentials",
		"Service/obsplane", "StatefulSet/obsplane-store"}
	if !slices.Equal(left, wantLeft) {
		t.Errorf("Kubernetes holds %v after the cleanup, want only %v", left, wantLeft)
	}
	var deleted []string
	for _, a := range kc.Actions() {
		if a.GetVerb() == "delete" {
			deleted = append(deleted, a.GetResource().Resource)
		}
	}
	// StatefulSet, its two claims, two Services, the ConfigMap, the Secret.
	if len(deleted) != 7 {
		t.Errorf("%d deletes (%v), want 7", len(deleted), deleted)
	}
	if len(rep.Kube) != 7 {
		t.Errorf("report lists %d Kubernetes actions, want 7: %+v", len(rep.Kube), rep.Kube)
	}
}

// TestCleanupRerunAfterDeletion: a second run after a completed one finds
// nothing matching and refuses, deleting nothing more.
func TestCleanupRerunAfterDeletion(t *testing.T) {
	f := newFixture(t)
	var out bytes.Buffer
	o := f.options(t, &out)
	if _, err := cleanup.Run(ctxT(t), o); err != nil {
		t.Fatal(err)
	}
	o.SnapshotName = ""
	_, err := cleanup.Run(ctxT(t), o)
	if !errors.Is(err, cleanup.ErrRefused) || !strings.Contains(err.Error(), "no index matches") {
		t.Fatalf("second run: err = %v, want a refusal: no index matches", err)
	}
	for _, ix := range f.unrelated {
		if ok, _ := f.c.IndexExists(ctxT(t), ix); !ok {
			t.Errorf("unrelated index %s deleted", ix)
		}
	}
}

// TestExactIndexName: the deletion's name check lets no pattern through.
func TestExactIndexName(t *testing.T) {
	for _, bad := range []string{"", "*", "container-logs-*", "a,b", "_all", "-x", "a b", "Upper", "<logs-{now/d}>", "a?", "x/y"} {
		if err := opensearch.ExactIndexName(bad); err == nil {
			t.Errorf("ExactIndexName(%q) accepted", bad)
		}
	}
	for _, good := range []string{"container-logs-2025-01-02", "kubernetes-2025.01.02", "otel-traces-2025-01-02"} {
		if err := opensearch.ExactIndexName(good); err != nil {
			t.Errorf("ExactIndexName(%q): %v", good, err)
		}
	}
}
