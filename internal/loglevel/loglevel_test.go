package loglevel

import (
	"strings"
	"testing"
)

func TestFromText(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{`{"level":"warn","msg":"slow"}`, "WARN"},
		{`ts=1 lvl=dbug msg=x`, "DEBUG"},
		{`level=banana connection refused ERROR`, "INFO"}, // declared wins, unknown is INFO
		{`E0501 12:34:56.789 1 main.go:1] boom`, "ERROR"},
		{`2026-01-01 WARNING disk almost full`, "WARN"},
		{`error="<nil>" request served`, ""}, // a key, not a level
		{`Exception: SEVERE failure`, "SEVERE"},
		{`nothing to see`, ""},
		{strings.Repeat("x", 70<<10) + " ERROR", ""}, // past the scan bound
	} {
		if got := FromText(tc.line); got != tc.want {
			t.Errorf("%.60q: got %q, want %q", tc.line, got, tc.want)
		}
	}
}
