package cleanup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/openchoreo/obsplane/internal/migrate/state"
	"github.com/openchoreo/obsplane/internal/opensearch"
)

// Guard is one check and its verdict.
type Guard struct {
	Name   string
	OK     bool
	Detail string // why it passed, or the refusal's reason
}

// IndexPlan is one index the cleanup archives and deletes.
type IndexPlan struct {
	Name string
	Docs int64
}

// Plan is what a cleanup would do, and every guard's verdict.
type Plan struct {
	Guards     []Guard
	Patterns   []string
	Indices    []IndexPlan
	Archive    bool
	Repository opensearch.Repository
	Snapshot   string // snapshot name
	Sample     string // index restored and counted
	VerifyAs   string // name the sample is restored under
	Kube       *KubePlan
}

// Refusal is the first failed guard as an error, nil when all passed.
func (p *Plan) Refusal() error {
	for _, g := range p.Guards {
		if !g.OK {
			return refuse("%s", g.Detail)
		}
	}
	return nil
}

func (p *Plan) guard(name string, ok bool, format string, args ...any) bool {
	p.Guards = append(p.Guards, Guard{Name: name, OK: ok, Detail: fmt.Sprintf(format, args...)})
	return ok
}

// buildPlan evaluates the guards in order, reading only. A real run stops
// at the first failed guard (the later ones are not even asked); a dry run
// evaluates them all so the operator sees everything that stands in the
// way. Errors (OpenSearch or the store unreachable) are returned as such:
// they are not verdicts.
func buildPlan(ctx context.Context, o *Options) (*Plan, error) {
	p := &Plan{Patterns: o.Indices, Archive: o.ArchiveIndices}
	stop := func(ok bool) bool { return !ok && !o.DryRun }

	if stop(p.guard("require-explicit-flag", o.RequireExplicitFlag, "%s", pick(o.RequireExplicitFlag,
		"--require-explicit-flag is set",
		"--require-explicit-flag is not set (migration.cleanup.requireExplicitFlag)"))) {
		return p, nil
	}
	if stop(p.guard("confirmed", o.Confirmed, "%s", pick(o.Confirmed,
		"--confirmed is set",
		"--confirmed is not set (migration.cleanup.confirmed)"))) {
		return p, nil
	}

	ph, err := o.State.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("cleanup: read the migration state: %w", err)
	}
	now := o.Now()
	switch {
	case ph.Pending != nil:
		p.guard("migration phase", false, "a migration transition is pending (%s -> %s, started %s by %s); finish or roll it back first",
			ph.Pending.From, ph.Pending.To, ph.Pending.At.UTC().Format(time.RFC3339), ph.Pending.Actor)
	case ph.Phase != state.Complete:
		p.guard("migration phase", false, "the migration is %s, not %s", orNone(string(ph.Phase)), state.Complete)
	case now.Sub(ph.Since) < o.MinCompleteAge:
		p.guard("migration phase", false, "the migration has been %s for %s (since %s), less than --min-complete-age %s",
			state.Complete, now.Sub(ph.Since).Round(time.Second), ph.Since.UTC().Format(time.RFC3339), o.MinCompleteAge)
	default:
		p.guard("migration phase", true, "%s since %s (%s, at least %s)", state.Complete, ph.Since.UTC().Format(time.RFC3339),
			now.Sub(ph.Since).Round(time.Second), o.MinCompleteAge)
	}
	if stop(p.Guards[len(p.Guards)-1].OK) {
		return p, nil
	}

	// The indices, resolved to exact names now: what is archived and
	// deleted is this list, never a pattern.
	var bad []string
	for _, pat := range o.Indices {
		if err := checkPattern(pat); err != nil {
			bad = append(bad, err.Error())
		}
	}
	if len(bad) > 0 {
		if stop(p.guard("indices", false, "--indices: %s", strings.Join(bad, "; "))) {
			return p, nil
		}
	} else {
		seen := map[string]bool{}
		for _, pat := range o.Indices {
			found, err := o.OpenSearch.ListIndices(ctx, pat, o.Retry)
			if err != nil {
				return nil, fmt.Errorf("cleanup: resolve --indices %q: %w", pat, err)
			}
			for _, ix := range found {
				// A pattern that is not a wildcard is exact already;
				// ListIndices also matches what it names through an alias,
				// so keep only names the pattern itself matches.
				if m, _ := path.Match(pat, ix.Name); !m || seen[ix.Name] || strings.HasPrefix(ix.Name, VerifyPrefix) {
					continue
				}
				seen[ix.Name] = true
				p.Indices = append(p.Indices, IndexPlan{Name: ix.Name, Docs: ix.Docs})
			}
		}
		slices.SortFunc(p.Indices, func(a, b IndexPlan) int { return strings.Compare(a.Name, b.Name) })
		if len(p.Indices) == 0 {
			if stop(p.guard("indices", false, "no index matches --indices %s: nothing to archive or delete", strings.Join(o.Indices, ","))) {
				return p, nil
			}
		} else {
			var docs int64
			for _, ix := range p.Indices {
				docs += ix.Docs
			}
			p.guard("indices", true, "%d indices, %d documents match %s", len(p.Indices), docs, strings.Join(o.Indices, ","))
		}
	}

	if o.ArchiveIndices {
		ok, err := planArchive(ctx, o, p)
		if err != nil {
			return nil, err
		}
		if stop(ok) {
			return p, nil
		}
	}

	if o.Kube != nil {
		kp, err := o.Kube.plan(ctx)
		if err != nil {
			return nil, err
		}
		p.Kube = kp
		if kp.Refusal != "" {
			p.guard("kubernetes objects", false, "%s", kp.Refusal)
		} else {
			p.guard("kubernetes objects", true, "%d to delete in namespace %s", kp.count(), o.Kube.Namespace)
		}
	}
	return p, nil
}

