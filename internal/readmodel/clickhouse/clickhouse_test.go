package clickhouse

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openchoreo/obsplane/internal/loglevel"
	"github.com/openchoreo/obsplane/internal/opensearch"
	"github.com/openchoreo/obsplane/internal/readmodel"
	"github.com/openchoreo/obsplane/internal/schema"
	"github.com/openchoreo/obsplane/internal/store"
	"github.com/openchoreo/obsplane/internal/store/chdb"
	"github.com/openchoreo/obsplane/internal/store/chdb/chdbtest"
)

var st *chdb.Store

func TestMain(m *testing.M) { chdbtest.Main(m, &st) }

// TestLevelSQLMatchesLoglevel runs the generated level SQL in the engine
// over every alias of package loglevel in several spellings, blank and
// unknown texts, non-ASCII look-alikes and every severity number, and finds
// it agrees with loglevel.FromSeverity on each.
func TestLevelSQLMatchesLoglevel(t *testing.T) {
	texts := []string{"", " ", "\t", " \n", "banana", "ſevere", "ınfo", "WARNİNG", "error!", "e r r o r"}
	for _, a := range loglevel.Aliases {
		for _, n := range a.Names {
			texts = append(texts, n, strings.ToLower(n), " "+n+"\t", strings.ToUpper(n[:1])+strings.ToLower(n[1:]))
		}
	}
	type row struct {
		num  int
		text string
	}
	var rows []row
	for _, tx := range texts {
		rows = append(rows, row{0, tx})
	}
	for n := 0; n <= 24; n++ {
		rows = append(rows, row{n, "banana"}, row{n, ""})
	}
	s := store.NewStmt("otel", nil)
	var sel []string
	for i, r := range rows {
		np, _ := s.Bind("n"+strconv.Itoa(i), "UInt8", r.num)
		tp, _ := s.Bind("t"+strconv.Itoa(i), "String", r.text)
		sel = append(sel, fmt.Sprintf("SELECT %d AS i, toUInt8(%s) AS SeverityNumber, %s AS SeverityText", i, np, tp))
	}
	sql := "SELECT i, " + levelSQL + " AS level FROM (" + strings.Join(sel, " UNION ALL ") + ") ORDER BY i"
	got, err := store.ScanAll[struct {
		I     int    `json:"i"`
		Level string `json:"level"`
	}](context.Background(), st, sql, s.Params)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(rows) {
		t.Fatalf("%d rows back, want %d", len(got), len(rows))
	}
	for _, g := range got {
		r := rows[g.I]
		if want := loglevel.FromSeverity(r.num, r.text); g.Level != want {
			t.Errorf("severity %d %q: SQL says %q, loglevel %q", r.num, r.text, g.Level, want)
		}
	}
}

// TestReadsTheConfiguredDatabase: every statement names the database the
// backend was built with; a read of another database's rows finds none.
func TestReadsTheConfiguredDatabase(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2004, 5, 6, 7, 8, 9, 0, time.UTC)
	for _, db := range []string{"rm_one", "rm_two"} {
		if _, err := schema.Apply(ctx, st, schema.Options{Database: db}); err != nil {
			t.Fatal(err)
		}
		rec := opensearch.LogRecord{Timestamp: at, Body: "line of " + db, ResourceAttributes: map[string]string{"openchoreo.namespace": "ns"}}
		if err := st.Insert(ctx, opensearch.LogsBatch(db, []opensearch.LogRecord{rec})); err != nil {
			t.Fatal(err)
		}
	}
	for _, db := range []string{"rm_one", "rm_two"} {
		b, err := New(st, db, DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		page, err := b.TailLogs(ctx, readmodel.Tenancy{Namespaces: []string{"ns"}},
			readmodel.LogFilter{Window: readmodel.Window{Since: at.Add(-time.Hour), Until: at.Add(time.Hour)}, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Lines) != 1 || page.Lines[0].Body != "line of "+db {
			t.Errorf("%s: %+v", db, page.Lines)
		}
	}
	if _, err := New(st, "otel; DROP TABLE x", DefaultLimits); err == nil {
		t.Error("a database name that is not an identifier was accepted")
	}
}
