package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/openchoreo/obsplane/internal/api/logsadapter"
	"github.com/openchoreo/obsplane/internal/api/obsplaneapi"
	"github.com/openchoreo/obsplane/internal/opensearch"
	"github.com/openchoreo/obsplane/internal/readmodel"
	"github.com/openchoreo/obsplane/internal/readmodel/clickhouse"
	"github.com/openchoreo/obsplane/internal/store"
	"github.com/openchoreo/obsplane/internal/store/chdb"
)

// QueryCase is one query of the benchmark set (docs/DESIGN.md,
// Benchmarks), asked three ways: as raw SQL
// on the engine (the floor), through obsplane's API, and of OpenSearch.
type QueryCase struct {
	Name   string
	SQL    string
	Params store.Params
	// API is the obsplane request answering the same question, relative to
	// the API's base URL; empty when the API has no such endpoint yet. With
	// APIBody set it is a POST of that JSON body.
	API     string
	APIBody string
	// OS asks OpenSearch the same question of the same data in OpenChoreo's
	// indices; nil when not asked.
	OS *OSQuery
}

// OSQuery is one case's OpenSearch form: a _search of Body over Index, or,
// where one search cannot answer, Run (a client-side emulation). Note says
// what is asked, for the table.
type OSQuery struct {
	Index, Body string
	Run         func(ctx context.Context, c *opensearch.Client) error
	Note        string
}

// QueryDataset is what LoadQueryData put in the store.
type QueryDataset struct {
	Logs, Traces int
	Start, End   time.Time
	TraceIDs     []string
	// OpenSearch: documents loaded (0: not loaded), how long the load took
	// until searchable, or why it was not loaded.
	OSDocs int
	OSLoad time.Duration
	OSNote string
}

// LoadQueryData inserts logs log rows and traces traces (nine spans each)
// into otel.otel_logs and otel.otel_traces, two batches at a time.
func LoadQueryData(ctx context.Context, st store.Store, logs, traces int, progress func(string)) (*QueryDataset, error) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ds := &QueryDataset{Logs: logs, Traces: traces, Start: start}
	const batch = 100_000
	var batches []*store.Batch
	for done := 0; done < logs; done += batch {
		batches = append(batches, LogRows(min(batch, logs-done), uint64(done), start.Add(time.Duration(done)*time.Millisecond)))
		if len(batches) == 4 || done+batch >= logs {
			if err := insertConcurrently(ctx, st, batches, 2); err != nil {
				return nil, fmt.Errorf("load logs: %w", err)
			}
			batches = batches[:0]
			progress(fmt.Sprintf("loaded %d/%d logs", min(done+batch, logs), logs))
		}
	}
	const traceBatch = 10_000
	for done := 0; done < traces; done += traceBatch {
		b, ids := TraceRows(min(traceBatch, traces-done), uint64(done)+7, start.Add(time.Duration(done)*10*time.Millisecond))
		ds.TraceIDs = append(ds.TraceIDs, ids...)
		if err := st.Insert(ctx, b); err != nil {
			return nil, fmt.Errorf("load traces: %w", err)
		}
		if (done/traceBatch)%10 == 9 || done+traceBatch >= traces {
			progress(fmt.Sprintf("loaded %d/%d traces", min(done+traceBatch, traces), traces))
		}
	}
	ds.End = start.Add(max(time.Duration(logs)*time.Millisecond, time.Duration(traces)*10*time.Millisecond))
	return ds, nil
}

