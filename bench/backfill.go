package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/openchoreo/obsplane/internal/migrate"
	"github.com/openchoreo/obsplane/internal/opensearch"
	"github.com/openchoreo/obsplane/internal/store"
	"github.com/openchoreo/obsplane/internal/store/chdb"
)

// BackfillResult holds the backfill benchmark's figures: obsplane's backfill
// of one daily container-logs index against reading the same index with a
// bare PIT + search_after scan (same slices, same page size, documents
// decoded and dropped) and against the route ClickHouse's migration guide
// documents (elasticdump --searchAfter --pit=true piped into the engine's
// JSONEachRow insert).
type BackfillResult struct {
	Docs, Slices, Batch int
	Index               string
	RawScans            []time.Duration
	Backfill            time.Duration
	// PageWait and Write add up the backfill's time waiting for pages and
	// writing batches (inserts and checkpoints), over every slice.
	PageWait, Write time.Duration
	Pages           int
	// CPU is the benchmark process's CPU time during the backfill (the
	// embedded engine's inserts included).
	CPU time.Duration

	ElasticdumpDocs int
	Elasticdump     time.Duration
	ElasticdumpNote string
}

// RawScanRate is the mean rate of the bare scans taken before and after
// the backfill.
func (r *BackfillResult) RawScanRate() float64 {
	var sum float64
	for _, d := range r.RawScans {
		sum += rate(r.Docs, d)
	}
	return sum / float64(len(r.RawScans))
}

// Backfill loads docs Fluent Bit-shaped documents into a daily
// container-logs index of two days ago on c, then times the three routes.
// elasticdump is the path of the pinned elasticdump (scripts/
// install-elasticdump.sh), or "" to skip that route (elasticdump's --size
// does not bound a --searchAfter dump, so it reads the whole index).
func Backfill(ctx context.Context, st *chdb.Store, c *opensearch.Client, docs, slices, batch int, elasticdump string, progress func(string)) (*BackfillResult, error) {
	day := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -2)
	index := opensearch.ContainerLogsIndex(day)
	res := &BackfillResult{Docs: docs, Slices: slices, Batch: batch, Index: index}
	if err := resetIndex(ctx, c, index); err != nil {
		return nil, err
	}
	progress(fmt.Sprintf("backfill: loading %d documents into %s", docs, index))
	for done := 0; done < docs; done += 100_000 {
		n := min(100_000, docs-done)
		ds, err := LogDocuments(LogRows(n, uint64(done)+11, day.Add(time.Duration(done)*time.Millisecond)))
		if err != nil {
			return nil, err
		}
		for i := range ds {
			// Fluent Bit's ids, not obsplane's, so the backfill copies them.
			ds[i].ID = uuid.NewString()
		}
		if _, err := c.BulkParallel(ctx, ds, 2, opensearch.BulkOptions{}); err != nil {
			return nil, err
		}
	}
	if err := c.Refresh(ctx, []string{index}, opensearch.RetryOptions{}); err != nil {
		return nil, err
	}
	if n, err := osCount(ctx, c, index); err != nil || n != docs {
		return nil, fmt.Errorf("%s holds %d documents after loading (%v), want %d", index, n, err, docs)
	}
	info := opensearch.IndexInfo{Name: index, Docs: int64(docs), Shards: 1}

	progress("backfill: warm-up scan")
	if _, err := rawScan(ctx, c, info, slices, batch); err != nil {
		return nil, err
	}
	progress("backfill: raw PIT + search_after scan")
	d, err := rawScan(ctx, c, info, slices, batch)
	if err != nil {
		return nil, err
	}
	res.RawScans = append(res.RawScans, d)

	progress("backfill: obsplane migrate backfill")
	for _, t := range []string{"otel_logs", "obsplane_backfill_checkpoints", "obsplane_backfill_rejected", "obsplane_migrate_locks"} {
		if err := st.Exec(ctx, "TRUNCATE TABLE otel."+t, nil); err != nil {
			return nil, err
		}
	}
	reg := prometheus.NewRegistry()
	m := migrate.NewMetrics(reg)
	cpu0 := processCPU()
	t0 := time.Now()
	br, err := migrate.Backfill(ctx, migrate.BackfillOptions{OpenSearch: c, Store: st, Start: day, End: day.AddDate(0, 0, 1),
		Indices: index, Slices: slices, Batch: batch, Metrics: m, Log: quietLogger()})
	res.Backfill = time.Since(t0)
	res.CPU = processCPU() - cpu0
	if err != nil {
		return nil, fmt.Errorf("backfill: %w", err)
	}
	if br.Read != int64(docs) {
		return nil, fmt.Errorf("backfill read %d documents, want %d", br.Read, docs)
	}
	if err := expectCount(ctx, st, "otel_logs", docs); err != nil {
		return nil, err
	}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		for _, mm := range mf.Metric {
			if h := mm.GetHistogram(); h != nil {
				switch mf.GetName() {
				case "obsplane_migrate_opensearch_page_seconds":
					res.PageWait = time.Duration(h.GetSampleSum() * float64(time.Second))
					res.Pages = int(h.GetSampleCount())
				case "obsplane_migrate_write_seconds":
					res.Write = time.Duration(h.GetSampleSum() * float64(time.Second))
				}
			}
		}
	}

	progress("backfill: raw scan again")
	if d, err = rawScan(ctx, c, info, slices, batch); err != nil {
		return nil, err
	}
	res.RawScans = append(res.RawScans, d)

	if elasticdump == "" {
		res.ElasticdumpNote = "not measured in this run (no `-elasticdump`)."
		return res, nil
	}
	res.ElasticdumpDocs = docs
	progress(fmt.Sprintf("backfill: elasticdump route, %d documents", res.ElasticdumpDocs))
	if res.Elasticdump, err = elasticdumpRoute(ctx, st, c.URL, index, elasticdump, res.ElasticdumpDocs); err != nil {
		return nil, err
	}
	return res, nil
}

