// Package rehearsal runs the whole migration once on one machine, the way a
// platform team would run it, and accounts for every record: a real
// OpenSearch node with seeded history, `obsplane serve` taking live OTLP
// and forward traffic, and every phase through the real `obsplane migrate`
// commands — shadow write, backfill, validate, cutover with a ramp,
// rollback with syncback, cutover again, complete, cleanup with a snapshot.
// After each phase it prints, per source, what was sent, acknowledged, is in
// the store and in OpenSearch, lost and duplicated; any loss or duplicate
// fails the run.
package rehearsal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/openchoreo/obsplane/internal/opensearch"
)

// Config is one rehearsal. Every count, rate and wait is bounded here.
type Config struct {
	// Repo is the repository root (scripts/opensearch.sh lives under it).
	Repo string
	// Obsplane is the binary under test (make builds bin/obsplane);
	// Telemetrygen the pinned load generator.
	Obsplane, Telemetrygen string
	// Work holds serve's data, its log, the validation reports.
	Work string
	// OpenSearchPort and OpenSearchHome are the rehearsal's own node (not
	// the tests' shared one: the rehearsal deletes and snapshots indices).
	OpenSearchPort, OpenSearchHome string
	// KeepOpenSearch leaves the node running afterwards.
	KeepOpenSearch bool
	Database       string

	History History
	Load    Load
	Reads   Reads

	FlagRefresh, RollbackCheck, RollbackWindow time.Duration
	Ramp                                       string
	RampDwell, RampPoll, MaxValidationAge      time.Duration
	MinCompleteAge                             time.Duration
	SnapshotRepository, CleanupIndices         string
	// Settle bounds the wait for acknowledged records to reach both stores
	// after a phase; StartTimeout the wait for serve's /readyz.
	Settle, StartTimeout time.Duration
	// Until stops after the phase of that name ("" runs them all).
	Until string
	// Screenshot, when set, opens the running serve's /console in a
	// headless Chromium (the binary at Chromium) during the second cutover
	// and keeps a PNG of the page there.
	Screenshot, Chromium string
	// ServeArgs are more flags for `obsplane serve`.
	ServeArgs []string

	// Out receives the tables; Log the progress.
	Out io.Writer
	Log *slog.Logger
}

// Phase is one step of the migration as the rehearsal runs it.
type Phase struct {
	Name string
	// Commands are the migrate subcommands the phase runs (checked before
	// anything starts: a missing one fails the run by name).
	Commands []string
	// OS is what OpenSearch must hold of the phase's live records.
	OS OSWant
	// Want is the migration phase `migrate status` must report after ("":
	// not checked).
	Want string
	// before runs ahead of the phase's live traffic, which starts once
	// every serve has reloaded the flags (records sent before the gateway
	// sees shadow_write flip are, by design, not dual-written or are).
	before func(r *runner, ctx context.Context) error
	// run runs while the live traffic flows.
	run func(r *runner, ctx context.Context) error
	// noReads: the phase makes no dual reads (the cleanup deletes
	// OpenSearch's copy under them, so the answers differ by design).
	noReads bool
}

// ErrFailed is returned when the run completed its phases but lost or
// duplicated records.
var ErrFailed = errors.New("rehearsal failed")

// runner is one rehearsal in progress.
type runner struct {
	cfg      Config
	id       string
	srv      *server
	osURL    string
	osc      *opensearch.Client
	cli      *cli
	start    time.Time // the seeded range
	end      time.Time
	seeded   [2]int // history logs, spans
	validate int    // validations run, numbering their reports
	results  []PhaseResult
	live     []Row // every live row, for the final audit
	// readWin is what the phases' reads ask for: the newest window both
	// stores hold alike (first an empty one before the run).
	readWin window
	// traffic is when the running phase's live traffic started and ended.
	trafficFrom, trafficTo time.Time
	// extra are rows and findings a phase's commands add to its result
	// (the rollback's count of the cutover's records after the syncback).
	extra []Row
	lines []string
	fail  []string
	// phaseWin is each phase's traffic window.
	phaseWin map[string]window
}

