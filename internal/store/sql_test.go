package store

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// TestStmtBinds: a template writes placeholders, the values go to Params as
// text, a name bound twice must keep its value, and a missing key is an
// error rather than an empty string in the SQL.
func TestStmtBinds(t *testing.T) {
	tm := MustTemplates(fstest.MapFS{"q.sql": {Data: []byte(
		`{{define "q"}}SELECT 1 FROM {{.DB}}.t WHERE a = {{.Bind "a" "String" .Q.A}} AND b IN ({{.BindList "b" "UInt64" .Q.B}})` +
			` AND t > {{.Bind "t" "DateTime64(9, 'UTC')" .Q.T}} AND a2 = {{.Bind "a" "String" .Q.A}}{{end}}` +
			`{{define "clash"}}{{.Bind "a" "String" "x"}}{{.Bind "a" "String" "y"}}{{end}}` +
			`{{define "missing"}}{{.With.Nope}}{{end}}`)}}, "*.sql", nil)
	q := struct {
		A string
		B []string
		T time.Time
	}{`it's\`, []string{"1", "2"}, time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)}
	s := NewStmt("db1", q)
	sql, err := tm.Render("q", s)
	if err != nil {
		t.Fatal(err)
	}
	want := "SELECT 1 FROM db1.t WHERE a = {a:String} AND b IN ({b0:UInt64}, {b1:UInt64}) AND t > {t:DateTime64(9, 'UTC')} AND a2 = {a:String}"
	if sql != want {
		t.Errorf("sql:\n%s\nwant\n%s", sql, want)
	}
	if s.Params["a"] != `it's\` || s.Params["b1"] != "2" || s.Params["t"] != "2026-01-02 03:04:05.000000006" {
		t.Errorf("params %v", s.Params)
	}
	if _, err := tm.Render("clash", NewStmt("db", nil)); err == nil || !strings.Contains(err.Error(), "bound twice") {
		t.Errorf("clash: %v", err)
	}
	if _, err := tm.Render("missing", NewStmt("db", nil)); err == nil {
		t.Error("a missing key rendered")
	}
}
