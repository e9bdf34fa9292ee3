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

// TestOf: the severity number wins, then the severity text (aliases of
// every spelling, an unknown text being INFO), then the body, then INFO.
func TestOf(t *testing.T) {
	for _, tc := range []struct {
		num        int
		text, body string
		want       string
	}{
		{17, "", "DEBUG line", "ERROR"},
		{21, "info", "", "FATAL"},
		{0, "WRN", "ERROR in body", "WARN"},
		{0, " dbg\t", "", "DEBUG"},
		{0, "EROR", "", "ERROR"},
		{0, "Ftl", "", "FATAL"},
		{0, "banana", "ERROR in body", "INFO"},
		{0, "  ", "level=warn x", "WARN"},
		{0, "", "nothing", "INFO"},
		{0, "ſevere", "", "INFO"}, // only ASCII folds, as in SQL
	} {
		if got := Of(tc.num, tc.text, tc.body); got != tc.want {
			t.Errorf("Of(%d, %q, %q) = %q, want %q", tc.num, tc.text, tc.body, got, tc.want)
		}
	}
}
