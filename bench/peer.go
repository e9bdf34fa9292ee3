package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/openchoreo/obsplane/internal/gateway"
	"github.com/openchoreo/obsplane/internal/opensearch"
	"github.com/openchoreo/obsplane/internal/store"
	"github.com/openchoreo/obsplane/internal/store/chdb"
)

// PeerOptions configure one scale of the peer benchmark.
type PeerOptions struct {
	Logs, Traces int
	// Clients send the OTLP requests (the same number to each system).
	Clients int
	// Runs timed per query and way (median), after one warm-up.
	Runs int
	// OS and VL are the peers; nil leaves one out.
	OS *opensearch.Client
	VL *VictoriaLogs
	// ViaGateway loads the logs through obsplane's gateway (OTLP/HTTP, the
	// ingest measurement); otherwise they are inserted as batches (the
	// larger, obsplane-only scales, where only the queries are timed).
	ViaGateway bool
	// Load: readers querying while the gateway ingests at LoadRate logs/s,
	// for LoadFor; 0 readers skip it.
	LoadReaders int
	LoadRate    int
	LoadFor     time.Duration
	Gateway     gateway.Params
	// Recorder, when set, is the store the API was started on; the run
	// records the statements of each API request through it.
	Recorder *Recorder
}

// ScaleResult is everything measured at one scale.
type ScaleResult struct {
	Logs, Traces, Spans int
	Probes              Probes
	Ingest              []IngestResult
	Storage             []StorageResult
	Queries             []QueryResult
	Load                *LoadResult `json:",omitempty"`
}

// IngestResult is one system taking the logs.
type IngestResult struct {
	System  string
	Seconds float64
	PerSec  float64
	Note    string
}

// StorageResult is one table or index after merges.
type StorageResult struct {
	System, What string
	Rows         int64
	Bytes        int64
	Detail       map[string]int64 `json:",omitempty"`
}

// QueryResult is one case at one scale.
type QueryResult struct {
	Name     string
	Paper    float64 `json:",omitempty"`
	TargetMs float64 `json:",omitempty"`
	// Ms and Runs per way: raw, api, opensearch, victorialogs.
	Ms     map[string]float64
	Runs   map[string]int
	Errors map[string]string `json:",omitempty"`
	// Answer summarizes the raw SQL's answer; Mismatch lists ways whose
	// answer differed from it (the run fails then).
	Answer   string
	Mismatch map[string]string `json:",omitempty"`
	// Engine evidence for the raw SQL: rows and bytes read (from the
	// answer's statistics) and EXPLAIN indexes = 1.
	RowsRead, BytesRead int64
	Explain             string
	ExplainSummary      string
	SQL                 string
	API                 string
	OSNote              string `json:",omitempty"`
	VL                  string `json:",omitempty"`
	// The statements one API request ran (from the last timed run), with
	// EXPLAIN indexes = 1 of each.
	APIStatements []APIStatement `json:",omitempty"`
}

// APIStatement is one statement of an API request.
type APIStatement struct {
	SQL            string
	Explain        string
	ExplainSummary string
}

// Ways, in table order.
const (
	WayRaw = "raw"
	WayAPI = "api"
	WayOS  = "opensearch"
	WayVL  = "victorialogs"
)

