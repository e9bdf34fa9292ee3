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

	"github.com/openchoreo/obsplane/internal/opensearch"
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
	OpenSearchBulk     time.Duration // _bulk of the same rows until searchable, when OpenSearch is reachable
	OpenSearchBulkRows int
	OpenSearchWorkers  int
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
	if err := freshLogTables(ctx, st, "bench_copy", "bench_json_inline", "bench_json_file"); err != nil {
		return nil, err
	}
	batches := NewWorkload(rows, 0).LogBatches(batchRows)

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

	var err error
	if res.EngineInsertSelect, err = engineCopy(ctx, st, progress); err != nil {
		return nil, err
	}
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

// InsertOpenSearch measures OpenSearch storing the first maxRows of the rows
// Insert stored (regenerated from the same seeds), as the container-logs
// documents OpenChoreo's Fluent Bit writes (FluentBitDocuments), into
// container-logs-YYYY-MM-DD created from
// OpenChoreo's template: _bulk through Client.Bulk with workers requests in
// flight, then _refresh, so the clock stops when every document is
// searchable, as the engine's rows are queryable when Insert returns.
// Documents are encoded before the clock starts, as the engine's batches are.
func InsertOpenSearch(ctx context.Context, c *opensearch.Client, res *InsertResult, maxRows, workers int, progress func(string)) error {
	rows := min(res.Rows, maxRows)
	w := NewWorkload(res.Rows, 0)
	recs := w.Records()[:rows]
	docs, err := FluentBitDocuments(recs)
	if err != nil {
		return err
	}
	index := opensearch.ContainerLogsIndex(w.Start)
	if last := docs[len(docs)-1].Index; last != index {
		return fmt.Errorf("rows span more than one daily index (%s..%s); the count check expects one", index, last)
	}
	if err := resetIndex(ctx, c, index); err != nil {
		return err
	}
	progress(fmt.Sprintf("opensearch: _bulk of %d documents into %s, %d requests in flight", rows, index, workers))
	t0 := time.Now()
	if err := bulkLoad(ctx, c, docs, workers); err != nil {
		return err
	}
	res.OpenSearchBulk = time.Since(t0)
	res.OpenSearchBulkRows, res.OpenSearchWorkers = rows, workers
	if n, err := osCount(ctx, c, index); err != nil {
		return err
	} else if n != rows {
		return fmt.Errorf("%s has %d documents after the refresh, want %d", index, n, rows)
	}
	return resetIndex(ctx, c, index)
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

// freshLogTables empties otel.otel_logs and makes each of copies an empty
// table shaped like it, so a benchmark starts from the same state each run.
func freshLogTables(ctx context.Context, st store.Store, copies ...string) error {
	for _, t := range copies {
		if err := st.Exec(ctx, "CREATE TABLE IF NOT EXISTS otel."+t+" AS otel.otel_logs", nil); err != nil {
			return fmt.Errorf("create %s: %w", t, err)
		}
	}
	for _, t := range append([]string{"otel_logs"}, copies...) {
		if err := st.Exec(ctx, "TRUNCATE TABLE otel."+t, nil); err != nil {
			return fmt.Errorf("truncate %s: %w", t, err)
		}
	}
	return nil
}

// engineCopy times the engine's own INSERT ... SELECT of every otel_logs row
// into bench_copy: the raw insert rate obsplane's write paths are held to.
func engineCopy(ctx context.Context, st store.Store, progress func(string)) (time.Duration, error) {
	progress("engine: INSERT ... SELECT of the same rows")
	t0 := time.Now()
	if err := st.Exec(ctx, "INSERT INTO otel.bench_copy SELECT * FROM otel.otel_logs", nil); err != nil {
		return 0, fmt.Errorf("engine copy: %w", err)
	}
	return time.Since(t0), nil
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
		line(fmt.Sprintf("OpenSearch 2.19.6 `_bulk` + `_refresh`, %d requests in flight (first %d rows)", r.OpenSearchWorkers, r.OpenSearchBulkRows), r.OpenSearchBulkRows, r.OpenSearchBulk)
	}
	fmt.Fprintf(&b, "\nGoal (issue: foundation): store.Insert at least 0.5x the engine's own rate: **%.2fx**.\n", rate(r.Rows, r.Binding)/eng)
	if r.OpenSearchBulkRows > 0 {
		osr := rate(r.OpenSearchBulkRows, r.OpenSearchBulk)
		fmt.Fprintf(&b, "\nobsplane vs OpenSearch (rows/s over rows/s, same run): store.Insert one batch at a time **%.2fx**; two at a time (OpenSearch also had %d requests in flight) **%.2fx**. "+
			"OpenSearch stores each row as the `container-logs` document OpenChoreo's Fluent Bit writes (`bench.FluentBitDocuments`: the line and the kubernetes filter's metadata, no dual-write fields), "+
			"in a `container-logs-YYYY-MM-DD` index made from OpenChoreo's template (1 shard; the replica stays unassigned on one node), "+
			"with content-hash `_id`s as Fluent Bit's `Generate_ID`; the clock runs from the first `_bulk` to the end of `_refresh` (searchable). "+
			"Documents are encoded before the clock starts, as the engine's batches are. OpenSearch gets the first %d rows only, to keep the run short "+
			"(rates per second are compared; the engine's are over all rows).\n",
			rate(r.Rows, r.Binding)/osr, r.OpenSearchWorkers, rate(r.Rows, r.BindingConcurrent)/osr, r.OpenSearchBulkRows)
	} else if r.OpenSearchNote != "" {
		fmt.Fprintf(&b, "\nOpenSearch: %s\n", r.OpenSearchNote)
	}
	return b.String()
}