// Phases is the rehearsal's order: the plan, with the re-backfill
// and re-validation the state machine asks for between a rollback and the
// next cutover.
func Phases() []Phase {
	return []Phase{
		// Before the migration: dual write is off, so OpenSearch must
		// receive none of the live records.
		{Name: "baseline", OS: OSNone},
		{Name: "shadow-write", Commands: []string{"shadow-write", "status"}, Want: "DualWrite", before: (*runner).shadowWrite},
		{Name: "backfill", Commands: []string{"backfill", "status"}, Want: "Backfilled", run: (*runner).backfill},
		{Name: "validate", Commands: []string{"validate", "status"}, Want: "Validated", run: (*runner).validatePhase},
		// Once the ramp is at 100%, dual write off (a team spares
		// OpenSearch after a cutover): this phase's live records must be
		// in the store only...
		{Name: "cutover", Commands: []string{"cutover", "shadow-write", "status"}, OS: OSNone, Want: "Cutover", before: (*runner).cutoverStopDualWrite},
		// ...until the rollback's syncback copies them into OpenSearch,
		// each once; dual write back on before this phase's traffic.
		{Name: "rollback", Commands: []string{"rollback", "shadow-write", "status"}, Want: "DualWrite", before: (*runner).rollbackSyncback},
		{Name: "backfill-again", Commands: []string{"backfill", "status"}, Want: "Backfilled", run: (*runner).backfill},
		{Name: "validate-again", Commands: []string{"validate", "status"}, Want: "Validated", run: (*runner).validatePhase},
		{Name: "cutover-again", Commands: []string{"cutover", "status"}, Want: "Cutover", run: (*runner).cutoverAgain},
		{Name: "complete", Commands: []string{"complete", "status"}, Want: "Complete", run: (*runner).complete},
		// Dual write off first (as the chart's shadow-write Job does before
		// a cleanup), so the indices the cleanup deletes stay deleted: the
		// live records of this phase must not reach OpenSearch.
		{Name: "cleanup", Commands: []string{"shadow-write", "cleanup", "status"}, OS: OSNone, before: (*runner).beforeCleanup, run: (*runner).cleanup, noReads: true},
	}
}

// selectPhases cuts the list after until.
func selectPhases(all []Phase, until string) ([]Phase, error) {
	if until == "" {
		return all, nil
	}
	var names []string
	for i, p := range all {
		if p.Name == until {
			return all[:i+1], nil
		}
		names = append(names, p.Name)
	}
	return nil, fmt.Errorf("--until %q: no such phase (phases: %s)", until, strings.Join(names, ", "))
}