// LoadQueryDataOpenSearch puts the rows LoadQueryData inserted (regenerated
// from the same seeds) into OpenSearch: logs as Fluent Bit's container-logs
// documents, spans as the OTel collector's otel-traces documents, in daily
// indices made from OpenChoreo's templates (plus spanMappingExtra on the
// traces index). The benchmark's own daily indices are deleted first.
func LoadQueryDataOpenSearch(ctx context.Context, c *opensearch.Client, ds *QueryDataset, progress func(string)) error {
	logIdx, err := opensearch.ContainerLogsIndices(ds.Start, ds.End)
	if err != nil {
		return err
	}
	var traceIdx []string
	for _, d := range logIdx {
		traceIdx = append(traceIdx, opensearch.OtelTracesPrefix+strings.TrimPrefix(d, opensearch.ContainerLogsPrefix))
	}
	for _, idx := range append(append([]string{}, logIdx...), traceIdx...) {
		if err := resetIndex(ctx, c, idx); err != nil {
			return err
		}
	}
	for _, idx := range traceIdx {
		// Created from the template first, so the extra fields are mapped
		// before any span arrives.
		if _, err := osDo(ctx, c, http.MethodPut, "/"+idx, []byte(`{}`)); err != nil {
			return fmt.Errorf("create %s: %w", idx, err)
		}
		if _, err := osDo(ctx, c, http.MethodPut, "/"+idx+"/_mapping", []byte(spanMappingExtra)); err != nil {
			return fmt.Errorf("add kind and durationInNanos to %s: %w", idx, err)
		}
	}
	t0 := time.Now()
	const batch = 100_000
	for done := 0; done < ds.Logs; done += batch {
		docs, err := LogDocuments(LogRows(min(batch, ds.Logs-done), uint64(done), ds.Start.Add(time.Duration(done)*time.Millisecond)))
		if err != nil {
			return err
		}
		if err := bulkLoad(ctx, c, docs, 2); err != nil {
			return fmt.Errorf("opensearch: load logs: %w", err)
		}
		progress(fmt.Sprintf("opensearch: loaded %d/%d logs", min(done+batch, ds.Logs), ds.Logs))
	}
	const traceBatch = 10_000
	spans := 0
	for done := 0; done < ds.Traces; done += traceBatch {
		b, _ := TraceRows(min(traceBatch, ds.Traces-done), uint64(done)+7, ds.Start.Add(time.Duration(done)*10*time.Millisecond))
		docs, err := SpanDocuments(b)
		if err != nil {
			return err
		}
		if err := bulkLoad(ctx, c, docs, 2); err != nil {
			return fmt.Errorf("opensearch: load spans: %w", err)
		}
		spans += len(docs)
		if (done/traceBatch)%10 == 9 || done+traceBatch >= ds.Traces {
			progress(fmt.Sprintf("opensearch: loaded %d/%d traces", min(done+traceBatch, ds.Traces), ds.Traces))
		}
	}
	ds.OSLoad = time.Since(t0)
	ds.OSDocs = ds.Logs + spans
	for _, want := range []struct {
		pattern string
		n       int
	}{{opensearch.ContainerLogsPrefix + "*", ds.Logs}, {opensearch.OtelTracesPrefix + "*", spans}} {
		if n, err := osCount(ctx, c, want.pattern); err != nil {
			return err
		} else if n != want.n {
			return fmt.Errorf("opensearch: %s holds %d documents, want %d (indices not from this run?)", want.pattern, n, want.n)
		}
	}
	return nil
}

