package bench

import (
	"context"
	"testing"
	"time"

	"github.com/openchoreo/obsplane/internal/schema"
	"github.com/openchoreo/obsplane/internal/store/chdb"
	"github.com/openchoreo/obsplane/internal/store/chdb/chdbtest"
)

var st *chdb.Store

func TestMain(m *testing.M) { chdbtest.Main(m, &st) }

// The generators must produce rows the real tables accept, or every
// benchmark built on them measures an error.
func TestGeneratedRowsLoad(t *testing.T) {
	ctx := context.Background()
	if _, err := schema.Apply(ctx, st, schema.Options{Database: "otel"}); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := st.Insert(ctx, LogRows(1000, 1, start)); err != nil {
		t.Fatal(err)
	}
	b, ids := TraceRows(100, 1, start)
	if err := st.Insert(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := expectCount(ctx, st, "otel_logs", 1000); err != nil {
		t.Fatal(err)
	}
	if err := expectCount(ctx, st, "otel_traces", 900); err != nil {
		t.Fatal(err)
	}
	out, err := st.QueryBytes(ctx, "SELECT count() FROM otel.otel_traces WHERE TraceId = {t:String} AND ParentSpanId = ''", "TSV", map[string]string{"t": ids[7]})
	if err != nil || string(out) != "1\n" {
		t.Fatalf("root spans of one trace: %q %v", out, err)
	}
}
