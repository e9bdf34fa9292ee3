package cleanup

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/openchoreo/obsplane/internal/opensearch"
)

// archive snapshots exactly the planned indices, waits for the snapshot and
// verifies its record: state SUCCESS, every shard successful, none failed,
// and the very indices planned. Anything else refuses (the snapshot stays
// in the repository for inspection; nothing is deleted).
func archive(ctx context.Context, o *Options, p *Plan) (*opensearch.SnapshotInfo, error) {
	names := make([]string, len(p.Indices))
	for i, ix := range p.Indices {
		names[i] = ix.Name
	}
	o.Log.Info("snapshot starting", "repository", p.Repository.Name, "snapshot", p.Snapshot, "indices", len(names))
	// partial=true: a shard that cannot be archived ends the snapshot as
	// PARTIAL with the shard named in its record, which the check below
	// refuses with that reason, rather than an early error without one.
	if err := o.OpenSearch.CreateSnapshot(ctx, opensearch.SnapshotRequest{Repository: p.Repository.Name, Name: p.Snapshot, Indices: names, Partial: true}); err != nil {
		if errors.Is(err, opensearch.ErrRepositoryMissing) {
			return nil, refuse("snapshot repository %q is not registered in OpenSearch", p.Repository.Name)
		}
		return nil, fmt.Errorf("cleanup: %w", err)
	}
	item := "snapshot " + p.Snapshot + " (shards)"
	tracked, reported := false, 0
	var info opensearch.SnapshotInfo
	err := wait(ctx, o, "snapshot "+p.Snapshot, o.SnapshotTimeout, func(ctx context.Context) (bool, error) {
		if st, err := o.OpenSearch.SnapshotProgress(ctx, p.Repository.Name, p.Snapshot, o.Retry); err == nil && o.Progress != nil {
			if !tracked && st.Total > 0 {
				o.Progress.Track(item, 0, int64(st.Total))
				tracked = true
			}
			// Progress counts increments; the snapshot reports totals.
			if d := st.Done + st.Failed - reported; tracked && d > 0 {
				o.Progress.Add(item, d, o.PollInterval)
				reported += d
			}
		}
		var err error
		info, err = o.OpenSearch.Snapshot(ctx, p.Repository.Name, p.Snapshot, o.Retry)
		if err != nil {
			return false, err
		}
		return info.State != opensearch.SnapshotInProgress, nil
	})
	if tracked {
		o.Progress.Finish(item)
	}
	if err != nil {
		return nil, fmt.Errorf("cleanup: %w", err)
	}
	o.Log.Info("snapshot finished", "snapshot", p.Snapshot, "state", info.State, "shards_total", info.Shards.Total,
		"shards_successful", info.Shards.Successful, "shards_failed", info.Shards.Failed, "indices", len(info.Indices))
	switch {
	case info.State != opensearch.SnapshotSuccess:
		return nil, refuse("snapshot %s of repository %s ended %s, not %s (%d of %d shards failed: %s); nothing was deleted",
			p.Snapshot, p.Repository.Name, info.State, opensearch.SnapshotSuccess, info.Shards.Failed, info.Shards.Total, info.FirstFailure())
	case info.Shards.Failed != 0 || info.Shards.Successful != info.Shards.Total || info.Shards.Total == 0:
		return nil, refuse("snapshot %s: %d of %d shards successful, %d failed; nothing was deleted",
			p.Snapshot, info.Shards.Successful, info.Shards.Total, info.Shards.Failed)
	}
	if missing, extra := diff(names, info.Indices); len(missing)+len(extra) > 0 {
		return nil, refuse("snapshot %s does not hold exactly the indices planned (missing %v, unexpected %v); nothing was deleted", p.Snapshot, missing, extra)
	}
	return &info, nil
}