// planArchive checks the repository and picks the snapshot's and the
// sample's names.
func planArchive(ctx context.Context, o *Options, p *Plan) (bool, error) {
	if o.Repository == "" {
		return p.guard("snapshot repository", false, "--archive-indices needs --snapshot-repository"), nil
	}
	repo, err := o.OpenSearch.SnapshotRepository(ctx, o.Repository, o.Retry)
	if errors.Is(err, opensearch.ErrRepositoryMissing) {
		return p.guard("snapshot repository", false, "snapshot repository %q is not registered in OpenSearch (register it with PUT _snapshot/%s first)", o.Repository, o.Repository), nil
	}
	if err != nil {
		return false, fmt.Errorf("cleanup: %w", err)
	}
	p.Repository = repo
	if o.BackupLocation != "" && !repoAt(repo, o.BackupLocation) {
		return p.guard("snapshot repository", false, "snapshot repository %q (%s) does not point at --backup-location %s", repo.Name, describeRepo(repo), o.BackupLocation), nil
	}
	p.guard("snapshot repository", true, "%s (%s)", repo.Name, describeRepo(repo))

	p.Snapshot = o.SnapshotName
	if p.Snapshot == "" {
		p.Snapshot = "obsplane-cleanup-" + strings.ToLower(o.Now().UTC().Format("20060102t150405z"))
	}
	if o.SampleIndex != "" {
		i := slices.IndexFunc(p.Indices, func(ix IndexPlan) bool { return ix.Name == o.SampleIndex })
		if i < 0 {
			return p.guard("sample index", false, "--sample-index %s is not one of the indices to archive", o.SampleIndex), nil
		}
		p.Sample = o.SampleIndex
	} else if len(p.Indices) > 0 {
		// The newest non-empty index by name (daily names sort by day).
		p.Sample = p.Indices[len(p.Indices)-1].Name
		for i := len(p.Indices) - 1; i >= 0; i-- {
			if p.Indices[i].Docs > 0 {
				p.Sample = p.Indices[i].Name
				break
			}
		}
	}
	if p.Sample != "" {
		p.VerifyAs = VerifyPrefix + strings.TrimPrefix(p.Snapshot, "obsplane-") + "-" + p.Sample
		if len(p.VerifyAs) > 255 {
			p.VerifyAs = p.VerifyAs[:255]
		}
		exists, err := o.OpenSearch.IndexExists(ctx, p.VerifyAs)
		if err != nil {
			return false, fmt.Errorf("cleanup: %w", err)
		}
		if exists {
			return p.guard("sample index", false, "the check copy %s exists already (a run that stopped midway?); delete it or pass another --snapshot-name", p.VerifyAs), nil
		}
	}
	return true, nil
}

