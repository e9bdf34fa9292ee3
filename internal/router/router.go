// Package router decides, for every read, which backend answers it:
// ClickHouse or OpenSearch (docs/DESIGN.md, Migration from OpenSearch).
//
// # Choosing the backend
//
// The configured primary (observer.telemetry.backend) sets the stage of the
// migration. With "opensearch" (migrating) a user's reads go to ClickHouse
// when the use_clickhouse flag includes the user — a sticky bucket of the
// user id below the flag's rolloutPercentage, see package flags — and to
// OpenSearch otherwise; the plan's 5% / 20% / 50% / 100% steps are
// PATCHes of that percentage. With "clickstack" (cut over) every read goes
// to ClickHouse and the flag is not consulted: rolling back after cutover is
// a config change back to "opensearch", and the flag —
// which an automatic rollback has set to 0 by then — takes over again.
// When the caller has no function for the chosen backend (OpenSearch not
// configured), the other one answers.
//
// # Dual read
//
// With dualRead every read also runs on the other backend, in its own
// goroutine, after the answer's path has been decided and without ever
// waiting for it: at most DualReadConcurrency run at once (a read that finds
// them all busy is not shadowed), each bounded by DualReadTimeout and not
// cancelled when the caller's request ends. The two answers' digests
// (Result: total and ids in order) are compared; differences are counted by
// kind and the newest are kept as samples (GET /api/v1/router/mismatches).
//
// # Automatic rollback
//
// Every read's backend, latency and outcome feed time windows that Check
// evaluates every CheckInterval; when a trigger holds the use_clickhouse
// rollout is set to 0 with an audit row naming the trigger and the numbers.
// See RollbackConfig and rollback.go.
//
// # Callers
//
// server.Run builds one Router and passes it to the handlers, which call
//
//	v, err := rt.Do(ctx, userID, "logs.query", fromClickHouse, fromOpenSearch)
//
// A nil *Router answers from ClickHouse directly, so handlers work without
// one (gateway-only processes, tests).
package router

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/openchoreo/obsplane/internal/readmodel"
	"github.com/openchoreo/obsplane/internal/router/flags"
	"github.com/openchoreo/obsplane/internal/store"
)

// Result is the comparable digest of an answer: the total count the backend
// reports and the ids of the rows (log ids, trace ids, span ids) in the
// order they were returned. Two backends agree on a read when both match.
type Result struct {
	Total int
	IDs   []string
	// Incomparable, when set, says why this read's two answers differ by
	// design (e.g. a level filter: OpenSearch matches level words in the
	// text, ClickHouse the line's parsed level). Dual read then runs both
	// reads but counts the pair as "incomparable" instead of comparing it,
	// so it never feeds the inconsistency trigger.
	Incomparable string
}

// Func answers a read from one backend: the response to return to the
// caller, its digest, or an error.
type Func func(ctx context.Context) (any, Result, error)

// Pinger reports whether ClickHouse can run a query now; store.Store is one.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Options are what New needs. Flags and Config are required; the rest have
// defaults (no pinger: the unreachable trigger never fires; no registerer: a
// private one; the system clock; slog.Default()).
type Options struct {
	Config     Config
	Flags      *flags.Service
	Pinger     Pinger
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	Clock      Clock
}

// Router routes reads. Every method is safe for concurrent use.
type Router struct {
	cfg   Config
	flags *flags.Service
	ping  Pinger
	log   *slog.Logger
	clock Clock
	m     *metrics
	win   *windows
	sem   chan struct{}
	bg    sync.WaitGroup

	samplesMu sync.Mutex
	samples   []Mismatch // ring, oldest first once full
	next      int
	full      bool

	rb rollbackState
}

