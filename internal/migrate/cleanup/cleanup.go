// Package cleanup is the migration's last step, `obsplane migrate cleanup`:
// once the migration has been Complete for long enough, and only when both
// safety switches agree, it archives OpenChoreo's OpenSearch indices into a
// registered snapshot repository, proves the archive (state SUCCESS, every
// shard, one index restored under another name and counted), deletes
// exactly the indices the archive holds, one exact name at a time, and then
// the OpenSearch objects on Kubernetes by name. Every guard that fails
// refuses before anything changes; docs/MIGRATE.md, "cleanup", has the
// refusal table.
package cleanup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/openchoreo/obsplane/internal/migrate"
	"github.com/openchoreo/obsplane/internal/migrate/state"
	"github.com/openchoreo/obsplane/internal/opensearch"
)

// ErrRefused is matched (errors.Is) by every refusal: a guard failed and
// nothing was deleted. It is the migration's own (state.ErrRefused), so the
// CLI prints "refused: <reason>" and exits 2 as for every refused step.
var ErrRefused = state.ErrRefused

func refuse(format string, args ...any) error { return state.Refusef(format, args...) }

// PhaseSource reads where the migration stands: *state.Machine.
type PhaseSource interface {
	Status(ctx context.Context) (state.Status, error)
}

// DefaultIndices are the index patterns OpenChoreo writes (docs/OPENSEARCH.md).
var DefaultIndices = []string{
	opensearch.ContainerLogsPrefix + "*",
	opensearch.OtelTracesPrefix + "*",
	opensearch.K8sEventsPrefix + "*",
	opensearch.LegacyKubernetesPrefix + "*",
}

// VerifyPrefix starts the name of the index a sample is restored under; no
// pattern of the cleanup may match it.
const VerifyPrefix = "obsplane-verify-"

// Options configure one cleanup. The two switches, the phase and its age
// are checked before anything else; the zero value of every limit has a
// default (defaults).
type Options struct {
	// The chart's migration.cleanup.requireExplicitFlag and .confirmed:
	// both must be true.
	RequireExplicitFlag, Confirmed bool
	// MinCompleteAge is how long the migration must have been Complete
	// (default 168h).
	MinCompleteAge time.Duration
	State          PhaseSource

	OpenSearch *opensearch.Client
	Retry      opensearch.RetryOptions
	// Indices are the index patterns whose indices are archived and
	// deleted (default DefaultIndices). Each must start with a literal
	// character: "*" alone, "_all" and hidden or system names are refused.
	Indices []string

	// ArchiveIndices snapshots and verifies before deleting (the chart's
	// archiveIndices). Without it the indices are deleted unarchived.
	ArchiveIndices bool
	Repository     string // registered snapshot repository (required with ArchiveIndices)
	// BackupLocation, when set, must be where Repository points (its
	// location setting for fs, bucket/base_path for s3): the chart's
	// migration.cleanup.backupLocation.
	BackupLocation string
	SnapshotName   string // default obsplane-cleanup-<UTC time>
	// SampleIndex is the index restored under another name and counted
	// (default: the newest non-empty one by name).
	SampleIndex string

	SnapshotTimeout time.Duration // wait for the snapshot (default 2h)
	RestoreTimeout  time.Duration // wait for the sample's restore (default 30m)
	DeleteTimeout   time.Duration // wait for one index deletion (default 5m)
	PollInterval    time.Duration // between two looks at a running snapshot or restore (default 2s)

	// Kube is the Kubernetes part; nil leaves Kubernetes alone.
	Kube *Kube

	// DryRun prints the plan and every guard's verdict and changes nothing.
	DryRun bool

	Now      func() time.Time
	Out      io.Writer // the plan and the report
	Log      *slog.Logger
	Progress *migrate.Progress // nil: none
	Hooks    Hooks
}

// Hooks let tests act between the steps, on the real cluster.
type Hooks struct {
	// AfterRestore runs once the sample is restored, before the counts are
	// compared.
	AfterRestore func(ctx context.Context, restored string) error
}

