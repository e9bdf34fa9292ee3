package router

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Backend names one of the two stores a read can be answered from.
type Backend string

// The backends. The values are also the "backend" label of the metrics.
const (
	ClickHouse Backend = "clickhouse"
	OpenSearch Backend = "opensearch"
)

// Configured primaries, as spelled in observer.telemetry.backend.
const (
	BackendClickStack = "clickstack"
	BackendOpenSearch = "opensearch"
)

// Config is the router's configuration. DefaultConfig holds the defaults;
// the comments name the config key each field is meant to be read from.
type Config struct {
	// Backend is the configured primary (observer.telemetry.backend):
	// "opensearch" while migrating — then the use_clickhouse flag moves users
	// to ClickHouse one bucket at a time — or "clickstack" once cut over,
	// when every read goes to ClickHouse and the flag is not consulted.
	Backend string
	// DualRead (observer.telemetry.dualRead) also runs every read on the
	// other backend, in the background, and compares the answers.
	DualRead bool
	// DualReadConcurrency bounds the background reads in flight; a read
	// that finds them all busy is not shadowed (counted as "skipped").
	DualReadConcurrency int
	// DualReadTimeout bounds one background read.
	DualReadTimeout time.Duration
	// MismatchSamples is how many mismatch samples the ring keeps.
	MismatchSamples int
	// FlagRefresh is how often flags are reloaded from the store, to pick
	// up changes made through another obsplane process.
	FlagRefresh time.Duration
	// Database holds the obsplane_flags and obsplane_flag_audit tables.
	Database string
	// ShadowWriteDefault is the shadow_write flag's value until someone
	// changes it (--shadow-write: dual write on from the start).
	ShadowWriteDefault bool

	Rollback RollbackConfig
	Hybrid   HybridConfig
}

// HybridConfig is the hybrid mode of the whitepaper's section 2.3: the
// store is the primary and OpenSearch, kept for its last Days days, answers
// the reads named in Ops whose time range lies entirely within them. Every
// other read (older, open-ended, by id, or an op not listed) goes to
// ClickHouse. The rollout flags are not consulted while it is on.
type HybridConfig struct {
	Enabled bool
	// Days is how many days back OpenSearch holds (its index retention).
	Days int
	// Ops are the operations OpenSearch may answer (RoutedOps names them).
	Ops []string
}

// RoutedOps are the operations the router chooses a backend for (the op
// argument of Do as Reader passes it).
var RoutedOps = []string{"logs.query", "events.query", "api.logs", "traces.query", "spans.query", "span.get"}

// RollbackConfig sets when the router rolls the use_clickhouse rollout back
// to 0 by itself (docs/DESIGN.md, Migration from OpenSearch). Each
// condition is evaluated every
// CheckInterval.
type RollbackConfig struct {
	// Enabled turns automatic rollback on.
	Enabled bool
	// CheckInterval is how often the triggers are evaluated (and the store
	// pinged).
	CheckInterval time.Duration
	// EvalWindow is the trailing window each check measures error rate and
	// P95 over. A condition "for 5 minutes" holds when every check over that
	// span found it true.
	EvalWindow time.Duration
	// MinRequests is the fewest ClickHouse requests in EvalWindow that make
	// an error rate or a P95 worth judging; fewer breaks a streak.
	MinRequests int

	// ErrorRate (0..1) is the ClickHouse error rate that must be exceeded
	// at every check for ErrorRateFor.
	ErrorRate    float64
	ErrorRateFor time.Duration

	// LatencyFactor times the OpenSearch baseline P95 is the ClickHouse P95
	// that must be exceeded at every check for LatencyFor.
	LatencyFactor float64
	LatencyFor    time.Duration
	// BaselineWindow is the trailing window the OpenSearch P95 baseline is
	// measured over (OpenSearch reads: users not yet moved, and dual reads).
	BaselineWindow time.Duration
	// BaselineP95, when set, is used while fewer than MinRequests
	// OpenSearch reads fall in BaselineWindow (OpenSearch gone or idle).
	BaselineP95 time.Duration

	// UnreachableChecks consecutive failed pings of the store fire the
	// unreachable trigger; each ping is bounded by PingTimeout.
	UnreachableChecks int
	PingTimeout       time.Duration

	// Inconsistency (0..1) is the share of dual-read comparisons that
	// disagreed over InconsistencyWindow above which the rollout is rolled
	// back, judged once MinComparisons comparisons fall in the window.
	Inconsistency       float64
	InconsistencyWindow time.Duration
	MinComparisons      int
}