// WhitepaperQueries are the design's benchmark queries (docs/DESIGN.md,
// Benchmarks) over ds: a count, a time range, a multi-field group-by, a trace by id, P95 per
// five minutes, and the service topology.
func WhitepaperQueries(ds *QueryDataset) []QueryCase {
	from := ds.Start.Format("2006-01-02 15:04:05")
	mid := ds.Start.Add(ds.End.Sub(ds.Start) / 2)
	to := ds.End.Format("2006-01-02 15:04:05")
	tid := ds.TraceIDs[len(ds.TraceIDs)/2]
	rng := store.Params{"from": from, "to": to}
	// The API's time parameters, and the PPL time filter, over the same range.
	apiRange := "since=" + ds.Start.Format(time.RFC3339) + "&until=" + ds.End.Format(time.RFC3339)
	pplRange := "source=logs | where @timestamp >= '" + from + "' and @timestamp < '" + to + "'"
	ppl := func(q string) string { b, _ := json.Marshal(map[string]string{"query": q}); return string(b) }
	// OpenSearch: the daily indices the range covers, as OpenChoreo's logs
	// module names them; the shard request cache is off (request_cache=false
	// on every search) because the engine has no result cache either.
	logIdx, _ := opensearch.ContainerLogsIndices(ds.Start, ds.End)
	traceIdx := opensearch.OtelTracesPrefix + "*"
	osRange := func(field string, from, to time.Time) string {
		return fmt.Sprintf(`{"range":{%q:{"gte":%q,"lt":%q}}}`, field, from.Format(time.RFC3339Nano), to.Format(time.RFC3339Nano))
	}
	logRange, spanRange := osRange("@timestamp", ds.Start, ds.End), osRange("startTime", ds.Start, ds.End)
	// Levels as OpenChoreo's logs module filters them: a case-insensitive
	// wildcard *LEVEL* on log (no level field is indexed).
	var levelFilters []string
	for _, l := range []string{"DEBUG", "INFO", "WARN", "ERROR"} {
		levelFilters = append(levelFilters, fmt.Sprintf(`%q:{"wildcard":{"log":{"value":"*%s*","case_insensitive":true}}}`, l, l))
	}
	return []QueryCase{
		{Name: "count", SQL: "SELECT count() FROM otel.otel_logs WHERE Timestamp >= {from:DateTime64(9)} AND Timestamp < {to:DateTime64(9)}", Params: rng,
			API: "/api/v1/ppl", APIBody: ppl(pplRange + " | stats count()"),
			OS: &OSQuery{Index: strings.Join(logIdx, ","), Body: `{"size":0,"track_total_hits":true,"query":` + logRange + `}`,
				Note: "`size:0`, `track_total_hits`, range on `@timestamp`"}},
		// The raw SQL asks for the columns the API answers with (the
		// API's overhead is measured, not a narrower question).
		{Name: "time range, newest 100", SQL: `SELECT Timestamp, Body, SeverityText, SeverityNumber, ServiceName, OpenChoreoNamespace, OpenChoreoProject,
OpenChoreoComponent, OpenChoreoEnvironment, K8sPodName, K8sContainerName, TraceId, SpanId, LogAttributes
FROM otel.otel_logs WHERE Timestamp >= {from:DateTime64(9)} AND Timestamp < {to:DateTime64(9)} ORDER BY Timestamp DESC LIMIT 100`,
			Params: store.Params{"from": mid.Format("2006-01-02 15:04:05"), "to": to},
			API:    "/api/logs?since=" + mid.Format(time.RFC3339) + "&until=" + ds.End.Format(time.RFC3339) + "&tail=100",
			OS: &OSQuery{Index: strings.Join(logIdx, ","), Body: `{"size":100,"sort":[{"@timestamp":"desc"}],"query":` + osRange("@timestamp", mid, ds.End) + `}`,
				Note: "range on `@timestamp`, sort desc, size 100, whole `_source` (as the logs module)"}},
		// What OpenChoreo's Observer asks most: a namespace's newest lines
		// through the logs adapter (:9098), rows and total (capped at
		// readmodel.TotalCap) in one answer.
		{Name: "logs adapter: a namespace's newest 100", SQL: `SELECT toString(toTimeZone(Timestamp, 'UTC')) AS ts, Body, SeverityText, SeverityNumber,
OpenChoreoComponent, OpenChoreoProject, OpenChoreoEnvironment, OpenChoreoNamespace, OpenChoreoComponentUID, OpenChoreoProjectUID,
OpenChoreoEnvironmentUID, K8sContainerName, K8sPodName, K8sNamespace,
(SELECT count() FROM (SELECT 1 FROM otel.otel_logs WHERE OpenChoreoNamespace = 'acme' AND Timestamp > {from:DateTime64(9)} AND Timestamp < {to:DateTime64(9)} LIMIT ` + strconv.Itoa(readmodel.TotalCap) + `)) AS total
FROM otel.otel_logs WHERE OpenChoreoNamespace = 'acme' AND Timestamp > {from:DateTime64(9)} AND Timestamp < {to:DateTime64(9)} ORDER BY Timestamp DESC LIMIT 100`, Params: rng,
			API:     LogsAdapterPrefix + "/api/v1/logs/query",
			APIBody: `{"searchScope":{"namespace":"acme"},"startTime":"` + ds.Start.Format(time.RFC3339) + `","endTime":"` + ds.End.Format(time.RFC3339) + `","limit":100,"sortOrder":"desc"}`,
			OS: &OSQuery{Index: strings.Join(logIdx, ","), Body: `{"size":100,"track_total_hits":` + strconv.Itoa(readmodel.TotalCap) + `,"sort":[{"@timestamp":"desc"},{"_id":"desc"}],"query":{"bool":{"filter":[{"term":{"kubernetes.labels.openchoreo_dev/namespace":"acme"}},` + logRange + `]}}}`,
				Note: "the logs module's query: `term` on the namespace label, range on `@timestamp`, sort `@timestamp` then `_id` desc, size 100, `track_total_hits` 1000"}},
		{Name: "group by service, level", SQL: "SELECT ServiceName, SeverityText, count() AS n FROM otel.otel_logs WHERE Timestamp >= {from:DateTime64(9)} AND Timestamp < {to:DateTime64(9)} GROUP BY ServiceName, SeverityText ORDER BY n DESC", Params: rng,
			API: "/api/v1/ppl", APIBody: ppl(pplRange + " | stats count() by service, level"),
			OS: &OSQuery{Index: strings.Join(logIdx, ","), Body: `{"size":0,"query":` + logRange + `,"aggs":{"service":{"terms":{"field":"kubernetes.labels.openchoreo_dev/component","size":100},"aggs":{"level":{"filters":{"filters":{` + strings.Join(levelFilters, ",") + `}}}}}}}`,
				Note: "`terms` on the component label, `filters` sub-aggregation of `wildcard *LEVEL*` on `log` (no level field is indexed; this is how OpenChoreo's logs module filters levels)"}},
		// The trace's days from the trace-id table (partitions are days),
		// then the trace's spans with the columns the API answers with.
		{Name: "trace by id", SQL: `WITH (SELECT toDate(min(Start)), toDate(max(End)) FROM otel.otel_traces_trace_id_ts WHERE TraceId = {t:String}) AS b
SELECT TraceId, SpanId, SpanName, SpanKind, Timestamp, Duration, ParentSpanId, StatusCode, StatusMessage, ServiceName,
SpanAttributes, ResourceAttributes FROM otel.otel_traces
WHERE TraceId = {t:String} AND toDate(Timestamp) >= b.1 AND toDate(Timestamp) <= b.2 ORDER BY Timestamp`, Params: store.Params{"t": tid},
			API: "/api/traces/" + tid,
			OS: &OSQuery{Index: traceIdx, Body: `{"size":1000,"sort":[{"startTime":"asc"}],"query":{"term":{"traceId":"` + tid + `"}}}`,
				Note: "`term` on `traceId` over `otel-traces-*`, sort `startTime`"}},
		{Name: "P95 per 5 min, SERVER spans", SQL: `SELECT toStartOfInterval(Timestamp, INTERVAL 5 MINUTE) AS time, ServiceName,
quantile(0.95)(Duration) / 1000000 AS p95_ms, quantile(0.99)(Duration) / 1000000 AS p99_ms
FROM otel.otel_traces WHERE Timestamp >= {from:DateTime64(9)} AND Timestamp < {to:DateTime64(9)} AND SpanKind = 'SPAN_KIND_SERVER'
GROUP BY time, ServiceName ORDER BY time`, Params: rng,
			API: "/api/latency?" + apiRange,
			OS: &OSQuery{Index: traceIdx, Body: `{"size":0,"query":{"bool":{"filter":[` + spanRange + `,{"term":{"kind":"Server"}}]}},"aggs":{"time":{"date_histogram":{"field":"startTime","fixed_interval":"5m"},"aggs":{"service":{"terms":{"field":"resource.service.name","size":100},"aggs":{"p":{"percentiles":{"field":"durationInNanos","percents":[95,99]}}}}}}}}`,
				Note: "`date_histogram` 5m > `terms` service > `percentiles` 95, 99 of `durationInNanos`, filter `kind: Server` (both fields added to the template's mapping, see below)"}},
		// Joining on a 64-bit hash of (TraceId, SpanId) instead of the two
		// strings measured 2.5x faster at 1M spans (1.54 s -> 0.61 s, same
		// edges), so that is the floor the API is held to.
		{Name: "service topology", SQL: `SELECT p.ServiceName AS from_service, c.ServiceName AS to_service, count() AS calls,
quantile(0.95)(c.Duration) / 1000000 AS p95_ms, countIf(c.StatusCode = 'Error') / count() AS error_rate
FROM (SELECT cityHash64(TraceId, ParentSpanId) AS k, ServiceName, Duration, StatusCode FROM otel.otel_traces
      WHERE Timestamp >= {from:DateTime64(9)} AND Timestamp < {to:DateTime64(9)} AND ParentSpanId != '') AS c
INNER JOIN (SELECT cityHash64(TraceId, SpanId) AS k, ServiceName FROM otel.otel_traces
      WHERE Timestamp >= {from:DateTime64(9)} AND Timestamp < {to:DateTime64(9)}) AS p ON c.k = p.k
WHERE p.ServiceName != c.ServiceName
GROUP BY from_service, to_service ORDER BY calls DESC`, Params: rng,
			API: "/api/topology?" + apiRange,
			OS: &OSQuery{Run: func(ctx context.Context, c *opensearch.Client) error {
				edges, err := osTopology(ctx, c, traceIdx, spanRange)
				if err == nil && len(edges) == 0 {
					// An emulation that finds no edge measured nothing.
					err = fmt.Errorf("topology from OpenSearch found no edges")
				}
				return err
			}, Note: "no join in OpenSearch: every span of the range read with `scroll` (10,000 a page, `docvalue_fields` only), joined child -> parent in the client (Go map), p95 and error rate per edge in the client"}},
	}
}

