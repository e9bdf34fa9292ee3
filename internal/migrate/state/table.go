package state

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteTable prints s for a person: the phase and switches, backfill per
// index, the last validation and the newest audit rows.
func WriteTable(w io.Writer, s Status, audit int) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	since := "-"
	if !s.Since.IsZero() {
		since = s.Since.UTC().Format(time.RFC3339)
	}
	pending := "none"
	if p := s.Pending; p != nil {
		pending = fmt.Sprintf("%s -> %s (seq %d, started %s by %s: %s); the next move to %s continues it, any other rolls it back",
			p.From, p.To, p.Seq, p.At.UTC().Format(time.RFC3339), p.Actor, p.Reason, p.To)
	}
	primary := "OpenSearch"
	if s.ClickStackPrimary {
		primary = "ClickHouse"
	}
	fmt.Fprintf(tw, "PHASE\t%s\n", s.Phase)
	fmt.Fprintf(tw, "SINCE\t%s\n", since)
	fmt.Fprintf(tw, "PENDING\t%s\n", pending)
	fmt.Fprintf(tw, "ROLLOUT (use_clickhouse)\t%d%%\n", s.RolloutPercent)
	fmt.Fprintf(tw, "SHADOW WRITE\t%s\n", onOff(s.ShadowWrite))
	fmt.Fprintf(tw, "PRIMARY\t%s\n", primary)
	last := "none"
	if len(s.Validations) > 0 {
		v := s.Validations[0]
		res := "FAILED"
		if v.Passed {
			res = "passed"
		}
		last = fmt.Sprintf("%s at %s (run %s): %d samples, %.2f%% over the threshold, largest drift %.2f%%", res, v.At.UTC().Format(time.RFC3339), v.RunID, v.Samples, v.DriftRatePercent, v.DriftPercent)
	}
	fmt.Fprintf(tw, "LAST VALIDATION\t%s\n", last)
	if len(s.Validations) > 0 && len(s.Validations[0].PerNamespace) > 0 {
		ns := make([]string, 0, len(s.Validations[0].PerNamespace))
		for k := range s.Validations[0].PerNamespace {
			ns = append(ns, k)
		}
		sort.Strings(ns)
		var parts []string
		for _, k := range ns {
			parts = append(parts, fmt.Sprintf("%s %.2f%%", k, s.Validations[0].PerNamespace[k]))
		}
		fmt.Fprintf(tw, "DRIFT PER NAMESPACE\t%s\n", strings.Join(parts, ", "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(w, "\nBACKFILL")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INDEX\tSIGNAL\tDOCS DONE\tDOCS\tDONE")
	if len(s.Backfill) == 0 {
		fmt.Fprintln(tw, "(none)\t\t\t\t")
	}
	for _, b := range s.Backfill {
		docs := "?"
		if b.Docs > 0 {
			docs = fmt.Sprint(b.Docs)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", b.Index, b.Signal, b.DocsDone, docs, yesNo(b.Done))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintf(w, "\nAUDIT (newest %d)\n", audit)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tAT\tFROM\tTO\tSTATUS\tACTOR\tREASON\tOUTCOME")
	for i, t := range s.Transitions {
		if i == audit {
			break
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.Seq, t.At.UTC().Format(time.RFC3339), t.From, t.To, t.Status, t.Actor, t.Reason, t.Outcome)
	}
	return tw.Flush()
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
