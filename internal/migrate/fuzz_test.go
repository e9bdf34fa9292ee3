package migrate_test

import (
	"testing"
	"time"

	"github.com/openchoreo/obsplane/internal/migrate"
)

// The command-line parsers never panic and either fail or give a UTC time.

func FuzzParseDay(f *testing.F) {
	for _, s := range []string{"2025-08-01", "2025-13-01", "", "2025-8-1", "9999-12-31"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := migrate.ParseDay("start", s)
		if err == nil && (d.Location() != time.UTC || !d.Equal(d.Truncate(24*time.Hour))) {
			t.Fatalf("ParseDay(%q) = %v, not a UTC day", s, d)
		}
	})
}

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"24h", "2025-08-01", "2025-08-01T10:00:00Z", "2025-08-01T10:00:00+02:00", "-1h", "0s", "yesterday"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ts, err := migrate.ParseTime("since", s)
		if err == nil && ts.Location() != time.UTC {
			t.Fatalf("ParseTime(%q) = %v, not UTC", s, ts)
		}
	})
}

func FuzzParseSignals(f *testing.F) {
	for _, s := range []string{"logs,traces,events", "logs", "LOGS, traces", ",", "metrics"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sigs, err := migrate.ParseSignals(s)
		if err == nil && len(sigs) == 0 {
			t.Fatalf("ParseSignals(%q) gave no signal and no error", s)
		}
		for _, sig := range sigs {
			if sig != migrate.Logs && sig != migrate.Traces && sig != migrate.Events {
				t.Fatalf("ParseSignals(%q) gave %q", s, sig)
			}
		}
	})
}