// Edge is one caller -> callee pair of the topology.
type Edge struct {
	From, To      string
	Calls, Errors int
	P95Ms         float64
}

// osTopology computes the service topology from OpenSearch the only way its
// query language allows without an ingest-time service map: read every span
// of the range (ids, service, status, duration from doc values), then join
// each child to its parent span in the client. Data Prepper's service-map
// processor would move this join to ingest time; OpenChoreo runs none.
func osTopology(ctx context.Context, c *opensearch.Client, index, rangeQuery string) ([]Edge, error) {
	type span struct {
		service, parent string
		err             bool
		dur             int64
	}
	spans := map[string]span{} // traceId + spanId -> span
	body := `{"size":10000,"sort":["_doc"],"_source":false,"query":` + rangeQuery +
		`,"docvalue_fields":["traceId","spanId","parentSpanId","resource.service.name","status.code","durationInNanos"]}`
	b, err := osDo(ctx, c, http.MethodPost, "/"+index+"/_search?scroll=1m&request_cache=false", []byte(body))
	if err != nil {
		return nil, fmt.Errorf("topology scan: %w", err)
	}
	var scrollID string
	defer func() {
		if scrollID != "" {
			_, _ = osDo(context.WithoutCancel(ctx), c, http.MethodDelete, "/_search/scroll", []byte(`{"scroll_id":"`+scrollID+`"}`))
		}
	}()
	for {
		var page struct {
			ScrollID string `json:"_scroll_id"`
			Hits     struct {
				Hits []struct {
					Fields struct {
						TraceID  []string `json:"traceId"`
						SpanID   []string `json:"spanId"`
						Parent   []string `json:"parentSpanId"`
						Service  []string `json:"resource.service.name"`
						Status   []string `json:"status.code"`
						Duration []int64  `json:"durationInNanos"`
					} `json:"fields"`
				} `json:"hits"`
			} `json:"hits"`
		}
		if err := json.Unmarshal(b, &page); err != nil {
			return nil, fmt.Errorf("topology scan: decode page: %w", err)
		}
		scrollID = page.ScrollID
		if len(page.Hits.Hits) == 0 {
			break
		}
		first := func(v []string) string {
			if len(v) == 0 {
				return ""
			}
			return v[0]
		}
		for _, h := range page.Hits.Hits {
			f := h.Fields
			s := span{service: first(f.Service), parent: first(f.Parent), err: first(f.Status) == "Error"}
			if len(f.Duration) > 0 {
				s.dur = f.Duration[0]
			}
			spans[first(f.TraceID)+"/"+first(f.SpanID)] = s
		}
		b, err = osDo(ctx, c, http.MethodPost, "/_search/scroll", []byte(`{"scroll":"1m","scroll_id":"`+scrollID+`"}`))
		if err != nil {
			return nil, fmt.Errorf("topology scan: next page: %w", err)
		}
	}
	type agg struct {
		calls, errors int
		durs          []int64
	}
	edges := map[[2]string]*agg{}
	for k, s := range spans {
		if s.parent == "" {
			continue
		}
		tid := k[:strings.IndexByte(k, '/')]
		p, ok := spans[tid+"/"+s.parent]
		if !ok || p.service == s.service {
			continue
		}
		e := edges[[2]string{p.service, s.service}]
		if e == nil {
			e = &agg{}
			edges[[2]string{p.service, s.service}] = e
		}
		e.calls++
		if s.err {
			e.errors++
		}
		e.durs = append(e.durs, s.dur)
	}
	var out []Edge
	for k, e := range edges {
		sort.Slice(e.durs, func(i, j int) bool { return e.durs[i] < e.durs[j] })
		out = append(out, Edge{From: k[0], To: k[1], Calls: e.calls, Errors: e.errors, P95Ms: float64(e.durs[len(e.durs)*95/100]) / 1e6})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Calls > out[j].Calls })
	return out, nil
}