// NewFlags returns the one flag service of a process, shared by the
// router and the gateway, with every runtime switch defined: use_clickhouse
// (enabled, at 0% until someone raises it), shadow_write (cfg's
// ShadowWriteDefault until changed) and clickstack_primary (off).
func NewFlags(st store.Store, cfg Config, clock Clock, log *slog.Logger) (*flags.Service, error) {
	if clock == nil {
		clock = SystemClock{}
	}
	return flags.New(st, cfg.Database, []flags.Definition{{
		Name:        flags.UseClickHouse,
		Description: "share of users (sticky by user id) whose reads ClickHouse answers while observer.telemetry.backend is opensearch",
		Enabled:     true,
		Percentage:  0,
	}, {
		Name:        flags.ShadowWrite,
		Description: "enabled: the gateway also writes logs and traces into OpenSearch (dual write); switched without a restart",
		Enabled:     cfg.ShadowWriteDefault,
	}, {
		Name:        flags.ClickStackPrimary,
		Description: "enabled: every read goes to ClickHouse, as with observer.telemetry.backend=clickstack (set by migrate cutover, cleared by migrate rollback)",
	}}, clock.Now, log)
}

// New returns a router. It starts nothing; Run runs the refresh and
// rollback loops.
func New(o Options) (*Router, error) {
	if err := o.Config.Validate(); err != nil {
		return nil, err
	}
	if o.Flags == nil {
		return nil, errors.New("router: no flag service")
	}
	if _, ok := o.Flags.Get(flags.UseClickHouse); !ok {
		return nil, fmt.Errorf("router: flag service does not define %s", flags.UseClickHouse)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Clock == nil {
		o.Clock = SystemClock{}
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, fmt.Errorf("router: register metrics: %w", err)
	}
	span := max(o.Config.Rollback.EvalWindow, o.Config.Rollback.BaselineWindow, o.Config.Rollback.InconsistencyWindow)
	r := &Router{
		cfg: o.Config, flags: o.Flags, ping: o.Pinger, log: o.Logger, clock: o.Clock, m: m,
		win:     newWindows(span),
		sem:     make(chan struct{}, o.Config.DualReadConcurrency),
		samples: make([]Mismatch, o.Config.MismatchSamples),
	}
	r.updateGauges()
	return r, nil
}

// Config returns the router's configuration.
func (r *Router) Config() Config { return r.cfg }

// Flags returns the router's flag service.
func (r *Router) Flags() *flags.Service { return r.flags }

// Primary returns the backend that answers user's reads now (outside
// hybrid mode): ClickHouse once cut over — configured clickstack, or the
// clickstack_primary flag on — else as the use_clickhouse rollout says.
func (r *Router) Primary(user string) Backend {
	if r.cfg.Backend == BackendClickStack {
		return ClickHouse
	}
	if f, _ := r.flags.Get(flags.ClickStackPrimary); f.Enabled {
		return ClickHouse
	}
	if f, _ := r.flags.Get(flags.UseClickHouse); f.Includes(user) {
		return ClickHouse
	}
	return OpenSearch
}

// Range is the time range a read covers; a zero Start means unknown or
// unbounded (a read by id).
type Range struct {
	Start, End time.Time
}

// Route returns the backend that answers op for user over rng. In hybrid
// mode OpenSearch answers a listed op whose range starts within its last
// Days days, ClickHouse everything else; otherwise it is Primary(user).
func (r *Router) Route(user, op string, rng Range) Backend {
	h := r.cfg.Hybrid
	if !h.Enabled {
		return r.Primary(user)
	}
	cutoff := r.clock.Now().Add(-time.Duration(h.Days) * 24 * time.Hour)
	if slices.Contains(h.Ops, op) && !rng.Start.IsZero() && !rng.Start.Before(cutoff) &&
		(rng.End.IsZero() || !rng.End.Before(rng.Start)) {
		return OpenSearch
	}
	return ClickHouse
}

// Do answers one read for user from the backend chosen for that user, and
// with dual read on also runs it on the other backend in the background.
// op names the operation for metrics and samples ("logs.query",
// "traces.get", ...); it must be a constant, never user input. Either
// function may be nil when that backend is not configured. A backend that
// answers readmodel's Unsupported error (without I/O) leaves the read to
// the other one: when the primary cannot answer, the other backend's answer
// is returned (the background read's, when dual read started one), and
// when the secondary cannot, there is nothing to compare.
func (r *Router) Do(ctx context.Context, user, op string, ch, os Func) (any, error) {
	return r.DoRange(ctx, user, op, Range{}, ch, os)
}

// DoRange is Do for a read over rng, which hybrid mode routes by (see
// Route).
func (r *Router) DoRange(ctx context.Context, user, op string, rng Range, ch, os Func) (any, error) {
	if r == nil {
		if ch == nil {
			return nil, errors.New("router: no ClickHouse query for " + op)
		}
		v, _, err := ch(ctx)
		return v, err
	}
	primary, secondary := r.Route(user, op, rng), OpenSearch
	pf, sf := ch, os
	if primary == OpenSearch {
		secondary, pf, sf = ClickHouse, os, ch
	}
	if pf == nil {
		primary, secondary, pf, sf = secondary, primary, sf, nil
	}
	if pf == nil {
		return nil, fmt.Errorf("router: no backend can answer %s", op)
	}

	// The primary's digest reaches the comparison through a buffered
	// channel: the answer's path never waits for the background read,
	// except when the primary cannot answer and the background read is
	// the answer.
	var primaryDone chan outcome
	var shadowDone chan answer
	if r.cfg.DualRead && sf != nil {
		select {
		case r.sem <- struct{}{}:
			primaryDone, shadowDone = make(chan outcome, 1), make(chan answer, 1)
			r.bg.Add(1)
			go r.shadow(ctx, user, op, primary, secondary, sf, primaryDone, shadowDone)
		default:
			r.m.dualRead.WithLabelValues(op, "skipped").Inc()
		}
	}

	v, err := r.runPrimary(ctx, primary, op, pf, primaryDone)
	if errors.Is(err, readmodel.ErrUnsupported) && sf != nil {
		if shadowDone != nil {
			a := <-shadowDone
			return a.v, a.err
		}
		return r.runPrimary(ctx, secondary, op, sf, nil)
	}
	return v, err
}

// runPrimary answers the read and hands its digest to the background
// comparison, even if pf panics (the panic goes on to the caller), so a
// shadow read never waits forever holding a concurrency slot.
func (r *Router) runPrimary(ctx context.Context, b Backend, op string, pf Func, done chan<- outcome) (v any, err error) {
	var res Result
	err = errors.New("primary read panicked")
	defer func() {
		if done != nil {
			done <- outcome{res: res, err: err}
		}
	}()
	start := time.Now()
	v, res, err = pf(ctx)
	r.observe(ctx, b, op, "primary", time.Since(start), err)
	return v, err
}

type outcome struct {
	res Result
	err error
}

type answer struct {
	v   any
	err error
}

// shadow runs the secondary read, hands its answer to done (the answer's
// path takes it when the primary could not answer) and compares it with
// the primary's.
func (r *Router) shadow(ctx context.Context, user, op string, primary, secondary Backend, sf Func, primaryDone <-chan outcome, done chan<- answer) {
	defer r.bg.Done()
	defer func() { <-r.sem }()
	// The background read outlives the request that started it, but not
	// DualReadTimeout; it keeps the request's values.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.DualReadTimeout)
	defer cancel()
	start := time.Now()
	sv, sres, serr := sf(sctx)
	took := time.Since(start)
	done <- answer{sv, serr}
	p := <-primaryDone
	// When the primary could not answer, this read was the caller's answer.
	role := "secondary"
	if errors.Is(p.err, readmodel.ErrUnsupported) {
		role = "primary"
	}
	r.observe(sctx, secondary, op, role, took, serr)
	switch {
	case errors.Is(p.err, readmodel.ErrUnsupported) || errors.Is(serr, readmodel.ErrUnsupported):
		r.m.dualRead.WithLabelValues(op, "unsupported").Inc()
		return
	case p.err != nil || serr != nil:
		r.m.dualRead.WithLabelValues(op, "error").Inc()
		return
	}
	if p.res.Incomparable != "" || sres.Incomparable != "" {
		r.m.dualRead.WithLabelValues(op, "incomparable").Inc()
		return
	}
	kinds, detail := Compare(p.res, sres)
	r.win.comparison(r.clock.Now(), len(kinds) > 0)
	if len(kinds) == 0 {
		r.m.dualRead.WithLabelValues(op, "match").Inc()
		return
	}
	r.m.dualRead.WithLabelValues(op, "mismatch").Inc()
	for _, k := range kinds {
		r.m.mismatches.WithLabelValues(op, k).Inc()
	}
	r.record(Mismatch{
		Op: op, User: user, At: r.clock.Now().UTC(),
		Primary: primary, Secondary: secondary,
		PrimaryResult: digestOf(p.res), SecondaryResult: digestOf(sres),
		Kinds: kinds, Detail: detail,
	})
}

// Wait blocks until every background read started so far has finished
// (tests and shutdown).
func (r *Router) Wait() { r.bg.Wait() }

// Outcomes of a read, the "outcome" label.
const (
	OutcomeOK          = "ok"
	OutcomeError       = "error"
	OutcomeClientError = "client_error"
	OutcomeCanceled    = "canceled"
	// OutcomeUnsupported: the backend cannot answer this read at all (and
	// did no I/O); the other backend answers it.
	OutcomeUnsupported = "unsupported"
)

// ClientError marks err as the caller's fault (a bad query, a time range
// too large): it is answered as usual but not counted against the backend by
// the error-rate trigger. readmodel's Invalid, Forbidden and NotFound
// errors count as the caller's without it.
func ClientError(err error) error {
	if err == nil {
		return nil
	}
	return clientError{err}
}

type clientError struct{ error }

func (e clientError) Unwrap() error { return e.error }

// IsClientError reports whether err was marked with ClientError or is
// readmodel's error of the caller's making.
func IsClientError(err error) bool {
	var c clientError
	return errors.As(err, &c) || readmodel.IsCallers(err)
}

func classify(ctx context.Context, err error) string {
	switch {
	case err == nil:
		return OutcomeOK
	case errors.Is(err, readmodel.ErrUnsupported):
		return OutcomeUnsupported
	case IsClientError(err):
		return OutcomeClientError
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		// The caller went away; that says nothing about the backend.
		return OutcomeCanceled
	default:
		return OutcomeError
	}
}

// Observe records one read served by backend: its latency and whether it
// failed. Do calls it for every read, primary and secondary; callers that
// reach a backend without Do (streaming responses) call it themselves, so
// the rollback triggers see all traffic.
func (r *Router) Observe(b Backend, op, role string, d time.Duration, err error) {
	r.observe(context.Background(), b, op, role, d, err)
}

func (r *Router) observe(ctx context.Context, b Backend, op, role string, d time.Duration, err error) {
	oc := classify(ctx, err)
	r.m.requests.WithLabelValues(string(b), op, role, oc).Inc()
	r.m.latency.WithLabelValues(string(b), op, role).Observe(d.Seconds())
	if oc == OutcomeOK || oc == OutcomeError {
		r.win.request(r.clock.Now(), b, d, oc == OutcomeError)
	}
}

// Mismatch kinds.
const (
	KindCount = "count" // the totals differ
	KindIDs   = "ids"   // the sets of ids differ
	KindOrder = "order" // the same ids in a different order
)

// Compare returns how two digests differ (empty when they agree) and a
// short description of the difference. Ids are compared as multisets first;
// the order is only compared when they hold the same ids.
func Compare(a, b Result) (kinds []string, detail string) {
	var parts []string
	if a.Total != b.Total {
		kinds = append(kinds, KindCount)
		parts = append(parts, fmt.Sprintf("total %d vs %d", a.Total, b.Total))
	}
	onlyA, onlyB := multisetDiff(a.IDs, b.IDs)
	switch {
	case len(onlyA) > 0 || len(onlyB) > 0:
		kinds = append(kinds, KindIDs)
		parts = append(parts, fmt.Sprintf("%d id(s) only in primary %s, %d only in secondary %s",
			len(onlyA), firstFew(onlyA), len(onlyB), firstFew(onlyB)))
	case !slices.Equal(a.IDs, b.IDs):
		kinds = append(kinds, KindOrder)
		i := 0
		for i < len(a.IDs) && a.IDs[i] == b.IDs[i] {
			i++
		}
		parts = append(parts, fmt.Sprintf("same ids, order differs from position %d (%q vs %q)", i, a.IDs[i], b.IDs[i]))
	}
	for i, p := range parts {
		if i > 0 {
			detail += "; "
		}
		detail += p
	}
	return kinds, detail
}

func multisetDiff(a, b []string) (onlyA, onlyB []string) {
	n := make(map[string]int, len(a))
	for _, id := range a {
		n[id]++
	}
	for _, id := range b {
		if n[id] > 0 {
			n[id]--
		} else {
			onlyB = append(onlyB, id)
		}
	}
	for _, id := range a {
		if n[id] > 0 {
			n[id]--
			onlyA = append(onlyA, id)
		}
	}
	return onlyA, onlyB
}

func firstFew(ids []string) string {
	const k = 5
	if len(ids) > k {
		return fmt.Sprintf("%q…", ids[:k])
	}
	return fmt.Sprintf("%q", ids)
}

// maxSampleIDs bounds the ids a sample keeps, so the ring's memory is
// bounded whatever the page size.
const maxSampleIDs = 50

// Digest is a Result as a sample keeps it: the total, how many ids there
// were, and the first maxSampleIDs of them.
type Digest struct {
	Total    int      `json:"total"`
	IDCount  int      `json:"idCount"`
	IDs      []string `json:"ids"`
	Truncate bool     `json:"idsTruncated,omitempty"`
}

func digestOf(r Result) Digest {
	d := Digest{Total: r.Total, IDCount: len(r.IDs), IDs: r.IDs}
	if len(d.IDs) > maxSampleIDs {
		d.IDs, d.Truncate = d.IDs[:maxSampleIDs], true
	}
	d.IDs = slices.Clone(d.IDs)
	if d.IDs == nil {
		d.IDs = []string{}
	}
	return d
}

// Mismatch is one recorded dual-read difference.
type Mismatch struct {
	Op              string    `json:"op"`
	User            string    `json:"user"`
	At              time.Time `json:"at"`
	Primary         Backend   `json:"primary"`
	Secondary       Backend   `json:"secondary"`
	PrimaryResult   Digest    `json:"primaryResult"`
	SecondaryResult Digest    `json:"secondaryResult"`
	Kinds           []string  `json:"kinds"`
	Detail          string    `json:"detail"`
}

func (r *Router) record(m Mismatch) {
	r.samplesMu.Lock()
	defer r.samplesMu.Unlock()
	r.samples[r.next] = m
	r.next = (r.next + 1) % len(r.samples)
	if r.next == 0 {
		r.full = true
	}
}

// Mismatches returns the kept samples, newest first, optionally only those
// of op, at most limit (all when limit <= 0).
func (r *Router) Mismatches(op string, limit int) []Mismatch {
	r.samplesMu.Lock()
	defer r.samplesMu.Unlock()
	n := r.next
	if r.full {
		n = len(r.samples)
	}
	out := []Mismatch{}
	for i := 1; i <= n; i++ {
		m := r.samples[(r.next-i+len(r.samples))%len(r.samples)]
		if op != "" && m.Op != op {
			continue
		}
		out = append(out, m)
		if limit > 0 && len(out) == limit {
			break
		}
	}
	return out
}

func (r *Router) updateGauges() {
	for _, f := range r.flags.List() {
		r.m.rollout.WithLabelValues(f.Name).Set(float64(f.RolloutPercentage))
		v := 0.0
		if f.Enabled {
			v = 1
		}
		r.m.flagEnabled.WithLabelValues(f.Name).Set(v)
	}
}

// SortTies sorts ids within each run of equal keys (keys[i] is ids[i]'s
// sort key, e.g. its timestamp) and returns ids. Rows that share their sort
// key come back in an order each store picks its own way (OpenSearch by
// _id, ClickHouse by a row hash), so a digest built with SortTies makes
// Compare report only order differences between distinct keys.
func SortTies(ids, keys []string) []string {
	if len(ids) != len(keys) {
		return ids
	}
	for i := 0; i < len(ids); {
		j := i + 1
		for j < len(ids) && keys[j] == keys[i] {
			j++
		}
		slices.Sort(ids[i:j])
		i = j
	}
	return ids
}

// SetFlag changes flag name as actor, with the reason kept in the audit
// row, and updates the rollout gauges.
func (r *Router) SetFlag(ctx context.Context, name string, c flags.Change, actor, reason string) (old, cur flags.Flag, err error) {
	old, cur, err = r.flags.Update(ctx, name, c, actor, reason)
	if err != nil {
		return old, cur, err
	}
	r.log.Info("router: flag changed", "flag", name, "by", actor, "old", old, "new", cur, "reason", reason)
	r.updateGauges()
	return old, cur, nil
}
