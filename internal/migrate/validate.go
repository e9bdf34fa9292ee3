package migrate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/openchoreo/obsplane/internal/readmodel"
	"github.com/openchoreo/obsplane/internal/store"
)

// ValidateOptions configure a validation run (the whitepaper's validation
// job).
type ValidateOptions struct {
	// OpenSearch and Store are the two sides' read models (the logs
	// backend on OpenSearch, the ClickHouse backend).
	OpenSearch, Store readmodel.Counts
	// Results is where the result is kept (obsplane_validations), when
	// set.
	Results  store.Store
	Database string
	Signals  []Signal
	// Duration and SampleInterval: one sample every interval for the
	// duration (at least one sample).
	Duration, SampleInterval time.Duration
	// Window is the rolling window compared (default 5m); Settle the
	// newest time left out (default 30s).
	Window, Settle time.Duration
	// MaxDriftPercent: a sample whose drift (overall, or of any group) is
	// above it counts against the run; MaxOverallDriftPercent: the run
	// fails when more than this share of samples does.
	MaxDriftPercent, MaxOverallDriftPercent float64
	// GroupBy compares per namespace or component too ("" for overall
	// only); logs only.
	GroupBy string
	// Start, when set, samples the period from Start instead of now: the
	// samples whose time has passed are taken at once.
	Start time.Time
	// Out receives the report as the whitepaper prints it.
	Out io.Writer
	Log *slog.Logger
}

// ValidationReport is the JSON report and the stored result.
type ValidationReport struct {
	RunID                  string    `json:"runId"`
	StartedAt              time.Time `json:"startedAt"`
	FinishedAt             time.Time `json:"finishedAt"`
	Signals                []Signal  `json:"signals"`
	GroupBy                string    `json:"groupBy,omitempty"`
	WindowSeconds          float64   `json:"windowSeconds"`
	SettleSeconds          float64   `json:"settleSeconds"`
	MaxDriftPercent        float64   `json:"maxDriftPercent"`
	MaxOverallDriftPercent float64   `json:"maxOverallDriftPercent"`
	Samples                []Sample  `json:"samples"`
	TotalSamples           int       `json:"totalSamples"`
	SamplesOverDrift       int       `json:"samplesOverDrift"`
	DriftRatePercent       float64   `json:"driftRatePercent"`
	Passed                 bool      `json:"passed"`
}

// Sample is one sample: per signal the two counts over [From, To).
type Sample struct {
	At        time.Time     `json:"at"`
	From      time.Time     `json:"from"`
	To        time.Time     `json:"to"`
	Signals   []SignalDrift `json:"signals"`
	OverDrift bool          `json:"overDrift"`
}

// SignalDrift is one signal's counts in a sample, and the groups whose
// drift exceeds the threshold.
type SignalDrift struct {
	Signal       Signal       `json:"signal"`
	OpenSearch   int64        `json:"openSearch"`
	ClickStack   int64        `json:"clickStack"`
	DriftPercent float64      `json:"driftPercent"`
	GroupsOver   []GroupDrift `json:"groupsOverDrift,omitempty"`
	// Groups is every group's counts, within tolerance or not: the drift
	// per namespace the migration state keeps and the console charts.
	Groups []GroupDrift `json:"groups,omitempty"`
}

// GroupDrift is one namespace's or component's counts.
type GroupDrift struct {
	Group        string  `json:"group"`
	OpenSearch   int64   `json:"openSearch"`
	ClickStack   int64   `json:"clickStack"`
	DriftPercent float64 `json:"driftPercent"`
}

// ErrValidationFailed is returned when the run's drift rate is above
// MaxOverallDriftPercent.
var ErrValidationFailed = errors.New("validation failed")

// drift is |a - b| relative to a (OpenSearch, the reference), in percent;
// 0 when both are 0 and 100 when only a is.
func drift(a, b int64) float64 {
	if a == 0 && b == 0 {
		return 0
	}
	if a == 0 {
		return 100
	}
	return math.Abs(float64(a-b)) / float64(a) * 100
}

var units = map[Signal]string{Logs: "logs", Traces: "spans", Events: "events"}