// Peer loads the workload into obsplane (and the peers), measures ingest
// and storage after merges, times every case every way, checks every
// answer against the raw SQL's, and runs the under-load case.
func Peer(ctx context.Context, st *chdb.Store, dataDir, apiBase string, o PeerOptions, progress func(string)) (*ScaleResult, error) {
	w := NewWorkload(o.Logs, o.Traces)
	res := &ScaleResult{Logs: o.Logs, Traces: o.Traces}
	if err := truncateTelemetry(ctx, st); err != nil {
		return nil, err
	}
	pods, weights := w.Pods()
	pk := newPicker(weights)

	// Logs.
	if o.ViaGateway || o.VL != nil {
		progress(fmt.Sprintf("building %d OTLP requests of %d logs", w.Requests(), w.PerRequest))
		bodies := make([][]byte, w.Requests())
		for i := range bodies {
			b, err := OTLPRequest(w.Request(i, pods, pk)).MarshalProto()
			if err != nil {
				return nil, err
			}
			bodies[i] = b
		}
		if o.ViaGateway {
			r, err := ingestGateway(ctx, st, filepath.Join(dataDir, "gateway"), bodies, w.Logs, o, progress)
			if err != nil {
				return nil, err
			}
			res.Ingest = append(res.Ingest, r)
		}
		if o.VL != nil {
			progress(fmt.Sprintf("victorialogs: sending %d requests from %d clients", len(bodies), o.Clients))
			t0 := time.Now()
			if err := SendAll(ctx, bodies, o.Clients, 0, o.VL.SendOTLP); err != nil {
				return nil, fmt.Errorf("victorialogs: %w", err)
			}
			if err := waitCount(ctx, o.VL.Count, w.Logs, 5*time.Minute); err != nil {
				return nil, fmt.Errorf("victorialogs: %w", err)
			}
			d := time.Since(t0)
			res.Ingest = append(res.Ingest, IngestResult{System: "VictoriaLogs " + o.VL.Version, Seconds: d.Seconds(), PerSec: float64(w.Logs) / d.Seconds(),
				Note: "first request -> every log counted by `* | stats count()`"})
		}
		bodies = nil
	}
	if !o.ViaGateway {
		progress(fmt.Sprintf("inserting %d logs as batches", w.Logs))
		var batches []*store.Batch
		for i := range w.Requests() {
			batches = append(batches, LogBatch(w.Request(i, pods, pk)))
			if len(batches) == 20 || i == w.Requests()-1 {
				if err := insertConcurrently(ctx, st, batches, 2); err != nil {
					return nil, err
				}
				batches = batches[:0]
			}
		}
	}

	// Traces.
	progress(fmt.Sprintf("inserting %d traces", w.Traces))
	var traceIDs []string
	const traceBatch = 10_000
	for first := 0; first < w.Traces; first += traceBatch {
		b, ids := w.TraceBatch(first, min(traceBatch, w.Traces-first), pods, weights)
		traceIDs = append(traceIDs, ids...)
		res.Spans += b.Rows
		if err := st.Insert(ctx, b); err != nil {
			return nil, err
		}
	}
	if len(traceIDs) == 0 {
		return nil, fmt.Errorf("no traces: the cases need one")
	}
	res.Probes = w.PickProbes(pods, weights, traceIDs[len(traceIDs)/2])

	if o.OS != nil {
		r, err := loadOpenSearch(ctx, o.OS, w, pods, weights, progress)
		if err != nil {
			return nil, err
		}
		res.Ingest = append(res.Ingest, r)
	}

	// Storage after merges.
	progress("storage: merging")
	s, err := obsplaneStorage(ctx, st)
	if err != nil {
		return nil, err
	}
	res.Storage = append(res.Storage, s...)
	if o.VL != nil {
		if err := o.VL.Compact(ctx); err != nil {
			return nil, err
		}
		n, err := o.VL.DiskBytes()
		if err != nil {
			return nil, err
		}
		res.Storage = append(res.Storage, StorageResult{System: "VictoriaLogs", What: "logs", Rows: int64(w.Logs), Bytes: n})
	}
	if o.OS != nil {
		s, err := openSearchStorage(ctx, o.OS)
		if err != nil {
			return nil, err
		}
		res.Storage = append(res.Storage, s...)
	}

	// Queries.
	cases := Cases(w, res.Probes)
	for _, c := range cases {
		progress("query: " + c.Name)
		q, err := timeCase(ctx, st, apiBase, o, c)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.Name, err)
		}
		res.Queries = append(res.Queries, q)
	}

	if o.LoadReaders > 0 {
		l, err := underLoad(ctx, st, dataDir, apiBase, w, pods, pk, cases, o, progress)
		if err != nil {
			return nil, fmt.Errorf("under load: %w", err)
		}
		res.Load = l
	}
	return res, nil
}