// Run runs the rehearsal. A missing migrate command, a failed command or a
// lost or duplicated record is an error; the tables are printed either way.
func Run(ctx context.Context, cfg Config) (err error) {
	log := cfg.Log
	phases, err := selectPhases(Phases(), cfg.Until)
	if err != nil {
		return err
	}
	if cfg.Load.Rate <= 0 {
		return errors.New("the load's rate must be positive: live traffic is throttled")
	}
	// Before anything starts: a phase whose command this binary lacks is
	// named now, never skipped or stood in for.
	have, err := migrateCommands(ctx, cfg.Obsplane)
	if err != nil {
		return err
	}
	if miss := missingCommands(have, phases); len(miss) > 0 {
		return fmt.Errorf("%s lacks %s: the rehearsal runs every phase through the real CLI and cannot run without it",
			cfg.Obsplane, strings.Join(miss, ", "))
	}
	if err := os.MkdirAll(cfg.Work, 0o755); err != nil {
		return err
	}

	r := &runner{cfg: cfg, id: strings.ReplaceAll(uuid.NewString()[:8], "-", ""), phaseWin: map[string]window{}}
	now := time.Now().UTC()
	r.start, r.end = cfg.History.Range(now)
	// Until a phase's records are in both stores, the reads ask for the
	// minutes before the run, which neither holds anything of.
	r.readWin = window{From: now.Add(-10 * time.Minute), To: now.Add(-time.Second), What: "the minutes before the run (empty in both)"}
	if r.readWin.From.Before(r.end) {
		r.readWin.From = r.end
	}

	log.Info("starting the rehearsal's OpenSearch", "port", cfg.OpenSearchPort, "home", cfg.OpenSearchHome)
	if r.osURL, err = openSearchScript(ctx, cfg, "start"); err != nil {
		return err
	}
	if !cfg.KeepOpenSearch {
		defer func() {
			if _, e := openSearchScript(context.WithoutCancel(ctx), cfg, "stop"); e != nil {
				log.Warn("stopping OpenSearch", "err", e)
			}
		}()
	}
	if r.osc, err = opensearch.New(r.osURL, opensearch.Options{Timeout: 2 * time.Minute}); err != nil {
		return err
	}
	if err := r.resetOpenSearch(ctx); err != nil {
		return err
	}
	if err := r.osc.EnsureTemplates(ctx); err != nil {
		return fmt.Errorf("install OpenChoreo's index templates: %w", err)
	}
	seedTag := r.tag("history", "")
	log.Info("seeding OpenSearch history", "days", cfg.History.Days, "from", day(r.start), "to", day(r.end))
	if r.seeded[0], r.seeded[1], err = seedHistory(ctx, r.osc, cfg.History, seedTag, now); err != nil {
		return err
	}

	log.Info("starting obsplane serve", "binary", cfg.Obsplane)
	if r.srv, err = startServe(ctx, cfg, r.osURL); err != nil {
		return err
	}
	defer func() {
		if e := r.srv.stop(90 * time.Second); e != nil {
			log.Warn("stopping serve", "err", e)
		}
	}()
	r.cli = &cli{bin: cfg.Obsplane, dsn: "http://" + r.srv.ClickHouseHTTP + "/", osURL: r.osURL, log: cmdLog{log}}

	var failures []string
	for i, p := range phases {
		log.Info("phase", "n", i+1, "of", len(phases), "name", p.Name)
		res, perr := r.runPhase(ctx, p)
		r.results = append(r.results, res)
		fmt.Fprintf(cfg.Out, "\n### phase %d/%d: %s (%s, state after: %s)\n\n", i+1, len(phases), p.Name,
			res.Time.Round(100*time.Millisecond), res.State)
		WriteTable(cfg.Out, []PhaseResult{res})
		for _, row := range res.Rows {
			if n := row.GatewayNote(); n != "" {
				fmt.Fprintln(cfg.Out, "\nnote:", n)
			}
		}
		for _, l := range res.Lines {
			fmt.Fprintln(cfg.Out, "\n"+l)
		}
		for _, row := range res.Rows {
			if why := row.Failed(); why != "" {
				failures = append(failures, fmt.Sprintf("%s %s: %s", p.Name, row.label(), why))
			}
		}
		for _, f := range res.Fail {
			failures = append(failures, p.Name+": "+f)
		}
		if perr != nil {
			r.summary(failures)
			return fmt.Errorf("phase %s: %w", p.Name, perr)
		}
		if err := r.srv.alive(); err != nil {
			return err
		}
	}
	failures = append(failures, r.finalAudit(ctx)...)
	r.summary(failures)
	if len(failures) > 0 {
		return fmt.Errorf("%w: %s", ErrFailed, strings.Join(failures, "; "))
	}
	return nil
}

// cmdLog puts each migrate command's output into the progress log, a line
// at a time.
type cmdLog struct{ log *slog.Logger }

func (c cmdLog) Write(p []byte) (int, error) {
	for _, l := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		if strings.TrimSpace(l) != "" {
			c.log.Debug("obsplane", "out", l)
		}
	}
	return len(p), nil
}

func (r *runner) summary(failures []string) {
	fmt.Fprintf(r.cfg.Out, "\n### every phase\n\n")
	WriteTable(r.cfg.Out, r.results)
	if len(failures) == 0 {
		fmt.Fprintf(r.cfg.Out, "\nrehearsal %s: 0 lost, 0 duplicated\n", r.id)
		return
	}
	fmt.Fprintf(r.cfg.Out, "\nrehearsal %s FAILED:\n", r.id)
	for _, f := range failures {
		fmt.Fprintf(r.cfg.Out, "  - %s\n", f)
	}
}

func day(t time.Time) string { return t.UTC().Format("2006-01-02") }

// tag is the pod name a phase's source is tagged with: unique per run, so a
// second rehearsal on the same node counts only its own records.
func (r *runner) tag(phase, src string) string {
	t := "rh-" + r.id + "-" + phase
	if src != "" {
		t += "-" + src
	}
	return t
}