func (o *Options) defaults() error {
	if o.State == nil {
		return errors.New("cleanup: no migration state")
	}
	if o.OpenSearch == nil {
		return errors.New("cleanup: no OpenSearch client")
	}
	if o.MinCompleteAge == 0 {
		o.MinCompleteAge = 168 * time.Hour
	}
	if o.MinCompleteAge < 0 {
		return fmt.Errorf("cleanup: --min-complete-age %s is negative", o.MinCompleteAge)
	}
	if len(o.Indices) == 0 {
		o.Indices = DefaultIndices
	}
	if o.SnapshotTimeout <= 0 {
		o.SnapshotTimeout = 2 * time.Hour
	}
	if o.RestoreTimeout <= 0 {
		o.RestoreTimeout = 30 * time.Minute
	}
	if o.DeleteTimeout <= 0 {
		o.DeleteTimeout = 5 * time.Minute
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 2 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Kube != nil {
		if err := o.Kube.defaults(); err != nil {
			return err
		}
	}
	return nil
}

// Report is what a cleanup did (or, in a dry run, would do).
type Report struct {
	Plan     *Plan
	Snapshot *opensearch.SnapshotInfo // the archive, once verified
	// SampleDocs is the sample's count, equal in the original and the
	// restored copy.
	SampleDocs int64
	Deleted    []string // indices deleted
	Gone       []string // indices already gone when their turn came
	Kube       []KubeAction
}

// Run checks every guard, prints the plan and, unless it is a dry run or a
// guard refused, carries it out. A refusal is an error matching ErrRefused
// and means nothing was deleted.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	plan, err := buildPlan(ctx, &o)
	if err != nil {
		return nil, err
	}
	rep := &Report{Plan: plan}
	plan.Write(o.Out, o.DryRun)
	if r := plan.Refusal(); r != nil {
		o.Log.Warn("cleanup refused", "reason", r.Error(), "dry_run", o.DryRun)
		return rep, r
	}
	if o.DryRun {
		o.Log.Info("cleanup dry run: nothing changed")
		return rep, nil
	}
	toDelete := plan.Indices
	if o.ArchiveIndices {
		info, err := archive(ctx, &o, plan)
		if err != nil {
			return rep, err
		}
		rep.Snapshot = info
		docs, err := verifySample(ctx, &o, plan)
		if err != nil {
			return rep, err
		}
		rep.SampleDocs = docs
		toDelete = inSnapshot(plan.Indices, info)
	}
	if err := deleteIndices(ctx, &o, toDelete, rep); err != nil {
		return rep, err
	}
	if o.Kube != nil && plan.Kube != nil {
		acts, err := o.Kube.apply(ctx, plan.Kube, o.Log)
		rep.Kube = acts
		if err != nil {
			return rep, err
		}
	}
	rep.Write(o.Out)
	return rep, nil
}

// inSnapshot is the planned indices the snapshot holds (verify made sure
// that is all of them; this keeps the deletion to what is archived even so).
func inSnapshot(planned []IndexPlan, info *opensearch.SnapshotInfo) []IndexPlan {
	var out []IndexPlan
	for _, ix := range planned {
		if slices.Contains(info.Indices, ix.Name) {
			out = append(out, ix)
		}
	}
	return out
}

// checkPattern refuses a pattern that could reach beyond OpenChoreo's
// indices: one that starts with a wildcard, _all, or a hidden or system
// index, and the prefix of the cleanup's own check copies.
func checkPattern(p string) error {
	switch {
	case p == "":
		return errors.New("an empty pattern")
	case p == "_all" || strings.HasPrefix(p, "*") || strings.HasPrefix(p, "?"):
		return fmt.Errorf("pattern %q would match every index; name OpenChoreo's index prefixes", p)
	case strings.HasPrefix(p, ".") || strings.HasPrefix(p, "_") || strings.HasPrefix(p, "-") || strings.HasPrefix(p, "+"):
		return fmt.Errorf("pattern %q names hidden or system indices, or an exclusion", p)
	case strings.ContainsAny(p, ",<>|\\/\" #:"):
		return fmt.Errorf("pattern %q is not one index pattern", p)
	case strings.HasPrefix(VerifyPrefix, strings.TrimRight(p, "*?")) || strings.HasPrefix(p, VerifyPrefix):
		return fmt.Errorf("pattern %q matches the cleanup's own check copies (%s*)", p, VerifyPrefix)
	}
	return nil
}

// wait polls done every interval until it reports true, ctx ends or the
// timeout passes; what names the wait in the error and the log.
func wait(ctx context.Context, o *Options, what string, timeout time.Duration, done func(ctx context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	lastLog := start
	for {
		ok, err := done(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("%s: not done after %s (the timeout): %w", what, timeout, err)
			}
			return err
		}
		if ok {
			o.Log.Info("done waiting", "for", what, "took", time.Since(start).Round(time.Millisecond))
			return nil
		}
		if time.Since(lastLog) >= 30*time.Second {
			o.Log.Info("waiting", "for", what, "elapsed", time.Since(start).Round(time.Second), "timeout", timeout)
			lastLog = time.Now()
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("%s: not done after %s (the timeout)", what, timeout)
			}
			return ctx.Err()
		case <-time.After(o.PollInterval):
		}
	}
}