// rawScan reads the index in the backfill's slices and pages, decoding each
// page's hits (as any client must) and dropping them.
func rawScan(ctx context.Context, c *opensearch.Client, in opensearch.IndexInfo, slices, batch int) (time.Duration, error) {
	pit, err := c.OpenPIT(ctx, []string{in.Name}, 5*time.Minute, opensearch.RetryOptions{})
	if err != nil {
		return 0, err
	}
	defer func() { _ = pit.Close(context.Background()) }()
	var total atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, slices)
	t0 := time.Now()
	for s := 0; s < slices; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			after := int64(-1)
			for {
				p, err := pit.Page(ctx, opensearch.SliceQuery{Slice: s, Slices: slices, Size: batch, After: after})
				if err != nil {
					errs <- err
					return
				}
				total.Add(int64(len(p.Hits)))
				if len(p.Hits) < batch {
					return
				}
				after = p.Hits[len(p.Hits)-1].SeqNo()
			}
		}()
	}
	wg.Wait()
	d := time.Since(t0)
	select {
	case err := <-errs:
		return 0, err
	default:
	}
	if total.Load() != in.Docs {
		return 0, fmt.Errorf("raw scan read %d documents, want %d", total.Load(), in.Docs)
	}
	return d, nil
}

// elasticdumpRoute runs elasticdump with the flags ClickHouse's guide uses
// (--searchAfter --pit=true, its default page of 100) and inserts what it
// prints with the engine's JSONEachRow reader, 10,000 lines an INSERT, as
// clickhouse-client would from the pipe, mapped to otel_logs rows in SQL. elasticdump's OpenSearch PIT URL
// repeats the index when one is given in --input, so it is given none and
// the search is filtered to the index instead, sorted on _doc (OpenSearch
// has no _shard_doc, elasticdump's default sort).
func elasticdumpRoute(ctx context.Context, st *chdb.Store, url, index, bin string, n int) (time.Duration, error) {
	// The same table as the backfill's, indexes and all, so both routes
	// pay the same insert.
	if err := st.Exec(ctx, "CREATE OR REPLACE TABLE otel.bench_elasticdump AS otel.otel_logs", nil); err != nil {
		return 0, err
	}
	cmd := exec.CommandContext(ctx, bin, "--input="+url, "--output=$", "--searchAfter", "--pit=true",
		`--searchBody={"query":{"term":{"_index":"`+index+`"}},"sort":["_doc"]}`)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	spool := filepath.Join(st.Dir(), "spool", "elasticdump.jsonl")
	defer os.Remove(spool)
	insert := func(lines []byte) error {
		if len(lines) == 0 {
			return nil
		}
		if err := os.WriteFile(spool, lines, 0o600); err != nil {
			return err
		}
		return st.Exec(ctx, elasticdumpInsert,
			store.Params{"p": spool}, store.Setting{Name: "input_format_skip_unknown_fields", Value: "1"}, store.Setting{Name: "input_format_json_read_objects_as_strings", Value: "1"})
	}
	rd := bufio.NewReaderSize(out, 1<<20)
	var buf []byte
	lines := 0
	for {
		line, err := rd.ReadBytes('\n')
		if len(line) > 0 {
			buf = append(buf, line...)
			lines++
			if lines%10000 == 0 {
				if err := insert(buf); err != nil {
					_ = cmd.Process.Kill()
					return 0, err
				}
				buf = buf[:0]
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
	}
	if err := insert(buf); err != nil {
		return 0, err
	}
	if err := cmd.Wait(); err != nil {
		return 0, fmt.Errorf("elasticdump: %w: %s", err, stderr.String())
	}
	d := time.Since(t0)
	if err := expectCount(ctx, st, "bench_elasticdump", n); err != nil {
		return 0, fmt.Errorf("elasticdump route: %w (elasticdump said: %.500s)", err, stderr.String())
	}
	return d, nil
}

// elasticdumpInsert maps elasticdump's lines ({_index, _id, _source}) to
// otel_logs rows in SQL, as a user following the guide would: the Fluent
// Bit fields to the columns and attributes obsplane's mapping uses.
const elasticdumpInsert = `INSERT INTO otel.bench_elasticdump (Timestamp, ServiceName, Body, ResourceAttributes, LogAttributes)
SELECT parseDateTime64BestEffort(JSONExtractString(_source, 'time'), 9),
  JSONExtractString(_source, 'kubernetes', 'labels', 'openchoreo_dev/component'),
  JSONExtractString(_source, 'log'),
  mapUpdate(map('k8s.pod.name', JSONExtractString(_source, 'kubernetes', 'pod_name'),
      'k8s.namespace.name', JSONExtractString(_source, 'kubernetes', 'namespace_name'),
      'k8s.container.name', JSONExtractString(_source, 'kubernetes', 'container_name'),
      'k8s.node.name', JSONExtractString(_source, 'kubernetes', 'host')),
    mapApply((k, v) -> (concat('k8s.pod.label.', replaceRegexpOne(k, '^openchoreo_dev/', 'openchoreo.dev/')), v),
      JSONExtract(_source, 'kubernetes', 'labels', 'Map(String, String)'))),
  map('log.iostream', JSONExtractString(_source, 'stream'))
FROM file({p:String}, 'JSONEachRow', '_index String, _id String, _source String')`

// Markdown renders the figures.
func (r *BackfillResult) Markdown(command string) string {
	var b strings.Builder
	raw := r.RawScanRate()
	bf := rate(r.Docs, r.Backfill)
	fmt.Fprintf(&b, "## Backfill\n\n%d Fluent Bit-shaped log documents in one daily `%s` index (OpenChoreo's template, one shard) on OpenSearch 2.19.6 (one node, same machine), %s. "+
		"Every route reads the same index; %d slices, pages of %d. Reproduce: `%s`.\n\n", r.Docs, "container-logs-*", Machine(), r.Slices, r.Batch, command)
	fmt.Fprintln(&b, "| route | documents | time | documents/s | vs raw scan |")
	fmt.Fprintln(&b, "|---|---:|---:|---:|---:|")
	for i, d := range r.RawScans {
		fmt.Fprintf(&b, "| raw PIT + search_after scan (%s the backfill; hits decoded, dropped) | %d | %s | %.0f | %.2fx |\n",
			map[int]string{0: "before", 1: "after"}[i], r.Docs, d.Round(time.Millisecond), rate(r.Docs, d), rate(r.Docs, d)/raw)
	}
	fmt.Fprintf(&b, "| **obsplane migrate backfill** (mapped to otel_logs rows, inserted with tokens, checkpointed) | %d | %s | %.0f | **%.2fx** |\n", r.Docs, r.Backfill.Round(time.Millisecond), bf, bf/raw)
	if r.Elasticdump > 0 {
		ed := rate(r.ElasticdumpDocs, r.Elasticdump)
		fmt.Fprintf(&b, "| elasticdump --searchAfter --pit=true into the engine's JSONEachRow insert (mapped to otel_logs rows in SQL, same table and indexes) | %d | %s | %.0f | %.2fx |\n",
			r.ElasticdumpDocs, r.Elasticdump.Round(time.Millisecond), ed, ed/raw)
		fmt.Fprintf(&b, "\nBackfill against the elasticdump route: **%.1fx** (goal at least 10x). Backfill against the raw scan: **%.2fx** (goal at least 0.8x).\n", bf/ed, bf/raw)
	} else {
		fmt.Fprintf(&b, "\nelasticdump route: %s Backfill against the raw scan: **%.2fx** (goal at least 0.8x).\n", r.ElasticdumpNote, bf/raw)
	}
	if r.Pages > 0 {
		fmt.Fprintf(&b, "\nWhere the backfill's time went (summed over its %d slices): waiting for %d pages %s (%.0f ms a page), writing batches %s (%.0f ms a batch: insert, rejected documents, checkpoint); the process used %s of CPU (%.0f µs a document, the embedded engine's inserts included) in %s of wall time.\n",
			r.Slices, r.Pages, r.PageWait.Round(time.Millisecond), float64(r.PageWait.Milliseconds())/float64(r.Pages),
			r.Write.Round(time.Millisecond), float64(r.Write.Milliseconds())/float64(r.Pages), r.CPU.Round(time.Millisecond),
			float64(r.CPU.Microseconds())/float64(r.Docs), r.Backfill.Round(time.Millisecond))
	}
	return b.String()
}

// processCPU is the CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