// resetOpenSearch deletes OpenChoreo's indices on the rehearsal's own node,
// so the seeded history is the whole history. It refuses the tests' shared
// node.
func (r *runner) resetOpenSearch(ctx context.Context) error {
	if r.cfg.OpenSearchHome == "" || strings.HasSuffix(filepath.Clean(r.cfg.OpenSearchHome), filepath.Join("opensearch", "run")) {
		return fmt.Errorf("OpenSearch home %q is the tests' shared node; the rehearsal deletes indices and needs its own (OPENSEARCH_HOME_DIR)", r.cfg.OpenSearchHome)
	}
	for _, p := range []string{"container-logs-*", "otel-traces-*", "k8s-events-*", "kubernetes-*", "*-restored*"} {
		code, b, err := osDo(ctx, r.osURL, "DELETE", "/"+escapePath(p)+"?expand_wildcards=all&allow_no_indices=true&ignore_unavailable=true", "")
		if err != nil {
			return fmt.Errorf("reset OpenSearch: %w", err)
		}
		if code/100 != 2 && code != 404 {
			return fmt.Errorf("reset OpenSearch: DELETE %s: %d %s", p, code, tail(string(b), 3))
		}
	}
	return nil
}

// runPhase runs one phase: its command with live traffic flowing, then the
// wait until every acknowledged record has landed (or Settle passed), then
// the counts.
func (r *runner) runPhase(ctx context.Context, p Phase) (PhaseResult, error) {
	res := PhaseResult{Name: p.Name}
	t0 := time.Now()
	before, err := accepted(ctx, r.srv.HTTP)
	if err != nil {
		return res, err
	}
	short := strings.TrimSuffix(p.Name, "-again")
	if short != p.Name {
		short += "2"
	}
	type stream struct {
		src  Source
		tag  string
		n    int
		send func(ctx context.Context, tag string, n int) sent
		res  sent
	}
	load := r.cfg.Load
	streams := []*stream{
		{src: OTLPLogs, tag: r.tag(short, "otlp"), n: load.OTLPLogs, send: func(ctx context.Context, tag string, n int) sent {
			return telemetrygen(ctx, r.cfg.Telemetrygen, r.srv.OTLPGRPC, "logs", tag, n, load.Rate)
		}},
		{src: ForwardLogs, tag: r.tag(short, "fwd"), n: load.ForwardLogs, send: func(ctx context.Context, tag string, n int) sent {
			return forwardLogs(ctx, r.srv.Forward, tag, n, load.Rate)
		}},
		{src: OTLPTraces, tag: r.tag(short, "otlp"), n: load.Traces, send: func(ctx context.Context, tag string, n int) sent {
			return telemetrygen(ctx, r.cfg.Telemetrygen, r.srv.OTLPGRPC, "traces", tag, n, load.Rate)
		}},
	}
	var cmdErr error
	r.extra, r.lines, r.fail = nil, nil, nil
	if p.before != nil {
		if cmdErr = p.before(r, ctx); cmdErr == nil {
			// Every serve process reloads the flags within --flag-refresh.
			wait(ctx, 2*r.cfg.FlagRefresh+2*time.Second)
		}
	}
	var wg sync.WaitGroup
	var reads *readResult
	if cmdErr == nil {
		r.trafficFrom = time.Now()
		readsDone := make(chan struct{})
		rctx, stopReads := context.WithCancel(ctx)
		if !p.noReads && r.cfg.Reads.PerPhase > 0 {
			reads = &readResult{}
			if reads.Before, err = dualReads(ctx, r.srv.HTTP); err != nil {
				stopReads()
				return res, err
			}
			go func() {
				defer close(readsDone)
				r.readLoop(rctx, r.readWin, reads)
			}()
		} else {
			close(readsDone)
		}
		for _, s := range streams {
			if s.n <= 0 {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.res = s.send(ctx, s.tag, s.n)
			}()
		}
		if p.run != nil {
			cmdErr = p.run(r, ctx)
		}
		wg.Wait()
		r.trafficTo = time.Now()
		// From just before the whole second: forward's records carry
		// seconds only, and both backends leave out a record on the start.
		w := window{From: r.trafficFrom.Truncate(time.Second).Add(-time.Millisecond), To: r.trafficTo, What: p.Name + "'s live records"}
		for _, s := range streams {
			switch s.src {
			case OTLPLogs, ForwardLogs:
				w.Logs += s.res.Acked
			case OTLPTraces:
				// telemetrygen's traces are a parent and a child span.
				w.Traces += s.res.Acked / 2
			}
		}
		r.phaseWin[p.Name] = w
		stopReads()
		<-readsDone
	}
	res.Time = time.Since(t0)
	if cmdErr != nil && len(streams) > 0 && streams[0].res.Sent == 0 {
		// The command failed before any traffic: nothing to count.
		res.State = r.state(ctx, "")
		return res, cmdErr
	}
	after, err := accepted(ctx, r.srv.HTTP)
	if err != nil {
		return res, err
	}

	var rows []Row
	for _, s := range streams {
		if s.n <= 0 {
			continue
		}
		row := Row{Phase: p.Name, Source: s.src, Sent: s.res.Sent, Acked: s.res.Acked, OSWant: p.OS,
			Accepted: after[acceptedKey(s.src)] - before[acceptedKey(s.src)]}
		if s.res.Err != nil {
			r.cfg.Log.Warn("traffic", "phase", p.Name, "source", s.src, "err", s.res.Err)
			row.Note = s.res.Err.Error()
		}
		if row.Acked < 0 {
			// The client could not tell; the gateway's counter does.
			row.Acked = int(row.Accepted)
		}
		rows = append(rows, row)
	}
	tags := map[Source]string{}
	for _, s := range streams {
		tags[s.src] = s.tag
	}
	// The history rows: the backfill copies it; the cleanup deletes it
	// from OpenSearch (archived) while the store keeps it.
	if strings.HasPrefix(p.Name, "backfill") || p.Name == "cleanup" {
		want := OSAll
		if p.Name == "cleanup" {
			want = OSNone
		}
		tags[HistoryLogs], tags[HistoryTraces] = r.tag("history", ""), r.tag("history", "")
		rows = append(rows,
			Row{Phase: p.Name, Source: HistoryLogs, Sent: r.seeded[0], Acked: r.seeded[0], Accepted: -1, OSWant: want},
			Row{Phase: p.Name, Source: HistoryTraces, Sent: r.seeded[1], Acked: r.seeded[1], Accepted: -1, OSWant: want})
	}
	rows = append(rows, r.extra...)
	if err := r.settle(ctx, rows, tags); err != nil {
		return res, errors.Join(cmdErr, err)
	}
	res.Rows = rows
	res.Lines, res.Fail = append(res.Lines, r.lines...), append(res.Fail, r.fail...)
	if reads != nil {
		// The comparisons finish in the background: the settle above gave
		// them time; the counters now hold this phase's.
		if reads.After, err = dualReads(ctx, r.srv.HTTP); err != nil {
			return res, err
		}
		res.Reads = reads
		res.Lines = append(res.Lines, reads.Line())
		if n := int(reads.After["mismatch"] - reads.Before["mismatch"]); n > 0 {
			res.Fail = append(res.Fail, fmt.Sprintf("%d dual-read mismatches reading %s", n, reads.Window.What))
			res.Lines = append(res.Lines, "dual-read mismatch samples (GET /api/v1/router/mismatches, newest first):\n"+tail(mismatchSamples(ctx, r.srv.HTTP, 5), 40))
		}
		// Both stores hold exactly what the harness counted in the window:
		// the answers must say so, not merely agree.
		if reads.Logs > 0 && reads.LogsTotal != reads.Window.Logs || reads.Traces > 0 && reads.TracesTotal != reads.Window.Traces {
			res.Fail = append(res.Fail, fmt.Sprintf("reads of %s answered %d lines and %d traces, want %d and %d",
				reads.Window.What, reads.LogsTotal, reads.TracesTotal, reads.Window.Logs, reads.Window.Traces))
		}
		if len(reads.Failed) > 0 {
			res.Fail = append(res.Fail, fmt.Sprintf("%d reads failed", len(reads.Failed)))
		}
	}
	clean := cmdErr == nil && p.OS == OSAll
	for _, row := range rows {
		if row.Of == "" && row.Failed() != "" {
			clean = false
		}
	}
	if clean {
		// Both stores now hold this phase's live records alike: the next
		// phases read them.
		r.readWin = r.phaseWin[p.Name]
	}
	for _, row := range rows {
		if row.Source != HistoryLogs && row.Source != HistoryTraces && row.Of == "" {
			row.Note = tags[row.Source]
			r.live = append(r.live, row)
		}
	}
	res.State = r.state(ctx, p.Want)
	if cmdErr != nil {
		return res, cmdErr
	}
	if p.Want != "" && !strings.HasPrefix(res.State, p.Want) {
		return res, fmt.Errorf("migrate status reports %s after %s, want %s", res.State, p.Name, p.Want)
	}
	return res, nil
}