// DefaultConfig returns the defaults: OpenSearch primary, no dual read, and
// the migration plan's rollback thresholds (errors > 5% for 5 min, P95 > 3x
// baseline for 10 min, ClickHouse unreachable, dual-read inconsistency > 1%).
func DefaultConfig() Config {
	return Config{
		Backend:             BackendOpenSearch,
		DualRead:            false,
		DualReadConcurrency: 8,
		DualReadTimeout:     30 * time.Second,
		MismatchSamples:     200,
		FlagRefresh:         10 * time.Second,
		Database:            "otel",
		Rollback: RollbackConfig{
			Enabled:             true,
			CheckInterval:       15 * time.Second,
			EvalWindow:          time.Minute,
			MinRequests:         20,
			ErrorRate:           0.05,
			ErrorRateFor:        5 * time.Minute,
			LatencyFactor:       3,
			LatencyFor:          10 * time.Minute,
			BaselineWindow:      time.Hour,
			UnreachableChecks:   3,
			PingTimeout:         5 * time.Second,
			Inconsistency:       0.01,
			InconsistencyWindow: 15 * time.Minute,
			MinComparisons:      100,
		},
	}
}

// bucketWidth is the resolution of the router's time windows; every window
// must be at least this long.
const bucketWidth = 5 * time.Second

// Validate names the first setting that is wrong.
func (c Config) Validate() error {
	switch c.Backend {
	case BackendClickStack, BackendOpenSearch:
	default:
		return fmt.Errorf("router: observer.telemetry.backend=%q: want %s or %s", c.Backend, BackendClickStack, BackendOpenSearch)
	}
	if c.DualReadConcurrency < 1 {
		return fmt.Errorf("router: dualReadConcurrency=%d: want at least 1", c.DualReadConcurrency)
	}
	if c.DualReadTimeout <= 0 {
		return fmt.Errorf("router: dualReadTimeout=%s: want > 0", c.DualReadTimeout)
	}
	if c.MismatchSamples < 1 {
		return fmt.Errorf("router: mismatchSamples=%d: want at least 1", c.MismatchSamples)
	}
	if c.FlagRefresh <= 0 {
		return fmt.Errorf("router: flagRefresh=%s: want > 0", c.FlagRefresh)
	}
	if c.Database == "" {
		return errors.New("router: database is empty")
	}
	if err := c.Hybrid.Validate(); err != nil {
		return err
	}
	return c.Rollback.Validate()
}

// Validate names the first hybrid setting that is wrong.
func (h HybridConfig) Validate() error {
	if !h.Enabled {
		return nil
	}
	if h.Days < 1 {
		return fmt.Errorf("router: hybrid.openSearchDays=%d: want at least 1", h.Days)
	}
	if len(h.Ops) == 0 {
		return fmt.Errorf("router: hybrid.ops is empty: name the reads OpenSearch answers (%s)", strings.Join(RoutedOps, ","))
	}
	for _, op := range h.Ops {
		if !slices.Contains(RoutedOps, op) {
			return fmt.Errorf("router: hybrid.ops: unknown op %q (want some of %s)", op, strings.Join(RoutedOps, ","))
		}
	}
	return nil
}

// Validate names the first rollback setting that is wrong.
func (r RollbackConfig) Validate() error {
	if r.CheckInterval <= 0 {
		return fmt.Errorf("router: rollback.checkInterval=%s: want > 0", r.CheckInterval)
	}
	for _, w := range []struct {
		name string
		d    time.Duration
	}{{"evalWindow", r.EvalWindow}, {"baselineWindow", r.BaselineWindow}, {"inconsistencyWindow", r.InconsistencyWindow}} {
		if w.d < bucketWidth {
			return fmt.Errorf("router: rollback.%s=%s: want at least %s", w.name, w.d, bucketWidth)
		}
	}
	if r.ErrorRateFor < 0 || r.LatencyFor < 0 {
		return fmt.Errorf("router: rollback.errorRateFor=%s, latencyFor=%s: want >= 0", r.ErrorRateFor, r.LatencyFor)
	}
	if r.MinRequests < 1 || r.MinComparisons < 1 {
		return fmt.Errorf("router: rollback.minRequests=%d, minComparisons=%d: want at least 1", r.MinRequests, r.MinComparisons)
	}
	if r.ErrorRate <= 0 || r.ErrorRate >= 1 {
		return fmt.Errorf("router: rollback.errorRate=%g: want a fraction in (0, 1), e.g. 0.05 for 5%%", r.ErrorRate)
	}
	if r.Inconsistency <= 0 || r.Inconsistency >= 1 {
		return fmt.Errorf("router: rollback.inconsistency=%g: want a fraction in (0, 1), e.g. 0.01 for 1%%", r.Inconsistency)
	}
	if r.LatencyFactor <= 1 {
		return fmt.Errorf("router: rollback.latencyFactor=%g: want > 1", r.LatencyFactor)
	}
	if r.BaselineP95 < 0 {
		return fmt.Errorf("router: rollback.baselineP95=%s: want >= 0", r.BaselineP95)
	}
	if r.UnreachableChecks < 1 {
		return fmt.Errorf("router: rollback.unreachableChecks=%d: want at least 1", r.UnreachableChecks)
	}
	if r.PingTimeout <= 0 {
		return fmt.Errorf("router: rollback.pingTimeout=%s: want > 0", r.PingTimeout)
	}
	return nil
}
