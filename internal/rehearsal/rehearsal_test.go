package rehearsal

import (
	"bytes"
	"strings"
	"testing"
)

// The accounting is what fails a rehearsal: each way a record can go wrong
// must show as lost or duplicated, and a clean row as neither.
func TestRowAccounting(t *testing.T) {
	cases := []struct {
		name      string
		row       Row
		lost, dup int
		failsWith string
		passes    bool
	}{
		{name: "clean", row: Row{Sent: 100, Acked: 100, Store: Tally{100, 100}, OS: Tally{100, 100}, OSWant: OSAll}, passes: true},
		{name: "missing in the store", row: Row{Sent: 100, Acked: 100, Store: Tally{97, 97}, OS: Tally{100, 100}, OSWant: OSAll}, lost: 3, failsWith: "3 lost in the store"},
		{name: "a row twice in the store", row: Row{Sent: 100, Acked: 100, Store: Tally{101, 100}, OS: Tally{100, 100}, OSWant: OSAll}, dup: 1, failsWith: "1 duplicated in the store"},
		{name: "records nobody sent", row: Row{Sent: 100, Acked: 100, Store: Tally{102, 102}, OS: Tally{100, 100}, OSWant: OSAll}, dup: 2, failsWith: "2 duplicated in the store"},
		{name: "dual write dropped some", row: Row{Sent: 100, Acked: 100, Store: Tally{100, 100}, OS: Tally{90, 90}, OSWant: OSAll}, lost: 10, failsWith: "10 missing in OpenSearch"},
		{name: "syncback wrote a second copy", row: Row{Sent: 100, Acked: 100, Store: Tally{100, 100}, OS: Tally{104, 100}, OSWant: OSAll}, dup: 4, failsWith: "4 duplicated in OpenSearch"},
		{name: "dual write off, nothing in OpenSearch", row: Row{Sent: 100, Acked: 100, Store: Tally{100, 100}, OSWant: OSNone}, passes: true},
		{name: "dual write off yet documents arrived", row: Row{Sent: 100, Acked: 100, Store: Tally{100, 100}, OS: Tally{5, 5}, OSWant: OSNone}, dup: 5, failsWith: "5 extra in OpenSearch"},
		{name: "not checked", row: Row{Sent: 100, Acked: 100, Store: Tally{100, 100}, OS: Tally{3, 3}, OSWant: OSAny}, passes: true},
		{name: "unacknowledged", row: Row{Sent: 100, Acked: 98, Store: Tally{98, 98}, OS: Tally{98, 98}, OSWant: OSAll}, failsWith: "2 not acknowledged"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.row.Lost(); got != c.lost {
				t.Errorf("Lost = %d, want %d", got, c.lost)
			}
			if got := c.row.Dup(); got != c.dup {
				t.Errorf("Dup = %d, want %d", got, c.dup)
			}
			why := c.row.Failed()
			if c.passes && why != "" {
				t.Errorf("Failed = %q, want a pass", why)
			}
			if !c.passes && !strings.Contains(why, c.failsWith) {
				t.Errorf("Failed = %q, want it to say %q", why, c.failsWith)
			}
		})
	}
}

func TestParseAccepted(t *testing.T) {
	text := `# TYPE otelcol_receiver_accepted_log_records counter
otelcol_receiver_accepted_log_records{receiver="otlp",transport="grpc"} 200
otelcol_receiver_accepted_log_records{receiver="otlp",transport="http"} 5
otelcol_receiver_accepted_log_records{receiver="fluentforward",transport="tcp"} 150
# TYPE otelcol_receiver_accepted_spans counter
otelcol_receiver_accepted_spans{receiver="otlp",transport="grpc"} 400
# TYPE otelcol_processor_memory_limiter_accepted_log_records counter
otelcol_processor_memory_limiter_accepted_log_records{processor="memory_limiter"} 355
`
	got, err := parseAccepted(text)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"logs/otlp": 205, "logs/fluentforward": 150, "traces/otlp": 400}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}

// A phase whose command the binary lacks is named before anything starts.
func TestMissingCommands(t *testing.T) {
	have := map[string]bool{"backfill": true, "validate": true, "syncback": true}
	miss := missingCommands(have, Phases())
	joined := strings.Join(miss, ",")
	for _, c := range []string{"shadow-write", "cutover", "rollback", "complete", "cleanup", "status"} {
		if !strings.Contains(joined, "obsplane migrate "+c) {
			t.Errorf("missing %v does not name %s", miss, c)
		}
	}
	if strings.Contains(joined, "backfill") || strings.Contains(joined, "validate") {
		t.Errorf("missing %v names a command the binary has", miss)
	}
	// Each missing command is named once.
	seen := map[string]bool{}
	for _, m := range miss {
		if seen[m] {
			t.Errorf("%s named twice", m)
		}
		seen[m] = true
	}
	all := map[string]bool{}
	for _, p := range Phases() {
		for _, c := range p.Commands {
			all[c] = true
		}
	}
	if m := missingCommands(all, Phases()); len(m) != 0 {
		t.Errorf("nothing is missing, got %v", m)
	}
}

func TestSelectPhases(t *testing.T) {
	ps, err := selectPhases(Phases(), "validate")
	if err != nil {
		t.Fatal(err)
	}
	if ps[len(ps)-1].Name != "validate" || ps[0].Name != "baseline" {
		t.Errorf("phases up to validate: %v .. %v", ps[0].Name, ps[len(ps)-1].Name)
	}
	if _, err := selectPhases(Phases(), "cutover-thrice"); err == nil || !strings.Contains(err.Error(), "cutover-again") {
		t.Errorf("unknown phase: %v, want an error listing the phases", err)
	}
}

func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	WriteTable(&b, []PhaseResult{{Name: "rollback", State: "DualWrite", Rows: []Row{
		{Source: OTLPLogs, Sent: 10, Acked: 10, Store: Tally{10, 10}, OS: Tally{11, 10}, OSWant: OSAll},
	}}})
	out := b.String()
	for _, s := range []string{"| rollback", "logs/otlp", "11 (10 distinct)", "DualWrite"} {
		if !strings.Contains(out, s) {
			t.Errorf("table lacks %q:\n%s", s, out)
		}
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Errorf("want header, rule and one row, got %d lines:\n%s", len(lines), out)
	}
}
