package rehearsal

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// OSWant is what OpenSearch must hold of a source's records after a phase.
type OSWant int

const (
	// OSAll: every acknowledged record, once (dual write was on throughout).
	OSAll OSWant = iota
	// OSNone: nothing (cleanup archived and deleted the indices).
	OSNone
	// OSAny: not checked (shown only), e.g. live lines while cleanup
	// deletes the indices they land in.
	OSAny
)

// Row is one source's accounting in one phase.
type Row struct {
	Phase  string
	Source Source
	// Sent is what the client offered, Acked what it got acknowledged
	// (client side); Accepted is the gateway's accepted counter's growth
	// over the phase (-1: not a gateway source).
	Sent, Acked int
	Accepted    float64
	Store, OS   Tally
	OSWant      OSWant
	Time        time.Duration
	Note        string
	// Tag, when set, is the pod name the row's records carry (otherwise
	// the phase's tag for its source); Of names the earlier phase whose
	// records the row counts again (the rollback counts the cutover's
	// after its syncback).
	Tag, Of string
}

// label is the row's source column.
func (r Row) label() string {
	if r.Of != "" {
		return fmt.Sprintf("%s (%s's)", r.Source, r.Of)
	}
	return string(r.Source)
}

// StoreLost are acknowledged records the store lacks.
func (r Row) StoreLost() int { return max(0, r.Acked-r.Store.Distinct) }

// StoreDup are rows beyond one per record, and records nobody sent.
func (r Row) StoreDup() int { return r.Store.Rows - r.Store.Distinct + max(0, r.Store.Distinct-r.Sent) }

// OSLost are acknowledged records OpenSearch lacks where it must hold them,
// or documents it still holds where they must be gone.
func (r Row) OSLost() int {
	switch r.OSWant {
	case OSAll:
		return max(0, r.Acked-r.OS.Distinct)
	default:
		return 0
	}
}

// OSDup are documents beyond one per record (any phase: a second copy is
// never right), records nobody sent, and documents left where none may be.
func (r Row) OSDup() int {
	d := r.OS.Rows - r.OS.Distinct + max(0, r.OS.Distinct-r.Sent)
	if r.OSWant == OSNone {
		d += r.OS.Distinct
	}
	return d
}

// Lost and Dup add both stores up.
func (r Row) Lost() int { return r.StoreLost() + r.OSLost() }
func (r Row) Dup() int  { return r.StoreDup() + r.OSDup() }

// Unacked are records the client could not get acknowledged.
func (r Row) Unacked() int { return max(0, r.Sent-r.Acked) }

// Failed says why the row fails the rehearsal, or "".
func (r Row) Failed() string {
	var why []string
	if n := r.StoreLost(); n > 0 {
		why = append(why, fmt.Sprintf("%d lost in the store", n))
	}
	if n := r.StoreDup(); n > 0 {
		why = append(why, fmt.Sprintf("%d duplicated in the store", n))
	}
	if n := r.OSLost(); n > 0 {
		why = append(why, fmt.Sprintf("%d missing in OpenSearch", n))
	}
	if n := r.OSDup(); n > 0 {
		if r.OSWant == OSNone {
			why = append(why, fmt.Sprintf("%d extra in OpenSearch (must be deleted)", n))
		} else {
			why = append(why, fmt.Sprintf("%d duplicated in OpenSearch", n))
		}
	}
	if n := r.Unacked(); n > 0 {
		why = append(why, fmt.Sprintf("%d not acknowledged", n))
	}
	return strings.Join(why, ", ")
}

func tallyText(t Tally) string {
	if t.Rows == t.Distinct {
		return fmt.Sprint(t.Rows)
	}
	return fmt.Sprintf("%d (%d distinct)", t.Rows, t.Distinct)
}

func osText(r Row) string {
	s := tallyText(r.OS)
	switch r.OSWant {
	case OSNone:
		return s + " (want 0)"
	case OSAny:
		return s + " (not checked)"
	}
	return s
}

// GatewayNote compares the client's acknowledgements with the gateway's
// accepted counter, or "" when they agree (or the source is not live).
func (r Row) GatewayNote() string {
	if r.Accepted < 0 || int(r.Accepted) == r.Acked {
		return ""
	}
	return fmt.Sprintf("%s %s: the client counted %d acknowledged, the gateway's accepted counter grew by %.0f", r.Phase, r.Source, r.Acked, r.Accepted)
}

// PhaseResult is one phase: its rows, how long it took and the state the
// migration reached.
type PhaseResult struct {
	Name, Command string
	Time          time.Duration
	State         string
	Rows          []Row
	// Reads are the phase's dual reads (nil: none made); Lines more
	// findings printed under its table; Fail the ones that fail the run.
	Reads       *readResult
	Lines, Fail []string
}

// WriteTable prints rows as the rehearsal's table (Markdown, so the run's
// output can go into docs/MIGRATE.md as is).
func WriteTable(w io.Writer, phases []PhaseResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	fmt.Fprintln(tw, "| phase\t| source\t| sent\t| acked\t| in store\t| in OpenSearch\t| lost\t| duplicated\t| phase time\t| state after\t|")
	fmt.Fprintln(tw, "|---\t|---\t|---:\t|---:\t|---:\t|---:\t|---:\t|---:\t|---:\t|---\t|")
	for _, p := range phases {
		for i, r := range p.Rows {
			name, t, state := "", "", ""
			if i == 0 {
				name, t, state = p.Name, p.Time.Round(100*time.Millisecond).String(), p.State
			}
			fmt.Fprintf(tw, "| %s\t| %s\t| %d\t| %d\t| %s\t| %s\t| %d\t| %d\t| %s\t| %s\t|\n",
				name, r.label(), r.Sent, r.Acked, tallyText(r.Store), osText(r), r.Lost(), r.Dup(), t, state)
		}
	}
	tw.Flush()
}