// LogsAdapterPrefix is where StartAPI serves the logs adapter (its own port,
// :9098, in obsplane serve).
const LogsAdapterPrefix = "/logs-adapter"

// StartAPI serves obsplane's :8080 API, and the logs adapter under
// LogsAdapterPrefix, over st on a loopback test server
// (no authentication, default limits) and returns its base URL.
func StartAPI(st store.Store) (base string, stop func()) {
	reads, err := clickhouse.New(st, "otel", clickhouse.DefaultLimits)
	if err != nil {
		panic(err) // "otel" is a valid database name
	}
	mux := http.NewServeMux()
	(&obsplaneapi.API{Reads: reads}).Mount(mux)
	mux.Handle(LogsAdapterPrefix+"/", http.StripPrefix(LogsAdapterPrefix, (&logsadapter.Handler{Reads: reads, Health: st}).Routes()))
	srv := httptest.NewServer(mux)
	return srv.URL, srv.Close
}

// QueryTiming is the median of several runs of one case, each way.
type QueryTiming struct {
	Case          QueryCase
	Raw, API, OS  time.Duration
	APIErr, OSErr string
	// Runs counted in each median (fewer when one run is slow, see median).
	RawRuns, APIRuns, OSRuns int
}

// TimeQueries runs each case runs times as raw SQL, through the API when
// apiBase is set and the case has an API form, and of OpenSearch when osc is
// set and the case has an OpenSearch form; it reports medians. The first run
// of each is a warm-up and is not counted. Each way runs alone: nothing else
// queries the engine or OpenSearch meanwhile.
func TimeQueries(ctx context.Context, st *chdb.Store, cases []QueryCase, apiBase string, osc *opensearch.Client, runs int) ([]QueryTiming, error) {
	var out []QueryTiming
	for _, c := range cases {
		qt := QueryTiming{Case: c}
		raw, n, err := median(runs, func() error {
			_, err := st.QueryBytes(ctx, c.SQL, "JSON", c.Params)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.Name, err)
		}
		qt.Raw, qt.RawRuns = raw, n
		if apiBase != "" && c.API != "" {
			qt.API, qt.APIRuns, err = median(runs, func() error { return call(ctx, apiBase+c.API, c.APIBody) })
			if err != nil {
				qt.APIErr = err.Error()
			}
		}
		if osc != nil && c.OS != nil {
			run := c.OS.Run
			if run == nil {
				path := "/" + c.OS.Index + "/_search?request_cache=false"
				run = func(ctx context.Context, osc *opensearch.Client) error {
					_, err := osDo(ctx, osc, http.MethodPost, path, []byte(c.OS.Body))
					return err
				}
			}
			qt.OS, qt.OSRuns, err = median(runs, func() error { return run(ctx, osc) })
			if err != nil {
				qt.OSErr = err.Error()
			}
		}
		out = append(out, qt)
	}
	return out, nil
}