// verifySample restores the sample index of the snapshot under another
// name, waits until it is whole, and compares its count with the
// original's. The copy is deleted afterwards whatever the outcome.
func verifySample(ctx context.Context, o *Options, p *Plan) (int64, error) {
	if p.Sample == "" {
		return 0, refuse("no sample index to restore; nothing was deleted")
	}
	o.Log.Info("restore starting", "snapshot", p.Snapshot, "index", p.Sample, "as", p.VerifyAs)
	err := o.OpenSearch.RestoreAs(ctx, opensearch.RestoreRequest{Repository: p.Repository.Name, Snapshot: p.Snapshot, Index: p.Sample, As: p.VerifyAs,
		// A check copy needs no replica, so one node suffices to make it whole.
		Settings: map[string]any{"index.number_of_replicas": 0}})
	if err != nil {
		return 0, fmt.Errorf("cleanup: %w", err)
	}
	defer func() {
		// The copy goes even when the run is cancelled or timed out.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.DeleteTimeout)
		defer cancel()
		if err := o.OpenSearch.DeleteIndex(dctx, p.VerifyAs); err != nil && !errors.Is(err, opensearch.ErrIndexMissing) {
			o.Log.Error("could not delete the restored check copy; delete it by hand", "index", p.VerifyAs, "err", err)
			return
		}
		o.Log.Info("restored check copy deleted", "index", p.VerifyAs)
	}()
	waitStep := max(int(o.PollInterval/time.Second), 1)
	err = wait(ctx, o, "restore of "+p.Sample+" as "+p.VerifyAs, o.RestoreTimeout, func(ctx context.Context) (bool, error) {
		status, green, err := o.OpenSearch.IndexGreen(ctx, p.VerifyAs, waitStep, o.Retry)
		if err == nil && !green {
			o.Log.Debug("restore in progress", "index", p.VerifyAs, "health", status)
		}
		return green, err
	})
	if err != nil {
		return 0, fmt.Errorf("cleanup: %w", err)
	}
	if o.Hooks.AfterRestore != nil {
		if err := o.Hooks.AfterRestore(ctx, p.VerifyAs); err != nil {
			return 0, fmt.Errorf("cleanup: after restore: %w", err)
		}
	}
	if err := o.OpenSearch.Refresh(ctx, []string{p.Sample, p.VerifyAs}, o.Retry); err != nil {
		return 0, fmt.Errorf("cleanup: refresh %s and %s: %w", p.Sample, p.VerifyAs, err)
	}
	orig, err := o.OpenSearch.Count(ctx, []string{p.Sample}, nil, o.Retry)
	if err != nil {
		return 0, fmt.Errorf("cleanup: count %s: %w", p.Sample, err)
	}
	restored, err := o.OpenSearch.Count(ctx, []string{p.VerifyAs}, nil, o.Retry)
	if err != nil {
		return 0, fmt.Errorf("cleanup: count %s: %w", p.VerifyAs, err)
	}
	o.Log.Info("sample counted", "index", p.Sample, "docs", orig, "restored_as", p.VerifyAs, "restored_docs", restored)
	if orig != restored {
		return 0, refuse("the sample %s restored from snapshot %s as %s holds %d documents, the original %d; nothing was deleted",
			p.Sample, p.Snapshot, p.VerifyAs, restored, orig)
	}
	return orig, nil
}

// deleteIndices deletes each index by its exact name, one request per
// index; one already gone is noted, not an error (a rerun after a stop).
func deleteIndices(ctx context.Context, o *Options, indices []IndexPlan, rep *Report) error {
	const item = "delete indices"
	if o.Progress != nil {
		o.Progress.Track(item, 0, int64(len(indices)))
		defer o.Progress.Finish(item)
	}
	for i, ix := range indices {
		dctx, cancel := context.WithTimeout(ctx, o.DeleteTimeout)
		err := o.OpenSearch.DeleteIndex(dctx, ix.Name)
		cancel()
		switch {
		case errors.Is(err, opensearch.ErrIndexMissing):
			o.Log.Warn("index already gone", "index", ix.Name)
			rep.Gone = append(rep.Gone, ix.Name)
		case err != nil:
			return fmt.Errorf("cleanup: deleted %d of %d indices, then: %w", i, len(indices), err)
		default:
			o.Log.Info("index deleted", "index", ix.Name, "docs", ix.Docs, "n", i+1, "of", len(indices))
			rep.Deleted = append(rep.Deleted, ix.Name)
		}
		if o.Progress != nil {
			o.Progress.Add(item, 1, 0)
		}
	}
	return nil
}

// diff is what want has and got lacks, and the other way round.
func diff(want, got []string) (missing, extra []string) {
	for _, w := range want {
		if !slices.Contains(got, w) {
			missing = append(missing, w)
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			extra = append(extra, g)
		}
	}
	slices.Sort(missing)
	slices.Sort(extra)
	return missing, extra
}