// settle counts the rows until both stores hold every acknowledged record
// (or Settle passes), then records the last counts.
func (r *runner) settle(ctx context.Context, rows []Row, tags map[Source]string) error {
	deadline := time.Now().Add(r.cfg.Settle)
	for {
		done := true
		for i := range rows {
			row := &rows[i]
			tag := tags[row.Source]
			if row.Tag != "" {
				tag = row.Tag
			}
			st, err := countStore(ctx, r.srv.ClickHouseHTTP, r.cfg.Database, row.Source, tag)
			if err != nil {
				return err
			}
			ot, err := countOpenSearch(ctx, r.osc, row.Source, tag)
			if err != nil {
				return err
			}
			row.Store, row.OS = st, ot
			if st.Distinct < row.Acked || row.OSWant == OSAll && ot.Distinct < row.Acked {
				done = false
			}
		}
		if done || time.Now().After(deadline) {
			return nil
		}
		if !wait(ctx, time.Second) {
			return ctx.Err()
		}
	}
}

// state is `migrate status` in a few words: phase, rollout, switches.
func (r *runner) state(ctx context.Context, want string) string {
	st, err := r.cli.status(ctx)
	if err != nil {
		r.cfg.Log.Warn("migrate status", "err", err)
		return "unknown (migrate status failed)"
	}
	primary := "opensearch"
	if st.ClickStackPrimary {
		primary = "clickhouse"
	}
	shadow := "off"
	if st.ShadowWrite {
		shadow = "on"
	}
	s := fmt.Sprintf("%s, rollout %d%%, shadow write %s, primary %s", st.Phase, st.RolloutPercent, shadow, primary)
	if st.Pending != nil {
		s += ", a transition pending"
	}
	return s
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// finalAudit counts every live source of every phase again at the end: no
// record may have gone missing or doubled since its phase (rollback,
// syncback and cleanup included).
func (r *runner) finalAudit(ctx context.Context) []string {
	var bad []string
	n := 0
	for _, row := range r.live {
		st, err := countStore(ctx, r.srv.ClickHouseHTTP, r.cfg.Database, row.Source, row.Note)
		if err != nil {
			return append(bad, "final audit: "+err.Error())
		}
		if st.Distinct < row.Acked || st.Rows != st.Distinct {
			bad = append(bad, fmt.Sprintf("final audit %s %s: store holds %s of %d acknowledged", row.Phase, row.Source, tallyText(st), row.Acked))
		}
		n += st.Distinct
	}
	fmt.Fprintf(r.cfg.Out, "\nfinal audit: %d live records of %d phases in the store, each once: %v\n", n, len(r.results), len(bad) == 0)
	return bad
}

func wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// --- the phases -----------------------------------------------------------

// actor is who the audit names for every step the rehearsal takes.
const actor = "rehearsal"

func (r *runner) shadowWrite(ctx context.Context) error {
	_, err := r.cli.run(ctx, "shadow-write", "enable", "--reason", "rehearsal "+r.id, "--actor", actor)
	return err
}

func (r *runner) backfill(ctx context.Context) error {
	_, err := r.cli.run(ctx, "backfill", "--start", day(r.start), "--end", day(r.end), "--signals", "logs,traces",
		"--progress-bars=false", "--progress-interval", "5s", "--actor", actor)
	return err
}

func (r *runner) validatePhase(ctx context.Context) error {
	r.validate++
	report := filepath.Join(r.cfg.Work, fmt.Sprintf("validation-%d.json", r.validate))
	// The seeded days, sampled at once (a past range): both stores must
	// agree on them after the backfill.
	_, err := r.cli.run(ctx, "validate", "--start", r.start.Format(time.RFC3339), "--duration", r.end.Sub(r.start).String(),
		"--sample-interval", "1h", "--window", "1h", "--settle", "0s", "--signals", "logs,traces", "--group-by", "namespace",
		"--report-file", report, "--actor", actor)
	return err
}

func (r *runner) cutover(ctx context.Context) error {
	_, err := r.cli.run(ctx, "cutover", "--max-validation-age", r.cfg.MaxValidationAge.String(), "--ramp", r.cfg.Ramp,
		"--ramp-dwell", r.cfg.RampDwell.String(), "--ramp-poll", r.cfg.RampPoll.String(), "--require-backfill-range", day(r.start)+":"+day(r.end),
		"--actor", actor, "--reason", "rehearsal "+r.id+": cutover")
	return err
}

// cutoverAgain is the second cutover; the console's browser test, when
// asked for, runs against it once the ramp is at 100.
func (r *runner) cutoverAgain(ctx context.Context) error {
	if err := r.cutover(ctx); err != nil {
		return err
	}
	// By now the phases' reads have gone to both backends (dual read):
	// the console's latency chart must have them.
	line, err := r.checkLatency(ctx)
	if line != "" {
		r.lines = append(r.lines, line)
	}
	if err != nil {
		return err
	}
	if r.cfg.Screenshot == "" {
		return nil
	}
	return r.screenshot(ctx)
}

// cutoverStopDualWrite cuts over (the ramp to 100%), then turns dual write
// off, as a team sparing OpenSearch after a cutover would: in Cutover the
// switch changes only the flag. The phase's traffic starts once serve has
// reloaded it, so none of it may reach OpenSearch.
func (r *runner) cutoverStopDualWrite(ctx context.Context) error {
	if err := r.cutover(ctx); err != nil {
		return err
	}
	_, err := r.cli.run(ctx, "shadow-write", "disable", "--reason", "rehearsal "+r.id+": spare OpenSearch after the cutover", "--actor", actor)
	return err
}

// rollbackSyncback rolls back with the syncback, then checks that the
// syncback put every record of the cutover phase (which dual write did not
// copy) into OpenSearch exactly once and wrote nothing else, then turns
// dual write back on for the phases that follow (in DualWrite the switch
// changes only the flag).
func (r *runner) rollbackSyncback(ctx context.Context) error {
	out, err := r.cli.run(ctx, "rollback", "--syncback=true", "--actor", actor, "--reason", "rehearsal "+r.id+": rollback")
	if err != nil {
		return err
	}
	var cut []Row // with their tags in Note
	for _, l := range r.live {
		if l.Phase == "cutover" {
			cut = append(cut, l)
		}
	}
	if len(cut) == 0 {
		return errors.New("rollback: no cutover phase counted before it")
	}
	want, got := 0, 0
	ok := true
	for _, c := range cut {
		st, err := countStore(ctx, r.srv.ClickHouseHTTP, r.cfg.Database, c.Source, c.Note)
		if err != nil {
			return err
		}
		ot, err := countOpenSearch(ctx, r.osc, c.Source, c.Note)
		if err != nil {
			return err
		}
		want += c.Acked
		got += ot.Rows
		if ot.Distinct != c.Acked || ot.Rows != ot.Distinct {
			ok = false
		}
		// The settle after the phase counts them again, into the table.
		r.extra = append(r.extra, Row{Phase: "rollback", Source: c.Source, Sent: c.Sent, Acked: c.Acked, Accepted: -1,
			OSWant: OSAll, Tag: c.Note, Of: "cutover", Store: st, OS: ot})
	}
	written, werr := r.syncbackWritten(ctx)
	line := fmt.Sprintf("syncback: the rollback's syncback wrote %s documents; the cutover phase's %d records (sent with dual write off) are now in OpenSearch as %d documents",
		written, want, got)
	if werr != nil {
		line += " (" + werr.Error() + ")"
	}
	// The command's report (its progress log lines left out).
	var report []string
	for _, l := range strings.Split(out, "\n") {
		if !strings.HasPrefix(l, "time=") && strings.TrimSpace(l) != "" {
			report = append(report, "    "+l)
		}
	}
	r.lines = append(r.lines, line+"; `migrate rollback` printed:\n"+strings.Join(report, "\n"))
	if written != fmt.Sprint(want) {
		// Since the cutover only the cutover phase's records were
		// missing from OpenSearch: anything else written is a copy too
		// many, anything less a gap left.
		r.fail = append(r.fail, fmt.Sprintf("the syncback wrote %s documents, want %d (the cutover phase's records)", written, want))
	}
	if ok {
		// The reads of this phase compare the syncback's copies with the
		// store's rows.
		r.readWin = r.phaseWin["cutover"]
		r.readWin.What = "cutover's live records (synced back)"
	}
	_, err = r.cli.run(ctx, "shadow-write", "enable", "--reason", "rehearsal "+r.id+": dual write again after the rollback", "--actor", actor)
	return err
}

// syncbackWritten is what the newest rollback recorded it synced back.
func (r *runner) syncbackWritten(ctx context.Context) (string, error) {
	st, err := r.cli.status(ctx)
	if err != nil {
		return "?", err
	}
	for _, t := range st.Transitions {
		if t.To == "DualWrite" && t.From == "Cutover" {
			if n, ok := t.Detail["syncback_written"]; ok {
				return n, nil
			}
			return "?", fmt.Errorf("the rollback's transition records no syncback: %v", t.Detail)
		}
	}
	return "?", errors.New("migrate status shows no rollback transition")
}

func (r *runner) complete(ctx context.Context) error {
	_, err := r.cli.run(ctx, "complete", "--reason", "rehearsal "+r.id, "--actor", actor)
	return err
}

// beforeCleanup turns dual write off and registers the snapshot repository
// (the cleanup never registers one itself).
func (r *runner) beforeCleanup(ctx context.Context) error {
	if _, err := r.cli.run(ctx, "shadow-write", "disable", "--reason", "rehearsal "+r.id+": cleanup", "--actor", actor); err != nil {
		return err
	}
	repo := r.cfg.SnapshotRepository
	// An fs repository under the node's path.repo (scripts/opensearch.sh
	// sets it to <home>/snapshots).
	loc := filepath.Join(r.cfg.OpenSearchHome, "snapshots", repo)
	code, b, err := osDo(ctx, r.osURL, "PUT", "/_snapshot/"+escapePath(repo),
		fmt.Sprintf(`{"type":"fs","settings":{"location":%q}}`, loc))
	if err != nil || code/100 != 2 {
		return fmt.Errorf("register snapshot repository %s: %v %d %s", repo, err, code, tail(string(b), 3))
	}
	return nil
}

func (r *runner) cleanup(ctx context.Context) error {
	repo := r.cfg.SnapshotRepository
	// The state must have been Complete for --min-complete-age.
	wait(ctx, r.cfg.MinCompleteAge+time.Second)
	if _, err := r.cli.run(ctx, "cleanup", "--require-explicit-flag", "--confirmed", "--archive-indices",
		"--snapshot-repository", repo, "--indices", r.cfg.CleanupIndices, "--min-complete-age", r.cfg.MinCompleteAge.String()); err != nil {
		return err
	}
	return r.checkSnapshot(ctx, repo)
}

// checkSnapshot confirms, independently of the cleanup's own check, that
// the repository holds a successful snapshot with the seeded indices.
func (r *runner) checkSnapshot(ctx context.Context, repo string) error {
	code, b, err := osDo(ctx, r.osURL, "GET", "/_snapshot/"+escapePath(repo)+"/_all", "")
	if err != nil || code != 200 {
		return fmt.Errorf("list snapshots of %s: %v %d %s", repo, err, code, tail(string(b), 3))
	}
	body := string(b)
	if !strings.Contains(body, `"state":"SUCCESS"`) {
		return fmt.Errorf("no successful snapshot in %s after cleanup: %s", repo, tail(body, 5))
	}
	for d := r.start; d.Before(r.end); d = d.AddDate(0, 0, 1) {
		for _, idx := range []string{opensearch.ContainerLogsIndex(d), opensearch.OtelTracesIndex(d)} {
			if !strings.Contains(body, `"`+idx+`"`) {
				return fmt.Errorf("snapshot in %s does not hold %s", repo, idx)
			}
		}
	}
	return nil
}