// Validate runs the validation job: it samples both stores every
// SampleInterval for Duration, compares their counts over the rolling
// Window that ends Settle before the sample, prints each sample and the
// report in the whitepaper's format, and keeps the result. It returns the
// report, and an error wrapping ErrValidationFailed when the run failed.
func Validate(ctx context.Context, o ValidateOptions) (*ValidationReport, error) {
	if o.OpenSearch == nil || o.Store == nil {
		return nil, errors.New("validate: needs both stores' read models")
	}
	if o.SampleInterval <= 0 {
		return nil, fmt.Errorf("--sample-interval %s must be positive", o.SampleInterval)
	}
	if o.Duration < 0 || o.Window < 0 || o.Settle < 0 || o.MaxDriftPercent < 0 || o.MaxOverallDriftPercent < 0 {
		return nil, errors.New("validate: --duration, --window, --settle and the drift thresholds must not be negative")
	}
	switch o.GroupBy {
	case "", "namespace", "component":
	default:
		return nil, fmt.Errorf("--group-by %q: want namespace or component", o.GroupBy)
	}
	if o.Window == 0 {
		o.Window = 5 * time.Minute
	}
	if len(o.Signals) == 0 {
		o.Signals = []Signal{Logs}
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	rep := &ValidationReport{RunID: uuid.NewString(), StartedAt: time.Now().UTC(), Signals: o.Signals, GroupBy: o.GroupBy,
		WindowSeconds: o.Window.Seconds(), SettleSeconds: o.Settle.Seconds(), MaxDriftPercent: o.MaxDriftPercent, MaxOverallDriftPercent: o.MaxOverallDriftPercent}
	n := int(o.Duration / o.SampleInterval)
	if n < 1 {
		n = 1
	}
	first := o.Start
	if first.IsZero() {
		first = time.Now()
	}
	fmt.Fprintln(o.Out, "=== ClickStack Migration Validation ===")
	for i := 0; i < n; i++ {
		at := first.Add(time.Duration(i) * o.SampleInterval).UTC().Truncate(time.Second)
		if wait := time.Until(at); wait > 0 {
			select {
			case <-ctx.Done():
				return rep, ctx.Err()
			case <-time.After(wait):
			}
		}
		s, err := sample(ctx, o, at)
		if err != nil {
			return rep, err
		}
		rep.Samples = append(rep.Samples, s)
		printSample(o.Out, s, o.MaxDriftPercent)
	}
	rep.TotalSamples = len(rep.Samples)
	for _, s := range rep.Samples {
		if s.OverDrift {
			rep.SamplesOverDrift++
		}
	}
	rep.DriftRatePercent = float64(rep.SamplesOverDrift) / float64(rep.TotalSamples) * 100
	rep.Passed = rep.DriftRatePercent <= o.MaxOverallDriftPercent
	rep.FinishedAt = time.Now().UTC()
	fmt.Fprintln(o.Out, "\n=== Validation Report ===")
	fmt.Fprintf(o.Out, "Total samples: %d\n", rep.TotalSamples)
	fmt.Fprintf(o.Out, "Samples with drift > %.1f%%: %d\n", o.MaxDriftPercent, rep.SamplesOverDrift)
	fmt.Fprintf(o.Out, "Drift rate: %.2f%%\n", rep.DriftRatePercent)
	if rep.Passed {
		fmt.Fprintln(o.Out, "✓ VALIDATION PASSED")
	} else {
		fmt.Fprintln(o.Out, "✗ VALIDATION FAILED")
	}
	if o.Results != nil {
		if err := saveValidation(ctx, o.Results, o.Database, rep); err != nil {
			return rep, err
		}
	}
	if !rep.Passed {
		return rep, fmt.Errorf("%w: %d of %d samples had a drift above %.1f%% (%.2f%%, more than %.2f%%)", ErrValidationFailed,
			rep.SamplesOverDrift, rep.TotalSamples, o.MaxDriftPercent, rep.DriftRatePercent, o.MaxOverallDriftPercent)
	}
	return rep, nil
}

func sample(ctx context.Context, o ValidateOptions, at time.Time) (Sample, error) {
	to := at.Add(-o.Settle)
	s := Sample{At: at, From: to.Add(-o.Window), To: to}
	for _, sig := range o.Signals {
		group := o.GroupBy
		if sig != Logs {
			group = "" // the namespace of spans and events is not indexed the same way on both sides
		}
		// The job compares whole stores: it reads as a platform admin.
		all := readmodel.Tenancy{All: true}
		q := readmodel.WindowCount{Signal: string(sig), From: s.From, To: s.To, GroupBy: group}
		osc, err := o.OpenSearch.CountWindow(ctx, all, q)
		if err != nil {
			return s, err
		}
		chc, err := o.Store.CountWindow(ctx, all, q)
		if err != nil {
			return s, err
		}
		osN, osG, chN, chG := osc.Total, osc.Groups, chc.Total, chc.Groups
		sd := SignalDrift{Signal: sig, OpenSearch: osN, ClickStack: chN, DriftPercent: drift(osN, chN)}
		if sd.DriftPercent > o.MaxDriftPercent {
			s.OverDrift = true
		}
		if group != "" {
			keys := map[string]bool{}
			for k := range osG {
				keys[k] = true
			}
			for k := range chG {
				keys[k] = true
			}
			for k := range keys {
				g := GroupDrift{Group: k, OpenSearch: osG[k], ClickStack: chG[k], DriftPercent: drift(osG[k], chG[k])}
				sd.Groups = append(sd.Groups, g)
				if g.DriftPercent > o.MaxDriftPercent {
					sd.GroupsOver = append(sd.GroupsOver, g)
					s.OverDrift = true
				}
			}
			sort.Slice(sd.GroupsOver, func(i, j int) bool { return sd.GroupsOver[i].Group < sd.GroupsOver[j].Group })
			sort.Slice(sd.Groups, func(i, j int) bool { return sd.Groups[i].Group < sd.Groups[j].Group })
		}
		s.Signals = append(s.Signals, sd)
	}
	return s, nil
}

// printSample prints one sample as the whitepaper's validation job does.
func printSample(w io.Writer, s Sample, max float64) {
	fmt.Fprintf(w, "[%s] Sampling data...\n", s.At.Format(time.RFC3339))
	for _, sd := range s.Signals {
		fmt.Fprintf(w, "  OpenSearch: %d %s\n", sd.OpenSearch, units[sd.Signal])
		fmt.Fprintf(w, "  ClickStack: %d %s\n", sd.ClickStack, units[sd.Signal])
		fmt.Fprintf(w, "  Drift: %.2f%%\n", sd.DriftPercent)
		for _, g := range sd.GroupsOver {
			name := g.Group
			if name == "" {
				name = "(none)"
			}
			fmt.Fprintf(w, "  ✗ %s: OpenSearch %d, ClickStack %d, drift %.2f%%\n", name, g.OpenSearch, g.ClickStack, g.DriftPercent)
		}
	}
	if s.OverDrift {
		fmt.Fprintf(w, "  ✗ Drift exceeds %.1f%%\n", max)
	} else {
		fmt.Fprintln(w, "  ✓ Within tolerance")
	}
}

// WriteJSON writes the report as indented JSON.
func (r *ValidationReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func saveValidation(ctx context.Context, st store.Store, db string, r *ValidationReport) error {
	if db == "" {
		db = "otel"
	}
	js, err := json.Marshal(r)
	if err != nil {
		return err
	}
	passed := "0"
	if r.Passed {
		passed = "1"
	}
	err = st.Exec(ctx, "INSERT INTO "+store.QuoteIdent(db)+".obsplane_validations (RunID, StartedAt, FinishedAt, Passed, Samples, SamplesOverDrift, DriftRatePercent, MaxDriftPercent, MaxOverallDriftPercent, Report) "+
		"SELECT {run:String}, {start:DateTime64(3)}, {end:DateTime64(3)}, {passed:UInt8}, {n:UInt32}, {over:UInt32}, {rate:Float64}, {max:Float64}, {overall:Float64}, {report:String}",
		store.Params{"run": r.RunID, "start": r.StartedAt.Format("2006-01-02 15:04:05.000"), "end": r.FinishedAt.Format("2006-01-02 15:04:05.000"),
			"passed": passed, "n": strconv.Itoa(r.TotalSamples), "over": strconv.Itoa(r.SamplesOverDrift),
			"rate": strconv.FormatFloat(r.DriftRatePercent, 'f', -1, 64), "max": strconv.FormatFloat(r.MaxDriftPercent, 'f', -1, 64),
			"overall": strconv.FormatFloat(r.MaxOverallDriftPercent, 'f', -1, 64), "report": string(js)})
	if err != nil {
		return fmt.Errorf("keep the validation result: %w", err)
	}
	return nil
}

// LastValidation is the newest stored validation result (nil when none),
// for the cutover check and the console.
func LastValidation(ctx context.Context, st store.Store, db string) (*ValidationReport, error) {
	if db == "" {
		db = "otel"
	}
	rows, err := store.ScanAll[struct {
		Report string `json:"Report"`
	}](ctx, st, "SELECT Report FROM "+store.QuoteIdent(db)+".obsplane_validations ORDER BY FinishedAt DESC LIMIT 1", nil)
	if err != nil {
		return nil, fmt.Errorf("read the last validation: %w", err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	var r ValidationReport
	if err := json.Unmarshal([]byte(rows[0].Report), &r); err != nil {
		return nil, fmt.Errorf("decode the last validation: %w", err)
	}
	return &r, nil
}