// truncateTelemetry empties every otel_* table (the benchmark's database is
// its own).
func truncateTelemetry(ctx context.Context, st store.Store) error {
	tables, err := store.ScanAll[struct{ Name string }](ctx, st,
		"SELECT name AS Name FROM system.tables WHERE database = 'otel' AND name LIKE 'otel\\_%' AND engine LIKE '%MergeTree%'", nil)
	if err != nil {
		return err
	}
	for _, t := range tables {
		if err := st.Exec(ctx, "TRUNCATE TABLE otel."+store.QuoteIdent(t.Name), nil); err != nil {
			return err
		}
	}
	return nil
}

func ingestGateway(ctx context.Context, st *chdb.Store, dir string, bodies [][]byte, want int, o PeerOptions, progress func(string)) (IngestResult, error) {
	url, stop, err := StartGateway(ctx, st, dir, o.Gateway)
	if err != nil {
		return IngestResult{}, err
	}
	progress(fmt.Sprintf("obsplane: sending %d requests from %d clients", len(bodies), o.Clients))
	t0 := time.Now()
	err = SendAll(ctx, bodies, o.Clients, 0, func(ctx context.Context, b []byte) error { return PostOTLP(ctx, url, b) })
	acked := time.Since(t0)
	if err == nil {
		err = waitCount(ctx, storeCount(st, "otel_logs"), want, 5*time.Minute)
	}
	d := time.Since(t0)
	if serr := stop(); err == nil {
		err = serr
	}
	if err != nil {
		return IngestResult{}, fmt.Errorf("obsplane gateway: %w", err)
	}
	return IngestResult{System: "obsplane gateway", Seconds: d.Seconds(), PerSec: float64(want) / d.Seconds(),
		Note: fmt.Sprintf("first request -> every row counted in otel_logs (OTLP/HTTP, persistent queue, exporter); the last request was acknowledged after %.2f s", acked.Seconds())}, nil
}

func loadOpenSearch(ctx context.Context, c *opensearch.Client, w *Workload, pods []*Pod, weights []float64, progress func(string)) (IngestResult, error) {
	logIdx, err := opensearch.ContainerLogsIndices(w.Start, w.End())
	if err != nil {
		return IngestResult{}, err
	}
	var traceIdx []string
	for _, d := range logIdx {
		traceIdx = append(traceIdx, opensearch.OtelTracesPrefix+strings.TrimPrefix(d, opensearch.ContainerLogsPrefix))
	}
	for _, idx := range append(append([]string{}, logIdx...), traceIdx...) {
		if err := resetIndex(ctx, c, idx); err != nil {
			return IngestResult{}, err
		}
	}
	for _, idx := range traceIdx {
		// Created from the template first, so the extra fields are mapped
		// before any span arrives.
		if _, err := osDo(ctx, c, http.MethodPut, "/"+idx, []byte(`{}`)); err != nil {
			return IngestResult{}, fmt.Errorf("create %s: %w", idx, err)
		}
		if _, err := osDo(ctx, c, http.MethodPut, "/"+idx+"/_mapping", []byte(spanMappingExtra)); err != nil {
			return IngestResult{}, fmt.Errorf("add kind and durationInNanos to %s: %w", idx, err)
		}
	}
	pk := newPicker(weights)
	t0 := time.Now()
	for i := 0; i < w.Requests(); i += 20 {
		var docs []opensearch.BulkDoc
		for j := i; j < min(i+20, w.Requests()); j++ {
			d, err := FluentBitDocuments(w.Request(j, pods, pk))
			if err != nil {
				return IngestResult{}, err
			}
			docs = append(docs, d...)
		}
		if err := bulkLoad(ctx, c, docs, 2); err != nil {
			return IngestResult{}, fmt.Errorf("opensearch: load logs: %w", err)
		}
		progress(fmt.Sprintf("opensearch: loaded %d/%d logs", min((i+20)*w.PerRequest, w.Logs), w.Logs))
	}
	logSecs := time.Since(t0)
	spans := 0
	for first := 0; first < w.Traces; first += 10_000 {
		b, _ := w.TraceBatch(first, min(10_000, w.Traces-first), pods, weights)
		docs, err := SpanDocuments(b)
		if err != nil {
			return IngestResult{}, err
		}
		if err := bulkLoad(ctx, c, docs, 2); err != nil {
			return IngestResult{}, fmt.Errorf("opensearch: load spans: %w", err)
		}
		spans += len(docs)
	}
	for _, want := range []struct {
		pattern string
		n       int
	}{{opensearch.ContainerLogsPrefix + "*", w.Logs}, {opensearch.OtelTracesPrefix + "*", spans}} {
		if n, err := osCount(ctx, c, want.pattern); err != nil {
			return IngestResult{}, err
		} else if n != want.n {
			return IngestResult{}, fmt.Errorf("opensearch: %s holds %d documents, want %d (indices not from this run?)", want.pattern, n, want.n)
		}
	}
	return IngestResult{System: "OpenSearch", Seconds: logSecs.Seconds(), PerSec: float64(w.Logs) / logSecs.Seconds(),
		Note: "`_bulk` of the Fluent Bit documents, 2 requests in flight, until searchable (`_refresh`); documents built during the clock"}, nil
}

