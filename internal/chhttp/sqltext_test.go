package chhttp

import (
	"reflect"
	"testing"
)

func TestParseAssigns(t *testing.T) {
	for _, tc := range []struct {
		text string
		want []assign
	}{
		{"SET a = 1, b = 'x''y', c = -1.5e-3, d = [1, 2], e = {'k': 'v'}, f = (1, 'a'), g = true, h = 0x1F, i = - inf",
			[]assign{{"a", "1"}, {"b", "'x''y'"}, {"c", "-1.5e-3"}, {"d", "[1, 2]"}, {"e", "{'k': 'v'}"}, {"f", "(1, 'a')"}, {"g", "true"}, {"h", "0x1F"}, {"i", "-inf"}}},
		{"set a = /* c */ 2 ;", []assign{{"a", "2"}}},
		{"SET a = (SELECT 1)", nil},
		{"SET a = b", nil},
		{"SET a = 1 b = 2", nil},
		{"SET ROLE r", nil},
		{"SET a = 1; DROP TABLE t", nil},
	} {
		got, ok := parseSet(tc.text)
		if ok != (tc.want != nil) || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseSet(%q) = %v %v, want %v", tc.text, got, ok, tc.want)
		}
	}
	for _, tc := range []struct {
		text string
		want []assign
	}{
		{"SELECT 1 SETTINGS a = 1, b = 'x' FORMAT JSON", []assign{{"a", "1"}, {"b", "'x'"}}},
		{"WITH p AS (SELECT 1 SETTINGS a = 2) SELECT * FROM p SETTINGS b = 3", []assign{{"a", "2"}, {"b", "3"}}},
		{"SELECT 1 SETTINGS a = now()", nil},
		{"SELECT settings FROM t", nil},
		{"SELECT 'SETTINGS a = 1'", nil},
	} {
		if got := settingsClauses(tc.text); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("settingsClauses(%q) = %v, want %v", tc.text, got, tc.want)
		}
	}
}

func TestNamesFile(t *testing.T) {
	for text, want := range map[string]bool{
		"SELECT file('/x')":                    true,
		"SELECT `fi\\x6ce`('/x')":              true,
		"SELECT \"FILE\"('/x')":                true,
		"SELECT * APPLY(file) FROM t":          true,
		"SELECT 'file', $$file$$ -- file":      false,
		"SELECT filename, profile FROM t":      false,
		"SELECT hasToken(Body, 'file') FROM t": false,
	} {
		if got := namesFile(text, 0); got != want {
			t.Errorf("namesFile(%q) = %v", text, got)
		}
	}
	if !namesFile("{'t': 'file(''/x'') = 1'}", 2) || namesFile("{'t': 'file(''/x'') = 1'}", 0) {
		t.Error("nested strings")
	}
	if got := identifierParams("SELECT {a:Identifier}, { b : identifier }, {c:String} FROM {d:Identifier}"); !reflect.DeepEqual(got, []string{"a", "b", "d"}) {
		t.Errorf("identifierParams: %v", got)
	}
}
