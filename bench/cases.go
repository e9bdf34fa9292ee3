package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/openchoreo/obsplane/internal/opensearch"
	"github.com/openchoreo/obsplane/internal/store"
)

// QueryCase is one question asked of every system: as raw SQL on the
// engine (the floor obsplane's code sits on), through obsplane's API, of
// OpenSearch in OpenChoreo's indices and of VictoriaLogs. Each way's answer
// is parsed into an Answer and compared with the raw SQL's: a system that
// answers differently fails the run, however fast it was.
type QueryCase struct {
	Name string
	Kind string // kindCount, kindRows, kindGroups, kindSpans
	// Paper is the whitepaper's OpenSearch-over-ClickStack ratio for this
	// question, 0 where it has none.
	Paper float64
	// TargetMs is the bound on the API's time at 1M logs / 900k
	// spans, 0 where it sets none.
	TargetMs float64

	SQL    string
	Params store.Params
	Raw    func(rows []map[string]any) (Answer, error)

	// API is the request, relative to the API's base URL (a POST of
	// APIBody when that is set); APIParse reads its answer.
	API, APIBody string
	APIParse     func([]byte) (Answer, error)

	OS *OSQuery
	// VL is the LogsQL query; VLParse reads its JSON lines. Empty: not asked
	// (VictoriaLogs holds no traces).
	VL      string
	VLParse func([]map[string]any) (Answer, error)
}

// OSQuery is one case's OpenSearch form: a _search of Body over Index, or,
// where one search cannot answer, Run (a client-side emulation). Note says
// what is asked, for the tables.
type OSQuery struct {
	Index, Body string
	Parse       func([]byte) (Answer, error)
	Run         func(ctx context.Context, c *opensearch.Client) (Answer, error)
	Note        string
}

// Probes are the values the cases ask about, picked from the data.
type Probes struct {
	Namespace, Component, ComponentUID string
	RequestID, Word                    string
	TraceID                            string
}

// PickProbes chooses a moderately busy component (the tenth by weight), its
// namespace, and the request id and last message word of an ERROR line in
// the middle request.
func (w *Workload) PickProbes(pods []*Pod, weights []float64, traceID string) Probes {
	idx := make([]int, len(weights))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return weights[idx[a]] > weights[idx[b]] })
	p := pods[idx[min(9, len(idx)-1)]*5]
	pr := Probes{Namespace: p.Namespace, Component: p.Component, ComponentUID: p.Resource["openchoreo.component.uid"], TraceID: traceID}
	recs := w.Request(w.Requests()/2, pods, newPicker(weights))
	for _, r := range recs {
		if r.Level == "ERROR" {
			pr.RequestID, pr.Word = r.RequestID, r.Word
			break
		}
	}
	if pr.RequestID == "" {
		pr.RequestID, pr.Word = recs[0].RequestID, recs[0].Word
	}
	return pr
}

// logCols are the columns the API's log lines carry, so the raw SQL of a
// rows question asks for the same answer as the API.
const logCols = `Timestamp, Body, SeverityText, SeverityNumber, ServiceName, OpenChoreoNamespace, OpenChoreoProject,
OpenChoreoComponent, OpenChoreoEnvironment, K8sPodName, K8sContainerName, TraceId, SpanId, LogAttributes`