// obsplaneStorage merges every otel_* table (OPTIMIZE FINAL) and reports
// its active parts, with otel_logs' columns and skip indexes in detail.
func obsplaneStorage(ctx context.Context, st store.Store) ([]StorageResult, error) {
	tables, err := store.ScanAll[struct{ Name string }](ctx, st,
		"SELECT name AS Name FROM system.tables WHERE database = 'otel' AND name LIKE 'otel\\_%' AND engine LIKE '%MergeTree%' ORDER BY name", nil)
	if err != nil {
		return nil, err
	}
	var out []StorageResult
	for _, t := range tables {
		if err := st.Exec(ctx, "OPTIMIZE TABLE otel."+store.QuoteIdent(t.Name)+" FINAL", nil); err != nil {
			return nil, fmt.Errorf("optimize %s: %w", t.Name, err)
		}
		rows, err := store.ScanAll[struct {
			Rows, Bytes int64
		}](ctx, st, "SELECT sum(rows) AS Rows, sum(bytes_on_disk) AS Bytes FROM system.parts WHERE database = 'otel' AND table = {t:String} AND active", store.Params{"t": t.Name})
		if err != nil {
			return nil, err
		}
		if len(rows) == 0 || rows[0].Rows == 0 {
			continue
		}
		r := StorageResult{System: "obsplane", What: t.Name, Rows: rows[0].Rows, Bytes: rows[0].Bytes, Detail: map[string]int64{}}
		cols, err := store.ScanAll[struct {
			Name  string
			Bytes int64
		}](ctx, st, "SELECT name AS Name, data_compressed_bytes AS Bytes FROM system.columns WHERE database = 'otel' AND table = {t:String} AND data_compressed_bytes > 0", store.Params{"t": t.Name})
		if err != nil {
			return nil, err
		}
		for _, c := range cols {
			r.Detail["column "+c.Name] = c.Bytes
		}
		idx, err := store.ScanAll[struct {
			Name  string
			Bytes int64
		}](ctx, st, "SELECT name AS Name, data_compressed_bytes AS Bytes FROM system.data_skipping_indices WHERE database = 'otel' AND table = {t:String}", store.Params{"t": t.Name})
		if err != nil {
			return nil, err
		}
		for _, c := range idx {
			r.Detail["index "+c.Name] = c.Bytes
		}
		out = append(out, r)
	}
	return out, nil
}

// openSearchStorage force-merges the benchmark's indices to one segment
// and reports their primary store size.
func openSearchStorage(ctx context.Context, c *opensearch.Client) ([]StorageResult, error) {
	var out []StorageResult
	for _, p := range []struct{ what, pattern string }{{"logs", opensearch.ContainerLogsPrefix + "*"}, {"spans", opensearch.OtelTracesPrefix + "*"}} {
		if _, err := osDo(ctx, c, http.MethodPost, "/"+p.pattern+"/_forcemerge?max_num_segments=1", nil); err != nil {
			return nil, err
		}
		b, err := osDo(ctx, c, http.MethodGet, "/_cat/indices/"+p.pattern+"?format=json&bytes=b&h=index,docs.count,pri.store.size", nil)
		if err != nil {
			return nil, err
		}
		var idx []map[string]string
		if err := json.Unmarshal(b, &idx); err != nil {
			return nil, err
		}
		r := StorageResult{System: "OpenSearch", What: p.what}
		for _, i := range idx {
			n, _ := strconv.ParseInt(i["docs.count"], 10, 64)
			s, _ := strconv.ParseInt(i["pri.store.size"], 10, 64)
			r.Rows += n
			r.Bytes += s
		}
		out = append(out, r)
	}
	return out, nil
}

