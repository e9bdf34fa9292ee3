package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/openchoreo/obsplane/internal/store"
	"github.com/openchoreo/obsplane/internal/store/chdb"
)

// InsertResult holds the insert benchmark's figures.
type InsertResult struct {
	Rows, BatchRows    int
	Binding            time.Duration // store.Insert (Native via spool file)
	BindingConcurrent  time.Duration // the same, two batches at a time (the write pool's size)
	JSONInline         time.Duration // JSONEachRow inline with the statement
	JSONInlineRows     int
	JSONFile           time.Duration // JSONEachRow read by the engine with file()
	EngineInsertSelect time.Duration // INSERT ... SELECT of the same rows
	OpenSearchBulk     time.Duration // _bulk of the same rows, when OpenSearch is reachable
	OpenSearchBulkRows int
	OpenSearchNote     string
	EngineVersion      string
}

func rate(n int, d time.Duration) float64 { return float64(n) / d.Seconds() }

// Insert measures the embedded store's bulk insert against the engine's own
// INSERT ... SELECT of the same rows, plus the alternatives the binding
// could have used, in one run. st must be an embedded store with the otel
// schema applied.
func Insert(ctx context.Context, st *chdb.Store, rows, batchRows int, progress func(string)) (*InsertResult, error) {
	res := &InsertResult{Rows: rows, BatchRows: batchRows, EngineVersion: st.Version}
	for _, t := range []string{"otel_logs", "bench_copy", "bench_json_inline", "bench_json_file"} {
		if t != "otel_logs" {
			if err := st.Exec(ctx, "CREATE TABLE IF NOT EXISTS otel."+t+" AS otel.otel_logs", nil); err != nil {
				return nil, fmt.Errorf("create %s: %w", t, err)
			}
		}
		if err := st.Exec(ctx, "TRUNCATE TABLE otel."+t, nil); err != nil {
			return nil, fmt.Errorf("truncate %s: %w", t, err)
		}
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	batches := make([]*store.Batch, 0, rows/batchRows+1)
	for done := 0; done < rows; done += batchRows {
		n := min(batchRows, rows-done)
		batches = append(batches, LogRows(n, uint64(done), start.Add(time.Duration(done)*time.Millisecond)))
	}

	progress(fmt.Sprintf("binding: %d rows in batches of %d", rows, batchRows))
	t0 := time.Now()
	for _, b := range batches {
		if err := st.Insert(ctx, b); err != nil {
			return nil, err
		}
	}
	res.Binding = time.Since(t0)
	if err := expectCount(ctx, st, "otel_logs", rows); err != nil {
		return nil, err
	}

	progress("binding: the same rows again, two batches at a time")
	if err := st.Exec(ctx, "TRUNCATE TABLE otel.otel_logs", nil); err != nil {
		return nil, err
	}
	t0 = time.Now()
	if err := insertConcurrently(ctx, st, batches, 2); err != nil {
		return nil, err
	}
	res.BindingConcurrent = time.Since(t0)
	if err := expectCount(ctx, st, "otel_logs", rows); err != nil {
		return nil, err
	}

	progress("engine: INSERT ... SELECT of the same rows")
	t0 = time.Now()
	if err := st.Exec(ctx, "INSERT INTO otel.bench_copy SELECT * FROM otel.otel_logs", nil); err != nil {
		return nil, err
	}
	res.EngineInsertSelect = time.Since(t0)
	if err := expectCount(ctx, st, "bench_copy", rows); err != nil {
		return nil, err
	}

	// The alternatives, on the first batch only (they are the slow ones).
	first := batches[0]
	js, err := jsonEachRow(first)
	if err != nil {
		return nil, err
	}
	res.JSONInlineRows = first.Rows
	progress(fmt.Sprintf("alternative: JSONEachRow inline, %d rows", first.Rows))
	t0 = time.Now()
	if err := st.Exec(ctx, "INSERT INTO otel.bench_json_inline FORMAT JSONEachRow\n"+string(js), nil); err != nil {
		return nil, fmt.Errorf("json inline: %w", err)
	}
	res.JSONInline = time.Since(t0)
	progress(fmt.Sprintf("alternative: JSONEachRow via file(), %d rows", first.Rows))
	f := filepath.Join(st.Dir(), "spool", "bench.jsonl")
	t0 = time.Now()
	if err := os.WriteFile(f, js, 0o600); err != nil {
		return nil, err
	}
	if err := st.Exec(ctx, "INSERT INTO otel.bench_json_file SELECT * FROM file({p:String}, 'JSONEachRow')", store.Params{"p": f}); err != nil {
		return nil, fmt.Errorf("json file: %w", err)
	}
	res.JSONFile = time.Since(t0)
	os.Remove(f)
	return res, nil
}

func insertConcurrently(ctx context.Context, st store.Store, batches []*store.Batch, workers int) error {
	next := make(chan *store.Batch)
	errs := make(chan error, workers)
	for range workers {
		go func() {
			for b := range next {
				if err := st.Insert(ctx, b); err != nil {
					errs <- err
					for range next {
					}
					return
				}
			}
			errs <- nil
		}()
	}
	for _, b := range batches {
		next <- b
	}
	close(next)
	var first error
	for range workers {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

func expectCount(ctx context.Context, st store.Store, table string, want int) error {
	rows, err := st.Query(ctx, "SELECT count() AS n FROM otel."+table, nil)
	if err != nil {
		return err
	}
	defer rows.Close()
	var r struct{ N int }
	for rows.Next() {
		if err := rows.Scan(&r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if r.N != want {
		return fmt.Errorf("%s has %d rows, want %d", table, r.N, want)
	}
	return nil
}

// jsonEachRow renders a batch as JSONEachRow (times as nanosecond strings).
func jsonEachRow(b *store.Batch) ([]byte, error) {
	var buf bytes.Buffer
	vals := make([]reflect.Value, len(b.Columns))
	for i, c := range b.Columns {
		vals[i] = reflect.ValueOf(c.Values)
	}
	row := make(map[string]any, len(b.Columns))
	enc := json.NewEncoder(&buf)
	for r := 0; r < b.Rows; r++ {
		for i, c := range b.Columns {
			v := vals[i].Index(r).Interface()
			if t, ok := v.(time.Time); ok {
				v = t.UTC().Format("2006-01-02 15:04:05.000000000")
			}
			row[c.Name] = v
		}
		if err := enc.Encode(row); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}

// Markdown renders the insert section of docs/BENCHMARKS.md.
func (r *InsertResult) Markdown(cmd string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Insert path (embedded store)\n\n")
	fmt.Fprintf(&b, "Measured %s on engine %s (%s), %d otel_logs rows in batches of %d, the schema's full index set. Reproduce: `%s`.\n\n",
		time.Now().UTC().Format("2006-01-02"), r.EngineVersion, Machine(), r.Rows, r.BatchRows, cmd)
	fmt.Fprintf(&b, "| path | rows | seconds | rows/s | vs engine INSERT ... SELECT |\n|---|---:|---:|---:|---:|\n")
	eng := rate(r.Rows, r.EngineInsertSelect)
	line := func(name string, n int, d time.Duration) {
		fmt.Fprintf(&b, "| %s | %d | %.3f | %.0f | %.2fx |\n", name, n, d.Seconds(), rate(n, d), rate(n, d)/eng)
	}
	line("engine's own `INSERT ... SELECT` (baseline)", r.Rows, r.EngineInsertSelect)
	line("**store.Insert: Native block, spool file (used)**", r.Rows, r.Binding)
	line("store.Insert, two batches at a time", r.Rows, r.BindingConcurrent)
	line("JSONEachRow via `file()`", r.JSONInlineRows, r.JSONFile)
	line("JSONEachRow inline in the statement", r.JSONInlineRows, r.JSONInline)
	if r.OpenSearchBulkRows > 0 {
		line("OpenSearch `_bulk` of the same rows", r.OpenSearchBulkRows, r.OpenSearchBulk)
	} else if r.OpenSearchNote != "" {
		fmt.Fprintf(&b, "\nOpenSearch: %s\n", r.OpenSearchNote)
	}
	fmt.Fprintf(&b, "\nGoal (issue: foundation): store.Insert at least 0.5x the engine's own rate: **%.2fx**.\n", rate(r.Rows, r.Binding)/eng)
	return b.String()
}