// Cases are the questions of one scale: the peer table of the issue (count
// of the last hour, a component's newest 100, a request id and a word,
// count by level per namespace, a namespace's ERROR lines), then the
// whitepaper's (time range, multi-field group-by, trace by id, P95 per 5
// minutes, the service topology).
func Cases(w *Workload, pr Probes) []QueryCase {
	start, end := w.Start, w.End()
	lastHour := end.Add(-time.Hour)
	mid := start.Add(w.Span / 2)
	chTime := func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000000000") }
	rng := func(from, to time.Time) store.Params { return store.Params{"from": chTime(from), "to": chTime(to)} }
	apiRange := func(from, to time.Time) string {
		// until is inclusive in the API: the last nanosecond before to.
		return "since=" + from.Format(time.RFC3339Nano) + "&until=" + to.Add(-time.Nanosecond).Format(time.RFC3339Nano)
	}
	pplWhere := func(from, to time.Time) string {
		return "source=logs | where @timestamp >= '" + chTime(from) + "' and @timestamp < '" + chTime(to) + "'"
	}
	ppl := func(q string) string { b, _ := json.Marshal(map[string]string{"query": q}); return string(b) }
	vlRange := func(from, to time.Time) string {
		return "_time:[" + from.Format(time.RFC3339Nano) + ", " + to.Format(time.RFC3339Nano) + ")"
	}
	logIdx, _ := opensearch.ContainerLogsIndices(start, end)
	logIndex := strings.Join(logIdx, ",")
	traceIdx := opensearch.OtelTracesPrefix + "*"
	osRange := func(field string, from, to time.Time) string {
		return fmt.Sprintf(`{"range":{%q:{"gte":%q,"lt":%q}}}`, field, from.Format(time.RFC3339Nano), to.Format(time.RFC3339Nano))
	}
	osTerm := func(field, v string) string { return fmt.Sprintf(`{"term":{%q:%q}}`, field, v) }
	// Levels as OpenChoreo's logs module filters them: a case-insensitive
	// wildcard *LEVEL* on log (no level field is indexed).
	osLevel := func(l string) string {
		return fmt.Sprintf(`{"wildcard":{"log":{"value":"*%s*","case_insensitive":true}}}`, l)
	}
	var levelFilters []string
	for _, l := range []string{"DEBUG", "INFO", "WARN", "ERROR"} {
		levelFilters = append(levelFilters, fmt.Sprintf(`%q:%s`, l, osLevel(l)))
	}
	osNewest := func(filters ...string) string {
		return `{"size":100,"sort":[{"@timestamp":"desc"}],"query":{"bool":{"filter":[` + strings.Join(filters, ",") + `]}}}`
	}
	vlNewest := func(filter string) string { return filter + " | sort by (_time desc) limit 100 | fields _time" }
	vlTimes := func(rows []map[string]any) (Answer, error) { return rowsByTime(rows, "_time") }
	rawTimes := func(rows []map[string]any) (Answer, error) { return rowsByTime(rows, "Timestamp") }
	apiLogs := func(b []byte) (Answer, error) {
		var r struct {
			Logs []map[string]any `json:"logs"`
		}
		if err := decode(b, &r); err != nil {
			return nil, err
		}
		return rowsByTime(r.Logs, "timestamp")
	}
	// pplGroups reads a PPL answer: the count column is the value, the
	// named columns (in order) the key.
	pplGroups := func(keys ...string) func([]byte) (Answer, error) {
		return func(b []byte) (Answer, error) {
			var r struct {
				Schema   []struct{ Name string } `json:"schema"`
				Datarows [][]any                 `json:"datarows"`
			}
			if err := decode(b, &r); err != nil {
				return nil, err
			}
			var rows []map[string]any
			for _, dr := range r.Datarows {
				m := map[string]any{}
				for i, c := range r.Schema {
					if i < len(dr) {
						m[c.Name] = dr[i]
					}
				}
				rows = append(rows, m)
			}
			return groups(rows, "count()", keys...)
		}
	}
	countRaw := func(rows []map[string]any) (Answer, error) { return groups(rows, "n") }
	countOS := func(b []byte) (Answer, error) {
		h, err := parseOS(b)
		if err != nil {
			return nil, err
		}
		return Answer{"": float64(h.Hits.Total.Value)}, nil
	}
	countVL := func(rows []map[string]any) (Answer, error) { return groups(rows, "n") }
	nsComp := `OpenChoreoNamespace = {ns:String} AND OpenChoreoComponent = {comp:String}`
	withProbe := func(p store.Params) store.Params {
		p["ns"], p["comp"] = pr.Namespace, pr.Component
		return p
	}
	vlComp := fmt.Sprintf(`_stream:{openchoreo.namespace=%q,openchoreo.component=%q}`, pr.Namespace, pr.Component)
	spanRange := osRange("startTime", start, end)

	return []QueryCase{
		{Name: "count, last hour", Kind: kindCount, Paper: 28.8, TargetMs: 5,
			SQL: "SELECT count() AS n FROM otel.otel_logs WHERE Timestamp >= {from:DateTime64(9)} AND Timestamp < {to:DateTime64(9)}", Params: rng(lastHour, end), Raw: countRaw,
			API: "/api/v1/ppl", APIBody: ppl(pplWhere(lastHour, end) + " | stats count()"), APIParse: pplGroups(),
			OS: &OSQuery{Index: logIndex, Body: `{"size":0,"track_total_hits":true,"query":` + osRange("@timestamp", lastHour, end) + `}`, Parse: countOS,
				Note: "`size:0`, `track_total_hits`, range on `@timestamp`"},
			VL: vlRange(lastHour, end) + " | stats count() n", VLParse: countVL},
		{Name: "newest 100 of one component", Kind: kindRows, TargetMs: 10,
			SQL:    "SELECT " + logCols + " FROM otel.otel_logs WHERE " + nsComp + " AND Timestamp >= {from:DateTime64(9)} AND Timestamp < {to:DateTime64(9)} ORDER BY Timestamp DESC LIMIT 100",
			Params: withProbe(rng(start, end)), Raw: rawTimes,
			API: "/api/logs?namespace=" + pr.Namespace + "&component=" + pr.Component + "&tail=100&" + apiRange(start, end), APIParse: apiLogs,
			OS: &OSQuery{Index: logIndex, Body: osNewest(osTerm("kubernetes.labels.openchoreo_dev/namespace", pr.Namespace), osTerm("kubernetes.labels.openchoreo_dev/component", pr.Component), osRange("@timestamp", start, end)),
				Parse: osRowsByTime, Note: "`term` on the namespace and component labels, range on `@timestamp`, sort desc, size 100, whole `_source`"},
			VL: vlNewest(vlComp + " " + vlRange(start, end)), VLParse: vlTimes},
		{Name: "logs adapter: a component's newest 100", Kind: kindRows, TargetMs: 10,
			SQL:    "SELECT " + logCols + " FROM otel.otel_logs WHERE OpenChoreoNamespace = {ns:String} AND OpenChoreoComponentUID = {uid:String} AND Timestamp >= {from:DateTime64(9)} AND Timestamp < {to:DateTime64(9)} ORDER BY Timestamp DESC LIMIT 100",
			Params: store.Params{"ns": pr.Namespace, "uid": pr.ComponentUID, "from": chTime(start), "to": chTime(end)}, Raw: rawTimes,
			API: LogsAdapterPrefix + "/api/v1/logs/query",
			APIBody: `{"searchScope":{"namespace":"` + pr.Namespace + `","componentUid":"` + pr.ComponentUID + `"},"startTime":"` + start.Format(time.RFC3339Nano) +
				`","endTime":"` + end.Add(-time.Nanosecond).Format(time.RFC3339Nano) + `","limit":100,"sortOrder":"desc"}`, APIParse: apiLogs,
			OS: &OSQuery{Index: logIndex, Body: `{"size":100,"track_total_hits":1000,"sort":[{"@timestamp":"desc"},{"_id":"desc"}],"query":{"bool":{"filter":[` +
				osTerm("kubernetes.labels.openchoreo_dev/namespace", pr.Namespace) + "," + osTerm("kubernetes.labels.openchoreo_dev/component-uid", pr.ComponentUID) + "," + osRange("@timestamp", start, end) + `]}}}`,
				Parse: osRowsByTime, Note: "the logs module's query: `term` on the namespace and component-uid labels, range, sort `@timestamp` then `_id` desc, size 100, `track_total_hits` 1000"},
			VL: vlNewest(vlComp + " " + vlRange(start, end)), VLParse: vlTimes},
		// Any case, as the API's search (and its token index) reads the body.
		{Name: "a request id AND a word", Kind: kindRows,
			SQL:    "SELECT " + logCols + " FROM otel.otel_logs WHERE hasToken(lower(Body), {rid:String}) AND hasToken(lower(Body), {word:String}) AND Timestamp >= {from:DateTime64(9)} AND Timestamp < {to:DateTime64(9)} ORDER BY Timestamp DESC LIMIT 100",
			Params: func() store.Params { p := rng(start, end); p["rid"], p["word"] = pr.RequestID, pr.Word; return p }(), Raw: rawTimes,
			API: "/api/logs?q=" + pr.RequestID + "+AND+" + pr.Word + "&tail=100&" + apiRange(start, end), APIParse: apiLogs,
			OS: &OSQuery{Index: logIndex, Body: osNewest(fmt.Sprintf(`{"wildcard":{"log":{"value":"*%s*","case_insensitive":true}}}`, pr.RequestID),
				fmt.Sprintf(`{"wildcard":{"log":{"value":"*%s*","case_insensitive":true}}}`, pr.Word), osRange("@timestamp", start, end)),
				Parse: osRowsByTime, Note: "two case-insensitive `wildcard`s on `log` (the logs module's search phrase), range, sort desc, size 100"},
			VL: vlNewest(vlRange(start, end) + " " + pr.RequestID + " " + pr.Word), VLParse: vlTimes},
		{Name: "count by level per namespace", Kind: kindGroups,
			SQL:    "SELECT OpenChoreoNamespace AS ns, SeverityText AS level, count() AS n FROM otel.otel_logs WHERE Timestamp >= {from:DateTime64(9)} AND Timestamp < {to:DateTime64(9)} GROUP BY ns, level",
			Params: rng(start, end), Raw: func(rows []map[string]any) (Answer, error) { return groups(rows, "n", "ns", "level") },
			API: "/api/v1/ppl", APIBody: ppl(pplWhere(start, end) + " | stats count() by namespace, level"), APIParse: pplGroups("namespace", "level"),
			OS: &OSQuery{Index: logIndex, Body: `{"size":0,"query":` + osRange("@timestamp", start, end) + `,"aggs":{"g":{"terms":{"field":"kubernetes.labels.openchoreo_dev/namespace","size":1000},"aggs":{"level":{"filters":{"filters":{` + strings.Join(levelFilters, ",") + `}}}}}}}`,
				Parse: osTermsByLevel, Note: "`terms` on the namespace label, `filters` sub-aggregation of `wildcard *LEVEL*` on `log` (no level field is indexed; this is how OpenChoreo's logs module filters levels)"},
			VL: vlRange(start, end) + " | stats by (openchoreo.namespace, severity_text) count() n", VLParse: func(rows []map[string]any) (Answer, error) {
				return groups(rows, "n", "openchoreo.namespace", "severity_text")
			}},
		{Name: "ERROR lines of a namespace, newest 100", Kind: kindRows, TargetMs: 10,
			SQL:    "SELECT " + logCols + " FROM otel.otel_logs WHERE OpenChoreoNamespace = {ns:String} AND SeverityText = 'ERROR' AND Timestamp >= {from:DateTime64(9)} AND Timestamp < {to:DateTime64(9)} ORDER BY Timestamp DESC LIMIT 100",
			Params: withProbe(rng(start, end)), Raw: rawTimes,
			API: "/api/logs?namespace=" + pr.Namespace + "&level=ERROR&tail=100&" + apiRange(start, end), APIParse: apiLogs,
			OS: &OSQuery{Index: logIndex, Body: osNewest(osTerm("kubernetes.labels.openchoreo_dev/namespace", pr.Namespace), osLevel("ERROR"), osRange("@timestamp", start, end)),
				Parse: osRowsByTime, Note: "`term` on the namespace label, `wildcard *ERROR*` on `log`, range, sort desc, size 100"},
			VL: vlNewest(fmt.Sprintf(`_stream:{openchoreo.namespace=%q} severity_text:=ERROR `, pr.Namespace) + vlRange(start, end)), VLParse: vlTimes},
		{Name: "time range, newest 100", Kind: kindRows, Paper: 16, TargetMs: 10,
			SQL:    "SELECT " + logCols + " FROM otel.otel_logs WHERE Timestamp >= {from:DateTime64(9)} AND Timestamp < {to:DateTime64(9)} ORDER BY Timestamp DESC LIMIT 100",
			Params: rng(mid, end), Raw: rawTimes,
			API: "/api/logs?tail=100&" + apiRange(mid, end), APIParse: apiLogs,
			OS: &OSQuery{Index: logIndex, Body: osNewest(osRange("@timestamp", mid, end)), Parse: osRowsByTime,
				Note: "range on `@timestamp`, sort desc, size 100, whole `_source` (as the logs module)"},
			VL: vlNewest(vlRange(mid, end)), VLParse: vlTimes},
		{Name: "group by service, level", Kind: kindGroups, Paper: 37.3,
			SQL:    "SELECT ServiceName AS service, SeverityText AS level, count() AS n FROM otel.otel_logs WHERE Timestamp >= {from:DateTime64(9)} AND Timestamp < {to:DateTime64(9)} GROUP BY service, level",
			Params: rng(start, end), Raw: func(rows []map[string]any) (Answer, error) { return groups(rows, "n", "service", "level") },
			API: "/api/v1/ppl", APIBody: ppl(pplWhere(start, end) + " | stats count() by service, level"), APIParse: pplGroups("service", "level"),
			OS: &OSQuery{Index: logIndex, Body: `{"size":0,"query":` + osRange("@timestamp", start, end) + `,"aggs":{"g":{"terms":{"field":"kubernetes.labels.openchoreo_dev/component","size":1000},"aggs":{"level":{"filters":{"filters":{` + strings.Join(levelFilters, ",") + `}}}}}}}`,
				Parse: osTermsByLevel, Note: "`terms` on the component label, `filters` sub-aggregation of `wildcard *LEVEL*` on `log`"},
			VL: vlRange(start, end) + " | stats by (service.name, severity_text) count() n", VLParse: func(rows []map[string]any) (Answer, error) {
				return groups(rows, "n", "service.name", "severity_text")
			}},
		// The trace's days from the trace-id table (partitions are days),
		// then the trace's spans with the columns the API answers with.
		{Name: "trace by id", Kind: kindSpans, Paper: 15, TargetMs: 5,
			SQL: `WITH (SELECT toDate(min(Start)), toDate(max(End)) FROM otel.otel_traces_trace_id_ts WHERE TraceId = {t:String}) AS b
SELECT TraceId, SpanId, SpanName, SpanKind, Timestamp, Duration, ParentSpanId, StatusCode, StatusMessage, ServiceName,
SpanAttributes, ResourceAttributes FROM otel.otel_traces
WHERE TraceId = {t:String} AND toDate(Timestamp) >= b.1 AND toDate(Timestamp) <= b.2 ORDER BY Timestamp`, Params: store.Params{"t": pr.TraceID},
			Raw: func(rows []map[string]any) (Answer, error) { return spanSet(rows, "SpanId") },
			API: "/api/traces/" + pr.TraceID, APIParse: func(b []byte) (Answer, error) {
				var r struct {
					Spans []map[string]any `json:"spans"`
				}
				if err := decode(b, &r); err != nil {
					return nil, err
				}
				return spanSet(r.Spans, "spanId")
			},
			OS: &OSQuery{Index: traceIdx, Body: `{"size":1000,"sort":[{"startTime":"asc"}],"query":{"term":{"traceId":"` + pr.TraceID + `"}}}`,
				Parse: func(b []byte) (Answer, error) {
					h, err := parseOS(b)
					if err != nil {
						return nil, err
					}
					var rows []map[string]any
					for _, hit := range h.Hits.Hits {
						rows = append(rows, hit.Source)
					}
					return spanSet(rows, "spanId")
				}, Note: "`term` on `traceId` over `otel-traces-*`, sort `startTime`"}},
		{Name: "P95 per 5 min, SERVER spans", Kind: kindGroups, Paper: 26.7,
			SQL: `SELECT toString(toStartOfFiveMinutes(Timestamp)) AS bucket, ServiceName AS service, count() AS n,
quantile(0.95)(Duration) / 1e6 AS p95
FROM otel.otel_traces WHERE Timestamp >= {from:DateTime64(9)} AND Timestamp < {to:DateTime64(9)} AND SpanKind = 'SPAN_KIND_SERVER'
GROUP BY bucket, service`, Params: rng(start, end),
			Raw: func(rows []map[string]any) (Answer, error) {
				return latencyAnswer(rows, "bucket", "service", "n", "p95")
			},
			API: "/api/latency?" + apiRange(start, end), APIParse: func(b []byte) (Answer, error) {
				var r struct {
					Points []map[string]any `json:"points"`
				}
				if err := decode(b, &r); err != nil {
					return nil, err
				}
				return latencyAnswer(r.Points, "bucket", "service", "count", "p95Ms")
			},
			OS: &OSQuery{Index: traceIdx, Body: `{"size":0,"query":{"bool":{"filter":[` + spanRange + `,{"term":{"kind":"Server"}}]}},"aggs":{"time":{"date_histogram":{"field":"startTime","fixed_interval":"5m"},"aggs":{"service":{"terms":{"field":"resource.service.name","size":1000},"aggs":{"p":{"percentiles":{"field":"durationInNanos","percents":[95]}}}}}}}}`,
				Parse: osLatency, Note: "`date_histogram` 5m > `terms` service > `percentiles` 95 of `durationInNanos`, filter `kind: Server` (both fields added to the template's mapping, see below)"}},
		{Name: "service topology", Kind: kindGroups,
			SQL: `SELECT p.ServiceName AS from_service, c.ServiceName AS to_service, count() AS calls
FROM (SELECT cityHash64(TraceId, ParentSpanId) AS k, ServiceName FROM otel.otel_traces
      WHERE Timestamp >= {from:DateTime64(9)} AND Timestamp < {to:DateTime64(9)} AND ParentSpanId != '') AS c
INNER JOIN (SELECT cityHash64(TraceId, SpanId) AS k, ServiceName FROM otel.otel_traces
      WHERE Timestamp >= {from:DateTime64(9)} AND Timestamp < {to:DateTime64(9)}) AS p ON c.k = p.k
WHERE p.ServiceName != c.ServiceName
GROUP BY from_service, to_service`, Params: rng(start, end),
			Raw: func(rows []map[string]any) (Answer, error) {
				return groups(rows, "calls", "from_service", "to_service")
			},
			API: "/api/topology?" + apiRange(start, end), APIParse: func(b []byte) (Answer, error) {
				var r struct {
					Edges []map[string]any `json:"edges"`
				}
				if err := decode(b, &r); err != nil {
					return nil, err
				}
				return groups(r.Edges, "calls", "parent", "child")
			},
			OS: &OSQuery{Run: func(ctx context.Context, c *opensearch.Client) (Answer, error) {
				edges, err := osTopology(ctx, c, traceIdx, spanRange)
				if err != nil {
					return nil, err
				}
				a := Answer{}
				for _, e := range edges {
					a[e.From+"/"+e.To] = float64(e.Calls)
				}
				return a, nil
			}, Note: "no join in OpenSearch: every span of the range read with `scroll` (10,000 a page, `docvalue_fields` only), joined child -> parent in the client (Go map), p95 and error rate per edge in the client"}},
	}
}