// timeCase times c every way and checks every answer against the raw
// SQL's.
func timeCase(ctx context.Context, st *chdb.Store, apiBase string, o PeerOptions, c QueryCase) (QueryResult, error) {
	q := QueryResult{Name: c.Name, Paper: c.Paper, TargetMs: c.TargetMs, Ms: map[string]float64{}, Runs: map[string]int{},
		Errors: map[string]string{}, Mismatch: map[string]string{}, SQL: c.SQL, API: c.API, VL: c.VL}
	if c.OS != nil {
		q.OSNote = c.OS.Note
	}
	var raw []byte
	d, n, err := median(o.Runs, func() error {
		var err error
		raw, err = st.QueryBytes(ctx, c.SQL, "JSON", c.Params)
		return err
	})
	if err != nil {
		return q, fmt.Errorf("raw SQL: %w", err)
	}
	q.Ms[WayRaw], q.Runs[WayRaw] = ms(d), n
	rows, err := sqlRows(raw)
	if err != nil {
		return q, err
	}
	want, err := c.Raw(rows)
	if err != nil {
		return q, fmt.Errorf("raw SQL answer: %w", err)
	}
	q.Answer = want.Summary(c.Kind)
	var stats struct {
		Statistics struct {
			RowsRead  int64 `json:"rows_read"`
			BytesRead int64 `json:"bytes_read"`
		} `json:"statistics"`
	}
	if err := json.Unmarshal(raw, &stats); err == nil {
		q.RowsRead, q.BytesRead = stats.Statistics.RowsRead, stats.Statistics.BytesRead
	}
	if ex, err := st.QueryBytes(ctx, "EXPLAIN indexes = 1 "+c.SQL, "TSVRaw", c.Params); err == nil {
		q.Explain = string(ex)
		q.ExplainSummary = SummarizeExplain(q.Explain)
	} else {
		q.Explain = "error: " + err.Error()
	}

	way := func(name string, run func() ([]byte, error), parse func([]byte) (Answer, error)) {
		var out []byte
		d, n, err := median(o.Runs, func() error {
			var err error
			out, err = run()
			return err
		})
		if err != nil {
			q.Errors[name] = err.Error()
			return
		}
		q.Ms[name], q.Runs[name] = ms(d), n
		got, err := parse(out)
		if err == nil {
			err = want.Compare(got)
		}
		if err != nil {
			q.Mismatch[name] = err.Error()
		}
	}
	if apiBase != "" && c.API != "" {
		var last []Statement
		way(WayAPI, func() ([]byte, error) {
			if o.Recorder != nil {
				o.Recorder.Take()
			}
			b, err := call(ctx, apiBase+c.API, c.APIBody)
			if o.Recorder != nil {
				last = o.Recorder.Take()
			}
			return b, err
		}, c.APIParse)
		for _, s := range last {
			as := APIStatement{SQL: s.SQL}
			if ex, err := st.QueryBytes(ctx, "EXPLAIN indexes = 1 "+s.SQL, "TSVRaw", s.Params); err == nil {
				as.Explain = string(ex)
				as.ExplainSummary = SummarizeExplain(as.Explain)
			} else {
				as.Explain = "error: " + err.Error()
			}
			q.APIStatements = append(q.APIStatements, as)
		}
	}
	if o.OS != nil && c.OS != nil {
		if c.OS.Run != nil {
			var got Answer
			way(WayOS, func() ([]byte, error) {
				var err error
				got, err = c.OS.Run(ctx, o.OS)
				return nil, err
			}, func([]byte) (Answer, error) { return got, nil })
		} else {
			way(WayOS, func() ([]byte, error) { return osSearch(ctx, o.OS, c.OS) }, c.OS.Parse)
		}
	}
	if o.VL != nil && c.VL != "" {
		way(WayVL, func() ([]byte, error) { return o.VL.Query(ctx, c.VL) }, func(b []byte) (Answer, error) {
			rows, err := jsonLines(b)
			if err != nil {
				return nil, err
			}
			return c.VLParse(rows)
		})
	}
	return q, nil
}