// repoAt reports whether repo stores its snapshots at location.
func repoAt(repo opensearch.Repository, location string) bool {
	want := strings.TrimRight(location, "/")
	switch repo.Type {
	case "s3", "gcs", "azure":
		base := strings.Trim(repo.Settings["bucket"]+"/"+repo.Settings["base_path"], "/")
		return strings.TrimPrefix(strings.TrimPrefix(want, "s3://"), "gs://") == base
	default:
		return strings.TrimRight(repo.Settings["location"], "/") == want
	}
}

func describeRepo(r opensearch.Repository) string {
	switch {
	case r.Settings["location"] != "":
		return r.Type + " at " + r.Settings["location"]
	case r.Settings["bucket"] != "":
		return r.Type + " at " + strings.Trim(r.Settings["bucket"]+"/"+r.Settings["base_path"], "/")
	}
	return r.Type
}

// Write prints the plan: the guards, then what would be archived, checked
// and deleted.
func (p *Plan) Write(w io.Writer, dryRun bool) {
	title := "cleanup plan"
	if dryRun {
		title += " (dry run: nothing is changed)"
	}
	fmt.Fprintln(w, title)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  guard\tverdict\t")
	for _, g := range p.Guards {
		v := "ok: " + g.Detail
		if !g.OK {
			v = "REFUSED: " + g.Detail
		}
		fmt.Fprintf(tw, "  %s\t%s\t\n", g.Name, v)
	}
	_ = tw.Flush()
	if len(p.Indices) > 0 {
		if p.Archive && p.Repository.Name != "" {
			fmt.Fprintf(w, "archive: snapshot %s of the %d indices below into repository %s (%s); require state SUCCESS, every shard successful, none failed\n",
				p.Snapshot, len(p.Indices), p.Repository.Name, describeRepo(p.Repository))
			if p.Sample != "" {
				fmt.Fprintf(w, "verify:  restore %s as %s, compare its count with the original's, delete the copy\n", p.Sample, p.VerifyAs)
			}
		} else if !p.Archive {
			fmt.Fprintln(w, "archive: none (--archive-indices=false): the indices below are deleted without a snapshot")
		}
		fmt.Fprintln(w, "delete indices (each by its exact name, only once archived and verified):")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		for _, ix := range p.Indices {
			fmt.Fprintf(tw, "  %s\t%d docs\t\n", ix.Name, ix.Docs)
		}
		_ = tw.Flush()
	}
	if p.Kube != nil {
		p.Kube.Write(w)
	}
}

// Write prints what the cleanup did.
func (r *Report) Write(w io.Writer) {
	fmt.Fprintln(w, "cleanup done")
	if r.Snapshot != nil {
		fmt.Fprintf(w, "  snapshot %s: %s, %d/%d shards, %d indices; sample %s restored and counted: %d docs on both sides\n",
			r.Snapshot.Name, r.Snapshot.State, r.Snapshot.Shards.Successful, r.Snapshot.Shards.Total, len(r.Snapshot.Indices), r.Plan.Sample, r.SampleDocs)
	}
	fmt.Fprintf(w, "  indices deleted: %d", len(r.Deleted))
	if len(r.Gone) > 0 {
		fmt.Fprintf(w, " (%d already gone: %s)", len(r.Gone), strings.Join(r.Gone, ", "))
	}
	fmt.Fprintln(w)
	for _, a := range r.Kube {
		fmt.Fprintf(w, "  %s %s/%s: %s\n", a.Kind, a.Namespace, a.Name, a.Outcome)
	}
}

func pick(ok bool, yes, no string) string {
	if ok {
		return yes
	}
	return no
}

func orNone(s string) string {
	if s == "" {
		return "(no phase)"
	}
	return s
}