func spanSet(rows []map[string]any, field string) (Answer, error) {
	a := Answer{}
	for _, r := range rows {
		a[str(r[field])] = 1
	}
	if len(a) == 0 {
		return nil, fmt.Errorf("no spans")
	}
	return a, nil
}

// latencyAnswer keys each (bucket, service) to its span count (exact) and
// its p95 in ms ("~" key, within tolerance).
func latencyAnswer(rows []map[string]any, bucketF, serviceF, countF, p95F string) (Answer, error) {
	a := Answer{}
	for _, r := range rows {
		ms, err := msOf(r[bucketF])
		if err != nil {
			return nil, err
		}
		k := strconv.FormatFloat(ms, 'f', 0, 64) + "/" + str(r[serviceF])
		n, err := num(r[countF])
		if err != nil {
			return nil, err
		}
		p, err := num(r[p95F])
		if err != nil {
			return nil, err
		}
		a[k] = n
		a["~"+k] = p
	}
	return a, nil
}

func osLatency(b []byte) (Answer, error) {
	h, err := parseOS(b)
	if err != nil {
		return nil, err
	}
	var agg struct {
		Buckets []struct {
			Key     float64 `json:"key"`
			Service struct {
				Buckets []struct {
					Key      string `json:"key"`
					DocCount int    `json:"doc_count"`
					P        struct {
						Values map[string]*float64 `json:"values"`
					} `json:"p"`
				} `json:"buckets"`
			} `json:"service"`
		} `json:"buckets"`
	}
	if err := json.Unmarshal(h.Aggregations["time"], &agg); err != nil {
		return nil, err
	}
	a := Answer{}
	for _, tb := range agg.Buckets {
		for _, sb := range tb.Service.Buckets {
			k := strconv.FormatFloat(tb.Key, 'f', 0, 64) + "/" + sb.Key
			a[k] = float64(sb.DocCount)
			if v := sb.P.Values["95.0"]; v != nil {
				a["~"+k] = *v / 1e6
			}
		}
	}
	return a, nil
}

// osSearch runs a case's _search (shard request cache off: the engine has
// no result cache either) and returns the raw answer.
func osSearch(ctx context.Context, c *opensearch.Client, q *OSQuery) ([]byte, error) {
	return osDo(ctx, c, http.MethodPost, "/"+q.Index+"/_search?request_cache=false", []byte(q.Body))
}