var (
	explainPartsRE = regexp.MustCompile(`(?m)^\s*(?:(Min-Max|MinMax|Partition|PrimaryKey|Skip)|(Name|Parts|Granules):\s*(.*))\s*$`)
	readFromRE     = regexp.MustCompile(`(?m)^\s*ReadFromMergeTree \(([^)]*)\)`)
)

// SummarizeExplain condenses EXPLAIN indexes = 1 into one line per table
// read: "table: Type a/b parts, c/d granules; ..." from the index lines.
func SummarizeExplain(ex string) string {
	var out []string
	locs := readFromRE.FindAllStringSubmatchIndex(ex, -1)
	for i, l := range locs {
		end := len(ex)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		table, block := ex[l[2]:l[3]], ex[l[1]:end]
		var steps []string
		var cur, parts string
		for _, m := range explainPartsRE.FindAllStringSubmatch(block, -1) {
			switch {
			case m[1] != "":
				cur = m[1]
			case m[2] == "Name":
				cur += " " + m[3]
			case m[2] == "Parts":
				parts = m[3]
			case m[2] == "Granules":
				steps = append(steps, fmt.Sprintf("%s %s parts %s granules", cur, parts, m[3]))
			}
		}
		out = append(out, table+": "+strings.Join(steps, ", "))
	}
	return strings.Join(out, "; ")
}

// LoadResult is the under-load case.
type LoadResult struct {
	Readers    int
	TargetRate int
	Seconds    float64
	Systems    []LoadSystem
}

// LoadSystem is one system's latencies while it ingested.
type LoadSystem struct {
	System       string
	IngestPerSec float64
	Queries      []LoadQuery
}

// LoadQuery holds one case's latency percentiles under load.
type LoadQuery struct {
	Name     string
	N        int
	P50, P95 float64
	Errors   int
}

// loadCases are the cases a user waits for, asked under load.
var loadCases = map[string]bool{"count, last hour": true, "newest 100 of one component": true, "ERROR lines of a namespace, newest 100": true,
	"a request id AND a word": true, "trace by id": true, "time range, newest 100": true}