// call GETs url, or POSTs body as JSON when body is set, and reads the whole
// answer (the client's cost of a streamed answer is part of the API's time).
func call(ctx context.Context, url, body string) error {
	method := http.MethodGet
	var r io.Reader
	if body != "" {
		method, r = http.MethodPost, strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, url, err)
	}
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s %s: %d %.200s", method, url, resp.StatusCode, b)
	}
	return nil
}

// median times f runs times after a warm-up and returns the median and the
// number of runs counted. A warm-up slower than 10 s is followed by one
// counted run only, so the slowest emulations do not dominate the run time.
func median(runs int, f func() error) (time.Duration, int, error) {
	t0 := time.Now()
	if err := f(); err != nil { // warm-up
		return 0, 0, err
	}
	if time.Since(t0) > 10*time.Second {
		runs = 1
	}
	ds := make([]time.Duration, runs)
	for i := range ds {
		t0 := time.Now()
		if err := f(); err != nil {
			return 0, 0, err
		}
		ds[i] = time.Since(t0)
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2], runs, nil
}

// QueryMarkdown renders one scale's table.
func QueryMarkdown(ds *QueryDataset, ts []QueryTiming) string {
	var b strings.Builder
	spans := ds.Traces * (2*len(callTree) - 1)
	fmt.Fprintf(&b, "### %d logs, %d traces (%d spans)\n\n", ds.Logs, ds.Traces, spans)
	fmt.Fprintf(&b, "| query | raw engine ms | API ms | API / raw | OpenSearch ms | OpenSearch / API |\n|---|---:|---:|---:|---:|---:|\n")
	cell := func(d time.Duration, runs int, errStr string) string {
		switch {
		case errStr != "":
			// One line, no pipes: an error must not break the table.
			return "error: " + strings.ReplaceAll(strings.Join(strings.Fields(errStr), " "), "|", "/")
		case d == 0:
			return "n/a"
		case runs == 1:
			return fmt.Sprintf("%.1f (1 run)", ms(d))
		}
		return fmt.Sprintf("%.1f", ms(d))
	}
	for _, t := range ts {
		apiRatio, osRatio := "n/a", "n/a"
		if t.API > 0 && t.APIErr == "" {
			apiRatio = fmt.Sprintf("%.2fx", float64(t.API)/float64(t.Raw))
			if t.OS > 0 && t.OSErr == "" {
				osRatio = fmt.Sprintf("**%.1fx**", float64(t.OS)/float64(t.API))
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", t.Case.Name, cell(t.Raw, t.RawRuns, ""), cell(t.API, t.APIRuns, t.APIErr), apiRatio, cell(t.OS, t.OSRuns, t.OSErr), osRatio)
	}
	if ds.OSDocs > 0 {
		fmt.Fprintf(&b, "\nOpenSearch held the same %d logs and %d spans (%d documents; loaded with `_bulk`, 2 requests in flight, until searchable in %.0f s, %.0f docs/s). What each OpenSearch query is:\n\n",
			ds.Logs, spans, ds.OSDocs, ds.OSLoad.Seconds(), float64(ds.OSDocs)/ds.OSLoad.Seconds())
		for _, t := range ts {
			if t.Case.OS != nil {
				fmt.Fprintf(&b, "- %s: %s\n", t.Case.Name, t.Case.OS.Note)
			}
		}
		fmt.Fprintf(&b, "\nThe traces index has two fields more than OpenChoreo's `otel-traces` template maps: `kind` (keyword) and `durationInNanos` (long), as Data Prepper's span template has them. "+
			"The template indexes neither (`dynamic: false`), so without them OpenSearch cannot filter SERVER spans or aggregate durations at all; adding them favours OpenSearch.\n")
	} else if ds.OSNote != "" {
		fmt.Fprintf(&b, "\nOpenSearch: %s\n", ds.OSNote)
	}
	return b.String()
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
