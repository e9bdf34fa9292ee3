package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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
// bare PIT + search_after scan (same slices, same pages, documents decoded
// and dropped) and against the route ClickHouse's migration guide documents
// (elasticdump --searchAfter --pit=true piped into the engine's JSONEachRow
// insert). Besides times, each route's CPU is counted per process: this
// one (the embedded engine included), OpenSearch's and elasticdump's.
type BackfillResult struct {
	Docs, Slices, Batch int
	Index               string
	RawScans            []time.Duration
	// RawCPU and RawOSCPU are the bench process's and OpenSearch's CPU
	// during each raw scan.
	RawCPU, RawOSCPU []time.Duration
	Backfill         time.Duration
	// OSCPU is OpenSearch's CPU during the backfill.
	OSCPU time.Duration
	// PageWait and Write add up the backfill's time waiting for pages and
	// writing batches (inserts and checkpoints), over every slice.
	PageWait, Write time.Duration
	Pages           int
	// CPU is the benchmark process's CPU time during the backfill and
	// until the engine has merged the parts it wrote.
	CPU time.Duration

	ElasticdumpDocs int
	Elasticdump     time.Duration
	ElasticdumpNote string
	// ElasticdumpCPU is elasticdump's own CPU (node), EDInsertCPU this
	// process's (the JSONEachRow inserts and their merges), EDOSCPU
	// OpenSearch's.
	ElasticdumpCPU, EDInsertCPU, EDOSCPU time.Duration
	// CPUSource says how OpenSearch's CPU was read.
	CPUSource string
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
	// The peer workload's lines, as OpenChoreo's Fluent Bit writes them,
	// on that day.
	w := NewWorkload(docs, 0)
	w.Start = day
	pods, weights := w.Pods()
	pk := newPicker(weights)
	for i := 0; i < w.Requests(); i += 20 {
		var ds []opensearch.BulkDoc
		for j := i; j < min(i+20, w.Requests()); j++ {
			d, err := FluentBitDocuments(w.Request(j, pods, pk))
			if err != nil {
				return nil, err
			}
			ds = append(ds, d...)
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
	// The scans use the client obsplane migrate builds by default: answers
	// not gzipped (--opensearch-gzip off).
	c, err := opensearch.New(c.URL, opensearch.Options{Timeout: 10 * time.Minute, NoCompression: true})
	if err != nil {
		return nil, err
	}
	osCPU, how := openSearchCPU(ctx, c)
	res.CPUSource = how
	raw := func() error {
		cpu0, os0 := processCPU(), osCPU()
		d, err := rawScan(ctx, c, info, slices, min(batch, 10000))
		if err != nil {
			return err
		}
		res.RawScans = append(res.RawScans, d)
		res.RawCPU = append(res.RawCPU, processCPU()-cpu0)
		res.RawOSCPU = append(res.RawOSCPU, osCPU()-os0)
		return nil
	}

	progress("backfill: warm-up scan")
	if _, err := rawScan(ctx, c, info, slices, min(batch, 10000)); err != nil {
		return nil, err
	}
	progress("backfill: raw PIT + search_after scan")
	if err := raw(); err != nil {
		return nil, err
	}

	progress("backfill: obsplane migrate backfill")
	for _, t := range []string{"otel_logs", "obsplane_backfill_checkpoints", "obsplane_backfill_rejected", "obsplane_migrate_locks"} {
		if err := st.Exec(ctx, "TRUNCATE TABLE otel."+t, nil); err != nil {
			return nil, err
		}
	}
	reg := prometheus.NewRegistry()
	m := migrate.NewMetrics(reg)
	cpu0, os0 := processCPU(), osCPU()
	t0 := time.Now()
	br, err := migrate.Backfill(ctx, migrate.BackfillOptions{OpenSearch: c, Store: st, Start: day, End: day.AddDate(0, 0, 1),
		Indices: index, Slices: slices, Batch: batch, Metrics: m, Log: quietLogger()})
	res.Backfill = time.Since(t0)
	// The parts it wrote are merged in the background: that work is the
	// backfill's too, and must not land in the next scan's figures.
	if err := waitMerges(ctx, st); err != nil {
		return nil, err
	}
	res.CPU, res.OSCPU = processCPU()-cpu0, osCPU()-os0
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
	if err := raw(); err != nil {
		return nil, err
	}

	if elasticdump == "" {
		res.ElasticdumpNote = "not measured in this run (no `-elasticdump`)."
		return res, nil
	}
	res.ElasticdumpDocs = docs
	progress(fmt.Sprintf("backfill: elasticdump route, %d documents", res.ElasticdumpDocs))
	cpu0, os0 = processCPU(), osCPU()
	if err := elasticdumpRoute(ctx, st, c.URL, index, elasticdump, res); err != nil {
		return nil, err
	}
	if err := waitMerges(ctx, st); err != nil {
		return nil, err
	}
	res.EDInsertCPU, res.EDOSCPU = processCPU()-cpu0, osCPU()-os0
	// Same rows: both routes hold every document's time and line once.
	if err := sameLines(ctx, st, "otel_logs", "bench_elasticdump"); err != nil {
		return nil, err
	}
	return res, nil
}

// waitMerges waits (up to two minutes) until the engine merges no parts.
func waitMerges(ctx context.Context, st store.Store) error {
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); {
		rows, err := store.ScanAll[struct {
			N int `json:"n"`
		}](ctx, st, "SELECT count() AS n FROM system.merges", nil)
		if err != nil {
			return err
		}
		if len(rows) == 1 && rows[0].N == 0 {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return nil
}

// sameLines checks that two tables hold the same (Timestamp, Body) rows.
func sameLines(ctx context.Context, st store.Store, a, b string) error {
	q := "SELECT (SELECT sum(cityHash64(Timestamp, Body)) FROM otel." + a + ") = (SELECT sum(cityHash64(Timestamp, Body)) FROM otel." + b + ") AS n"
	rows, err := store.ScanAll[struct {
		N int `json:"n"`
	}](ctx, st, q, nil)
	if err != nil {
		return err
	}
	if len(rows) != 1 || rows[0].N != 1 {
		return fmt.Errorf("%s and %s do not hold the same (Timestamp, Body) rows", a, b)
	}
	return nil
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

// elasticdumpRoute runs the route ClickHouse's migration guide documents:
//
//	elasticdump --input=URL --type=data --input-index INDEX --output=$ --sourceOnly --searchAfter --pit=true |
//	clickhouse-client --max_insert_block_size=1000 --min_insert_block_size_bytes=0 --min_insert_block_size_rows=1000 \
//	  --query="INSERT INTO ... FORMAT JSONEachRow"
//
// with elasticdump's defaults otherwise (--limit 100 documents a page, one
// request at a time). Two things differ, because they do not work on
// OpenSearch: elasticdump builds its OpenSearch PIT URL with the index
// twice when one is given, so it is given none and the search is filtered
// to the index instead; and it sorts on _shard_doc, which OpenSearch does
// not have, so the search sorts on _doc. The pipe's other end is this
// process, reading elasticdump's output as it comes, and inserting every
// 10,000 lines with the engine's JSONEachRow reader in blocks of 1,000 rows
// (the guide's client settings: one part per 1,000 rows), while it reads on.
// The lines are mapped to otel_logs rows in SQL, as a user following the
// guide's "Transform data" step would, into a copy of otel_logs (same
// indexes), so both routes pay the same insert.
func elasticdumpRoute(ctx context.Context, st *chdb.Store, url, index, bin string, res *BackfillResult) error {
	if err := st.Exec(ctx, "CREATE OR REPLACE TABLE otel.bench_elasticdump AS otel.otel_logs", nil); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, bin, "--input="+url, "--type=data", "--output=$", "--sourceOnly", "--searchAfter", "--pit=true",
		`--searchBody={"query":{"term":{"_index":"`+index+`"}},"sort":["_doc"]}`)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	// The insert side: one statement per chunk of lines, while the reader
	// goes on (a pipe buffers too).
	chunks := make(chan []byte, 1)
	inserted := make(chan error, 1)
	go func() {
		var err error
		for chunk := range chunks {
			if err == nil {
				err = elasticdumpInsert(ctx, st, chunk)
			}
		}
		inserted <- err
	}()
	rd := bufio.NewReaderSize(out, 1<<20)
	var buf []byte
	lines := 0
	var readErr error
	for {
		line, err := rd.ReadBytes('\n')
		if len(line) > 0 {
			buf = append(buf, line...)
			if lines++; lines%10000 == 0 {
				chunks <- buf
				buf = nil
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			readErr = err
			break
		}
	}
	if len(buf) > 0 {
		chunks <- buf
	}
	close(chunks)
	ierr := <-inserted
	werr := cmd.Wait()
	res.Elasticdump = time.Since(t0)
	if cmd.ProcessState != nil {
		res.ElasticdumpCPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	for _, err := range []error{readErr, ierr} {
		if err != nil {
			return err
		}
	}
	if werr != nil {
		return fmt.Errorf("elasticdump: %w: %s", werr, stderr.String())
	}
	if err := expectCount(ctx, st, "bench_elasticdump", res.Docs); err != nil {
		return fmt.Errorf("elasticdump route: %w (elasticdump said: %.500s)", err, stderr.String())
	}
	res.ElasticdumpDocs = res.Docs
	return nil
}

// elasticdumpInsert inserts one chunk of elasticdump's lines.
func elasticdumpInsert(ctx context.Context, st *chdb.Store, lines []byte) error {
	f, err := os.CreateTemp(filepath.Join(st.Dir(), "spool"), "elasticdump-*.jsonl")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(lines); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return st.Exec(ctx, elasticdumpSQL, store.Params{"p": f.Name()},
		store.Setting{Name: "input_format_skip_unknown_fields", Value: "1"},
		store.Setting{Name: "input_format_json_read_objects_as_strings", Value: "1"},
		// clickhouse-client's settings in the guide: blocks of 1,000 rows,
		// no squashing by bytes.
		store.Setting{Name: "max_block_size", Value: "1000"},
		store.Setting{Name: "max_insert_block_size", Value: "1000"},
		store.Setting{Name: "min_insert_block_size_rows", Value: "1000"},
		store.Setting{Name: "min_insert_block_size_bytes", Value: "0"})
}

// elasticdumpSQL maps elasticdump's --sourceOnly lines (each a document's
// _source) to otel_logs rows in SQL, as a user following the guide would:
// the Fluent Bit fields to the columns and attributes obsplane's mapping
// uses.
const elasticdumpSQL = `INSERT INTO otel.bench_elasticdump (Timestamp, ServiceName, Body, ResourceAttributes, LogAttributes)
SELECT parseDateTime64BestEffort(time, 9),
  JSONExtractString(kubernetes, 'labels', 'openchoreo_dev/component'),
  log,
  mapUpdate(map('k8s.pod.name', JSONExtractString(kubernetes, 'pod_name'),
      'k8s.namespace.name', JSONExtractString(kubernetes, 'namespace_name'),
      'k8s.container.name', JSONExtractString(kubernetes, 'container_name'),
      'k8s.node.name', JSONExtractString(kubernetes, 'host')),
    mapApply((k, v) -> (concat('k8s.pod.label.', replaceRegexpOne(k, '^openchoreo_dev/', 'openchoreo.dev/')), v),
      JSONExtract(kubernetes, 'labels', 'Map(String, String)'))),
  map('log.iostream', stream)
FROM file({p:String}, 'JSONEachRow', '` + "`@timestamp`" + ` String, log String, stream String, time String, kubernetes String')`

// openSearchCPU returns a meter of OpenSearch's CPU time: the node
// process's own /proc counters when it runs on this machine, else what
// _nodes/stats reports (refreshed about once a second, so read after a
// pause).
func openSearchCPU(ctx context.Context, c *opensearch.Client) (func() time.Duration, string) {
	b, err := osDo(ctx, c, http.MethodGet, "/_nodes/_local/process?filter_path=nodes.*.process.id", nil)
	if err == nil {
		var r struct {
			Nodes map[string]struct {
				Process struct {
					ID int `json:"id"`
				} `json:"process"`
			} `json:"nodes"`
		}
		if json.Unmarshal(b, &r) == nil {
			for _, n := range r.Nodes {
				stat := fmt.Sprintf("/proc/%d/stat", n.Process.ID)
				if _, err := procCPU(stat); err == nil {
					return func() time.Duration { d, _ := procCPU(stat); return d }, "the node's /proc/PID/stat"
				}
			}
		}
	}
	return func() time.Duration {
		time.Sleep(1100 * time.Millisecond)
		b, err := osDo(ctx, c, http.MethodGet, "/_nodes/_local/stats/process?filter_path=nodes.*.process.cpu.total_in_millis", nil)
		if err != nil {
			return 0
		}
		var r struct {
			Nodes map[string]struct {
				Process struct {
					CPU struct {
						Total int64 `json:"total_in_millis"`
					} `json:"cpu"`
				} `json:"process"`
			} `json:"nodes"`
		}
		_ = json.Unmarshal(b, &r)
		for _, n := range r.Nodes {
			return time.Duration(n.Process.CPU.Total) * time.Millisecond
		}
		return 0
	}, "_nodes/stats process.cpu"
}

// procCPU reads a process's user+system CPU from its /proc/PID/stat.
func procCPU(path string) (time.Duration, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	// Fields after the command name (which may hold spaces) start at ")".
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, fmt.Errorf("%s: no command name", path)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("%s: %d fields", path, len(f))
	}
	// utime and stime are fields 14 and 15 of stat, in clock ticks
	// (USER_HZ, 100 on Linux).
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("%s: utime/stime do not parse", path)
	}
	return time.Duration(ut+st) * 10 * time.Millisecond, nil
}

// Markdown renders the figures.
func (r *BackfillResult) Markdown(command string) string {
	var b strings.Builder
	raw := r.RawScanRate()
	bf := rate(r.Docs, r.Backfill)
	us := func(d time.Duration, n int) string {
		if n == 0 {
			return "-"
		}
		return fmt.Sprintf("%.1f", float64(d.Nanoseconds())/1000/float64(n))
	}
	fmt.Fprintf(&b, "## Backfill\n\n%d Fluent Bit-shaped log documents in one daily `%s` index (OpenChoreo's template, one shard) on OpenSearch 2.19.6 (one node, same machine), %s. "+
		"Every route reads the same index; %d slices, pages of %d, inserts of %d documents a slice. CPU is per document, per process: this one (the embedded engine included), OpenSearch's (%s) and elasticdump's (node). Reproduce: `%s`.\n\n",
		r.Docs, "container-logs-*", Machine(), r.Slices, min(r.Batch, 10000), r.Batch, r.CPUSource, command)
	fmt.Fprintln(&b, "| route | documents | time | documents/s | vs raw scan | CPU µs/doc: obsplane | OpenSearch | elasticdump | total |")
	fmt.Fprintln(&b, "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for i, d := range r.RawScans {
		fmt.Fprintf(&b, "| raw PIT + search_after scan (%s the backfill; hits decoded, dropped) | %d | %s | %.0f | %.2fx | %s | %s | - | %s |\n",
			map[int]string{0: "before", 1: "after"}[i], r.Docs, d.Round(time.Millisecond), rate(r.Docs, d), rate(r.Docs, d)/raw,
			us(r.RawCPU[i], r.Docs), us(r.RawOSCPU[i], r.Docs), us(r.RawCPU[i]+r.RawOSCPU[i], r.Docs))
	}
	fmt.Fprintf(&b, "| **obsplane migrate backfill** (mapped to otel_logs rows, inserted with tokens, checkpointed) | %d | %s | %.0f | **%.2fx** | %s | %s | - | %s |\n",
		r.Docs, r.Backfill.Round(time.Millisecond), bf, bf/raw, us(r.CPU, r.Docs), us(r.OSCPU, r.Docs), us(r.CPU+r.OSCPU, r.Docs))
	if r.Elasticdump > 0 {
		ed := rate(r.ElasticdumpDocs, r.Elasticdump)
		fmt.Fprintf(&b, "| elasticdump --searchAfter --pit=true --sourceOnly (100 a page, one request at a time) into the engine's JSONEachRow insert in blocks of 1,000 (mapped to otel_logs rows in SQL, same table and indexes) | %d | %s | %.0f | %.2fx | %s | %s | %s | %s |\n",
			r.ElasticdumpDocs, r.Elasticdump.Round(time.Millisecond), ed, ed/raw,
			us(r.EDInsertCPU, r.ElasticdumpDocs), us(r.EDOSCPU, r.ElasticdumpDocs), us(r.ElasticdumpCPU, r.ElasticdumpDocs), us(r.EDInsertCPU+r.EDOSCPU+r.ElasticdumpCPU, r.ElasticdumpDocs))
		fmt.Fprintf(&b, "\nBackfill against the elasticdump route: **%.1fx** (goal at least 10x). Backfill against the raw scan: **%.2fx** (goal at least 0.8x). "+
			"The raw scan itself, a reader that does nothing with the documents, is %.1fx the elasticdump route here: the most any reader of this OpenSearch on this machine could reach.\n", bf/ed, bf/raw, raw/ed)
	} else {
		fmt.Fprintf(&b, "\nelasticdump route: %s Backfill against the raw scan: **%.2fx** (goal at least 0.8x).\n", r.ElasticdumpNote, bf/raw)
	}
	if r.Pages > 0 {
		rawTotal := float64((r.RawCPU[0] + r.RawOSCPU[0]).Nanoseconds()) / float64(r.Docs)
		bfTotal := float64((r.CPU + r.OSCPU).Nanoseconds()) / float64(r.Docs)
		fmt.Fprintf(&b, "\nWhere the backfill's time went (summed over its %d slices): waiting for %d pages %s (%.0f ms a page), writing batches %s (inserts, rejected documents, checkpoints). "+
			"Both the raw scan and the backfill keep the machine's cores busy, so their rates follow their CPU per document: the bound this puts on backfill / raw scan is %.1f / %.1f µs = **%.2fx**.\n",
			r.Slices, r.Pages, r.PageWait.Round(time.Millisecond), float64(r.PageWait.Milliseconds())/float64(r.Pages),
			r.Write.Round(time.Millisecond), rawTotal/1000, bfTotal/1000, rawTotal/bfTotal)
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
