package migrate

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/openchoreo/obsplane/internal/opensearch"
	"github.com/openchoreo/obsplane/internal/readmodel"
	"github.com/openchoreo/obsplane/internal/readmodel/clickhouse"
	"github.com/openchoreo/obsplane/internal/store"
)

// DayCount compares one signal's day: the _count of the run's indices named
// for that day, the documents of them that were rejected or skipped, and
// the store's rows of the signal whose time falls on that day.
type DayCount struct {
	Signal     Signal
	Day        time.Time
	Indices    []string
	OpenSearch int64
	// Rejected documents are in OpenSearch's count and, by design, not in
	// the store (they are in obsplane_backfill_rejected).
	Rejected int64
	Store    int64
}

// Expected is the store count the day should have.
func (d DayCount) Expected() int64 { return d.OpenSearch - d.Rejected }

// Difference is the store's count minus the expected one.
func (d DayCount) Difference() int64 { return d.Store - d.Expected() }

// compareCounts counts both sides per signal and day for the units. The
// store side counts the signal's rows by their own time; documents obsplane
// wrote itself (skipped by the backfill) are in both counts, their rows
// having come through the gateway.
func compareCounts(ctx context.Context, osc *opensearch.Client, st store.Store, db string, units []unit, ro opensearch.RetryOptions) ([]DayCount, map[string]int64, error) {
	type key struct {
		s Signal
		d time.Time
	}
	byKey := map[key]*DayCount{}
	var keys []key
	var names []string
	for _, u := range units {
		k := key{u.signal, u.day}
		dc := byKey[k]
		if dc == nil {
			dc = &DayCount{Signal: u.signal, Day: u.day}
			byKey[k] = dc
			keys = append(keys, k)
		}
		n, err := osc.Count(ctx, []string{u.index}, nil, ro)
		if err != nil {
			return nil, nil, err
		}
		dc.Indices = append(dc.Indices, u.index)
		dc.OpenSearch += n
		names = append(names, u.index)
	}
	// Rejected documents per index (whose day is the index's).
	type rej struct {
		Index  string `json:"IndexName"`
		Reason string `json:"Reason"`
		N      int64  `json:"n"`
	}
	rows, err := store.ScanAll[rej](ctx, st, "SELECT IndexName, Reason, count() AS n FROM "+store.QuoteIdent(db)+
		".obsplane_backfill_rejected FINAL WHERE IndexName IN {idx:Array(String)} GROUP BY IndexName, Reason", store.Params{"idx": arrayParam(names)})
	if err != nil {
		return nil, nil, fmt.Errorf("count rejected documents: %w", err)
	}
	reasons := map[string]int64{}
	for _, r := range rows {
		reasons[r.Reason] += r.N
		for _, u := range units {
			if u.index == r.Index {
				byKey[key{u.signal, u.day}].Rejected += r.N
			}
		}
	}
	// The store's rows per signal and day, through its read model.
	counts, err := clickhouse.New(st, db, clickhouse.Limits{})
	if err != nil {
		return nil, nil, err
	}
	for _, k := range keys {
		c, err := counts.CountWindow(ctx, readmodel.Tenancy{All: true}, readmodel.WindowCount{Signal: string(k.s), From: k.d, To: k.d.AddDate(0, 0, 1)})
		if err != nil {
			return nil, nil, fmt.Errorf("count %s of %s in the store: %w", k.s, k.d.Format(time.DateOnly), err)
		}
		byKey[k].Store = c.Total
	}
	sort.Slice(keys, func(i, j int) bool {
		if !keys[i].d.Equal(keys[j].d) {
			return keys[i].d.Before(keys[j].d)
		}
		return keys[i].s < keys[j].s
	})
	out := make([]DayCount, 0, len(keys))
	for _, k := range keys {
		out = append(out, *byKey[k])
	}
	return out, reasons, nil
}

// chTime is t as a DateTime64(9) parameter.
func chTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000000000") }

// WriteReport prints the result: per index what was read and written, the
// count comparison per signal and day, and the rejected documents by
// reason.
func (r *BackfillResult) WriteReport(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "\nbackfill %s: %d documents read in %s this run", r.RunID, r.Read, r.Elapsed.Truncate(time.Millisecond))
	if r.Elapsed > 0 {
		fmt.Fprintf(tw, " (%.0f docs/s)", float64(r.Read)/r.Elapsed.Seconds())
	}
	if r.PITReopened > 0 {
		fmt.Fprintf(tw, "; %d expired Point-in-Time(s) reopened", r.PITReopened)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "\nINDEX\tSIGNAL\tSLICES\tREAD\tINSERTED\tREJECTED\tSKIPPED (obsplane's own)")
	for _, ir := range r.Indices {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\n", ir.Index, ir.Signal, ir.Slices, ir.Read, ir.Inserted, ir.Rejected, ir.Skipped)
	}
	fmt.Fprintln(tw, "\nSIGNAL\tDAY\tINDICES\tOPENSEARCH _count\tREJECTED\tEXPECTED\tSTORE\tDIFFERENCE")
	for _, c := range r.Counts {
		idx := strings.Join(c.Indices, ",")
		if idx == "" {
			idx = "-"
		}
		mark := ""
		if c.Difference() != 0 {
			mark = "  <-- differs"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%+d%s\n", c.Signal, c.Day.Format(time.DateOnly), idx, c.OpenSearch, c.Rejected, c.Expected(), c.Store, c.Difference(), mark)
	}
	if len(r.Rejected) > 0 {
		fmt.Fprintln(tw, "\nREJECTED REASON\tDOCUMENTS\t(SELECT * FROM obsplane_backfill_rejected FINAL WHERE Reason = '...')")
		reasons := make([]string, 0, len(r.Rejected))
		for k := range r.Rejected {
			reasons = append(reasons, k)
		}
		sort.Strings(reasons)
		for _, k := range reasons {
			fmt.Fprintf(tw, "%s\t%d\t\n", k, r.Rejected[k])
		}
	} else {
		fmt.Fprintln(tw, "\nno document was rejected")
	}
	_ = tw.Flush()
}