// underLoad runs, for each system in turn, readers goroutines cycling
// through the load cases while that system ingests new logs at the target
// rate (timestamps after the workload's end, so the cases' answers do not
// change), and reports p50 and p95 per case.
func underLoad(ctx context.Context, st *chdb.Store, dataDir, apiBase string, w *Workload, pods []*Pod, pk picker, cases []QueryCase, o PeerOptions, progress func(string)) (*LoadResult, error) {
	res := &LoadResult{Readers: o.LoadReaders, TargetRate: o.LoadRate, Seconds: o.LoadFor.Seconds()}
	// New logs: the workload shifted past its end.
	extra := *w
	extra.Logs = o.LoadRate * int(o.LoadFor.Seconds()+1)
	extra.Start = w.End().Add(time.Hour)
	extra.Span = time.Duration(extra.Logs) * 2 * time.Millisecond
	extra.Seed = w.Seed + 1
	progress(fmt.Sprintf("under load: building %d OTLP requests", extra.Requests()))
	var bodies [][]byte
	var docs [][]opensearch.BulkDoc
	for i := range extra.Requests() {
		recs := extra.Request(i, pods, pk)
		b, err := OTLPRequest(recs).MarshalProto()
		if err != nil {
			return nil, err
		}
		bodies = append(bodies, b)
		if o.OS != nil {
			d, err := FluentBitDocuments(recs)
			if err != nil {
				return nil, err
			}
			docs = append(docs, d)
		}
	}
	pace := time.Duration(float64(time.Second) * float64(extra.PerRequest) / float64(o.LoadRate))
	type sys struct {
		name   string
		ingest func(context.Context, []byte, int) error
		ask    func(context.Context, QueryCase) (bool, error)
		start  func() (func() error, error)
	}
	var systems []sys
	gwURL := ""
	systems = append(systems, sys{name: "obsplane API",
		start: func() (func() error, error) {
			u, stop, err := StartGateway(ctx, st, filepath.Join(dataDir, "gateway-load"), o.Gateway)
			gwURL = u
			return stop, err
		},
		ingest: func(ctx context.Context, b []byte, _ int) error { return PostOTLP(ctx, gwURL, b) },
		ask: func(ctx context.Context, c QueryCase) (bool, error) {
			if c.API == "" {
				return false, nil
			}
			_, err := call(ctx, apiBase+c.API, c.APIBody)
			return true, err
		}})
	if o.OS != nil {
		systems = append(systems, sys{name: "OpenSearch",
			ingest: func(ctx context.Context, _ []byte, i int) error {
				_, err := o.OS.Bulk(ctx, docs[i], opensearch.BulkOptions{})
				return err
			},
			ask: func(ctx context.Context, c QueryCase) (bool, error) {
				if c.OS == nil || c.OS.Run != nil {
					return false, nil
				}
				_, err := osSearch(ctx, o.OS, c.OS)
				return true, err
			}})
	}
	if o.VL != nil {
		systems = append(systems, sys{name: "VictoriaLogs",
			ingest: func(ctx context.Context, b []byte, _ int) error { return o.VL.SendOTLP(ctx, b) },
			ask: func(ctx context.Context, c QueryCase) (bool, error) {
				if c.VL == "" {
					return false, nil
				}
				_, err := o.VL.Query(ctx, c.VL)
				return true, err
			}})
	}
	var asked []QueryCase
	for _, c := range cases {
		if loadCases[c.Name] {
			asked = append(asked, c)
		}
	}
	for _, s := range systems {
		progress(fmt.Sprintf("under load: %s, %d readers, ingest at %d logs/s for %s", s.name, o.LoadReaders, o.LoadRate, o.LoadFor))
		stop := func() error { return nil }
		if s.start != nil {
			var err error
			if stop, err = s.start(); err != nil {
				return nil, err
			}
		}
		lctx, cancel := context.WithTimeout(ctx, o.LoadFor)
		var sent int
		var mu sync.Mutex
		lat := map[string][]float64{}
		errs := map[string]int{}
		var wg sync.WaitGroup
		t0 := time.Now()
		wg.Add(1)
		go func() {
			defer wg.Done()
			idx := make([][]byte, len(bodies))
			copy(idx, bodies)
			n := 0
			_ = SendAll(lctx, idx, 4, pace, func(ctx context.Context, b []byte) error {
				mu.Lock()
				i := n
				n++
				mu.Unlock()
				err := s.ingest(ctx, b, i%len(bodies))
				if err == nil {
					mu.Lock()
					sent += extra.PerRequest
					mu.Unlock()
				}
				return err
			})
		}()
		for r := range o.LoadReaders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := r; lctx.Err() == nil; k++ {
					c := asked[k%len(asked)]
					t := time.Now()
					asked, err := s.ask(lctx, c)
					d := ms(time.Since(t))
					if lctx.Err() != nil {
						return
					}
					if !asked {
						continue
					}
					mu.Lock()
					if err != nil {
						errs[c.Name]++
					} else {
						lat[c.Name] = append(lat[c.Name], d)
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		cancel()
		elapsed := time.Since(t0)
		if err := stop(); err != nil {
			return nil, err
		}
		ls := LoadSystem{System: s.name, IngestPerSec: float64(sent) / elapsed.Seconds()}
		for _, c := range asked {
			v := lat[c.Name]
			if len(v) == 0 && errs[c.Name] == 0 {
				continue
			}
			sort.Float64s(v)
			lq := LoadQuery{Name: c.Name, N: len(v), Errors: errs[c.Name]}
			if len(v) > 0 {
				lq.P50, lq.P95 = v[len(v)/2], v[min(len(v)-1, len(v)*95/100)]
			}
			ls.Queries = append(ls.Queries, lq)
		}
		res.Systems = append(res.Systems, ls)
	}
	return res, nil
}
