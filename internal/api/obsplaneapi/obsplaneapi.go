// Package obsplaneapi serves obsplane's own query API on :8080 (SPEC 6.2):
// logs with filters, full-text search, cursor pagination and NDJSON
// streaming; traces by id and trace search; service topology; latency
// percentiles; error tracking; trace<->log correlation; alert rule state.
// The OpenAPI document is openapi.json beside this file, served at
// /api/openapi.json.
//
// Every query is scoped to the caller's namespaces in SQL, every user value
// is a bound parameter, time ranges are bounded, and the engine enforces
// per-query limits.
package obsplaneapi

import (
	"bufio"
	"cmp"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/openchoreo/obsplane/internal/api/alerts"
	"github.com/openchoreo/obsplane/internal/api/auth"
	"github.com/openchoreo/obsplane/internal/api/httpx"
	"github.com/openchoreo/obsplane/internal/api/logsadapter"
	"github.com/openchoreo/obsplane/internal/api/tracingadapter"
	"github.com/openchoreo/obsplane/internal/query"
	"github.com/openchoreo/obsplane/internal/router"
	"github.com/openchoreo/obsplane/internal/store"
)

// OpenAPI is the API's OpenAPI 3 document.
//
//go:embed openapi.json
var OpenAPI []byte

// Limits of the API's parameters.
const (
	DefaultTail     = 100
	MaxTail         = 10000
	MaxStreamRows   = 1000000
	DefaultSince    = time.Hour
	MaxParam        = 1024
	DefaultTraceLim = 20
	MaxTraceLim     = 1000
)

// API serves the :8080 routes.
type API struct {
	Store    store.Store
	Auth     auth.Authenticator
	Log      *slog.Logger
	Limits   httpx.Limits
	MaxRange time.Duration
	Alerts   *alerts.Manager
	Now      func() time.Time
	// OpenSearch answers the /api/logs requests it can (LogsFilter) from
	// OpenChoreo's indices during a migration; nil when there is none. The
	// router picks the backend per caller.
	OpenSearch LogsBackend
	// Router chooses the backend of each read; nil answers from ClickHouse.
	Router *router.Router
}

// LogsFilter is the part of an /api/logs request that OpenChoreo's
// OpenSearch indices can answer: no free-text q, service, traceId or
// cursor (those fields are not indexed there), newest first.
type LogsFilter struct {
	// Namespace narrows to one namespace; Project, Component and
	// Environment match the name or the uid.
	Namespace, Project, Component, Environment string
	// Levels keeps lines of any of these levels (upper case).
	Levels []string
	// Since and Until bound the range, both included.
	Since, Until time.Time
	// Tail is the number of newest lines returned.
	Tail int
}

// LogsBackend answers a LogsFilter from another store.
type LogsBackend interface {
	QueryAPILogs(ctx context.Context, f LogsFilter) (*LogsResponse, error)
}

func (a *API) now() time.Time {
	if a.Now != nil {
		return a.Now().UTC()
	}
	return time.Now().UTC()
}

// Mount adds the routes to mux.
func (a *API) Mount(mux *http.ServeMux) {
	httpx.Defaults(&a.Limits, &a.MaxRange, &a.Log, &a.Auth)
	wrap := func(f httpx.HandlerFunc) http.Handler {
		return httpx.JSONErrors(auth.Middleware(a.Auth, httpx.Wrap(a.Log, false, f), func(w http.ResponseWriter, msg string) {
			httpx.WriteError(w, httpx.Unauthorized("%s", msg), false)
		}), false)
	}
	mux.HandleFunc("GET /api/openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(OpenAPI)
	})
	mux.Handle("GET /api/logs", wrap(a.logs))
	mux.Handle("GET /api/traces", wrap(a.traceSearch))
	mux.Handle("GET /api/traces/{traceId}", wrap(a.traceByID))
	mux.Handle("GET /api/traces/{traceId}/logs", wrap(a.traceLogs))
	mux.Handle("GET /api/topology", wrap(a.topology))
	mux.Handle("GET /api/latency", wrap(a.latency))
	mux.Handle("GET /api/errors", wrap(a.errorsByGroup))
	mux.Handle("GET /api/alerts/rules", wrap(a.alertRules))
	mux.Handle("POST /api/v1/ppl", wrap(a.ppl))
	mux.Handle("/api/", wrap(func(w http.ResponseWriter, r *http.Request) error {
		return httpx.NotFound("no such endpoint: %s %s", r.Method, httpx.Truncate(r.URL.Path, 200))
	}))
}

// params reads query parameters, refusing unknown ones (a typo such as
// "servce=" would otherwise silently widen the query) and repeated ones.
type params struct {
	v   url.Values
	err error
}

func readParams(r *http.Request, allowed ...string) (*params, error) {
	v, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, httpx.BadRequest("malformed query string: %v", err)
	}
	ok := map[string]bool{}
	for _, a := range allowed {
		ok[a] = true
	}
	for k, vs := range v {
		if !ok[k] {
			return nil, httpx.BadRequest("unknown query parameter %q (allowed: %s)", httpx.Truncate(k, 64), strings.Join(allowed, ", "))
		}
		if len(vs) > 1 {
			return nil, httpx.BadRequest("query parameter %q given %d times", k, len(vs))
		}
		if len(vs[0]) > MaxParam {
			return nil, httpx.BadRequest("query parameter %q is longer than %d bytes", k, MaxParam)
		}
	}
	return &params{v: v}, nil
}

func (p *params) str(name string) string { return p.v.Get(name) }

func (p *params) intIn(name string, def, min, max int) (int, error) {
	s := p.v.Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, httpx.BadRequest("%s=%q is not an integer", name, httpx.Truncate(s, 32))
	}
	if n < min || n > max {
		return 0, httpx.BadRequest("%s=%d is out of range: want %d to %d", name, n, min, max)
	}
	return n, nil
}

// timeRange reads since/until: defaults [now-1h, now], bounded by MaxRange.
func (a *API) timeRange(p *params) (time.Time, time.Time, error) {
	now := a.now()
	since, err := httpx.ParseTime("since", p.str("since"), now)
	if err != nil {
		return since, since, err
	}
	until, err := httpx.ParseTime("until", p.str("until"), now)
	if err != nil {
		return since, until, err
	}
	if until.IsZero() {
		until = now
	}
	if since.IsZero() {
		since = until.Add(-DefaultSince)
	}
	if until.Before(since) {
		return since, until, httpx.BadRequest("until (%s) is before since (%s)", until.Format(time.RFC3339Nano), since.Format(time.RFC3339Nano))
	}
	if until.Sub(since) > a.MaxRange {
		return since, until, httpx.BadRequest("time range %s is wider than the maximum of %s", until.Sub(since), a.MaxRange)
	}
	return since, until, nil
}

// tenantFilters builds the WHERE terms common to logs and traces: the
// caller's namespaces, and the namespace/project/component/environment
// filters (names or uids).
func tenantFilters(pr *auth.Principal, p *params, sp store.Params) ([]string, error) {
	tenant, err := httpx.TenantClause(pr, "OpenChoreoNamespace", sp)
	if err != nil {
		return nil, err
	}
	where := []string{tenant}
	if ns := p.str("namespace"); ns != "" {
		if err := httpx.RequireNamespace(pr, ns); err != nil {
			return nil, err
		}
		where = append(where, "OpenChoreoNamespace = {f_namespace:String}")
		sp["f_namespace"] = ns
	}
	for _, f := range []struct{ name, col, uid string }{
		{"project", "OpenChoreoProject", "OpenChoreoProjectUID"},
		{"component", "OpenChoreoComponent", "OpenChoreoComponentUID"},
		{"environment", "OpenChoreoEnvironment", "OpenChoreoEnvironmentUID"},
	} {
		if v := p.str(f.name); v != "" {
			where = append(where, f.col+" = {f_"+f.name+":String} OR "+f.uid+" = {f_"+f.name+":String}")
			sp["f_"+f.name] = v
		}
	}
	return where, nil
}

func cond(where []string) string { return "(" + strings.Join(where, ") AND (") + ")" }

// LogLine is one log in /api/logs answers.
type LogLine struct {
	Timestamp   time.Time         `json:"timestamp"`
	Level       string            `json:"level"`
	Log         string            `json:"log"`
	Service     string            `json:"service"`
	Namespace   string            `json:"namespace,omitempty"`
	Project     string            `json:"project,omitempty"`
	Component   string            `json:"component,omitempty"`
	Environment string            `json:"environment,omitempty"`
	Pod         string            `json:"pod,omitempty"`
	Container   string            `json:"container,omitempty"`
	TraceID     string            `json:"traceId,omitempty"`
	SpanID      string            `json:"spanId,omitempty"`
	Attributes  map[string]string `json:"attributes,omitempty"`
	// Cursor resumes after this line.
	Cursor string `json:"cursor"`
}

// LogsResponse is the JSON answer of /api/logs.
type LogsResponse struct {
	Logs []LogLine `json:"logs"`
	// NextCursor continues the listing; empty when there is no more.
	NextCursor string `json:"nextCursor,omitempty"`
}

// cursor is the position after a row: its timestamp and row key. Rows are
// ordered by (Timestamp, key) descending, a total order, so "rows after the
// cursor" neither repeats nor skips rows that share a timestamp.
type cursor struct {
	TS  string `json:"t"`
	Key uint64 `json:"k"`
}

func encodeCursor(ts string, key uint64) string {
	b, _ := json.Marshal(cursor{ts, key})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (*cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, httpx.BadRequest("cursor is not valid (use nextCursor from a previous answer)")
	}
	var c cursor
	if err := json.Unmarshal(b, &c); err != nil || httpx.ParseCHTime(c.TS).IsZero() {
		return nil, httpx.BadRequest("cursor is not valid (use nextCursor from a previous answer)")
	}
	return &c, nil
}

// logRowKey is the row key of the logs adapter, which cursors encode.
const logRowKey = logsadapter.RowKey

var logLevels = map[string]bool{"DEBUG": true, "INFO": true, "WARN": true, "ERROR": true, "FATAL": true, "SEVERE": true}

func (a *API) logs(w http.ResponseWriter, r *http.Request) error {
	p, err := readParams(r, "component", "project", "environment", "namespace", "level", "q", "since", "until", "tail", "cursor", "service", "traceId")
	if err != nil {
		return err
	}
	ndjson := strings.Contains(r.Header.Get("Accept"), "application/x-ndjson")
	maxTail := MaxTail
	if ndjson {
		maxTail = MaxStreamRows
	}
	tail, err := p.intIn("tail", DefaultTail, 1, maxTail)
	if err != nil {
		return err
	}
	where, sp, since, until, err := a.scopedRange(r, p)
	if err != nil {
		return err
	}
	if s := p.str("service"); s != "" {
		where = append(where, "ServiceName = {f_service:String}")
		sp["f_service"] = s
	}
	if t := p.str("traceId"); t != "" {
		id, err := tracingadapter.ValidTraceID(t)
		if err != nil {
			return err
		}
		where = append(where, "TraceId = {f_trace:String}")
		sp["f_trace"] = id
	}
	var levels []string
	if lv := p.str("level"); lv != "" {
		var lvls []string
		for _, l := range strings.Split(lv, ",") {
			l = strings.ToUpper(strings.TrimSpace(l))
			if l == "WARNING" {
				l = "WARN"
			}
			if !logLevels[l] {
				return httpx.BadRequest("level=%q: want a comma-separated list of DEBUG, INFO, WARN, ERROR, FATAL", httpx.Truncate(lv, 64))
			}
			lvls = append(lvls, l)
		}
		where = append(where, "(("+logsadapter.LevelSQL+") IN {f_levels:Array(String)} OR (("+logsadapter.LevelSQL+") = '' AND multiSearchAnyCaseInsensitiveUTF8(Body, {f_levels:Array(String)})))")
		sp["f_levels"] = httpx.ArrayParam(lvls)
		levels = lvls
	}
	if q := p.str("q"); q != "" {
		term, err := searchTerm(q, sp)
		if err != nil {
			return err
		}
		where = append(where, term)
	}
	if c := p.str("cursor"); c != "" {
		cur, err := decodeCursor(c)
		if err != nil {
			return err
		}
		// Spelled out so the row key is only computed for rows that share
		// the cursor's timestamp (or short-circuits skip it).
		where = append(where, "(Timestamp < {c_ts:DateTime64(9, 'UTC')} OR (Timestamp = {c_ts:DateTime64(9, 'UTC')} AND "+logRowKey+" < {c_key:UInt64}))")
		sp["c_ts"], sp["c_key"] = cur.TS, strconv.FormatUint(cur.Key, 10)
	}
	c := cond(where)
	if ndjson {
		// A stream cannot be reordered after the fact, so the engine orders
		// ties itself. The newest tail rows all have a timestamp at or after
		// the tail-th newest one, so that bound is found first from the
		// Timestamp column alone, and the row key (a hash over the row) is
		// computed only for the rows past it rather than for every match.
		sql := `SELECT ` + logCols + ` FROM otel.otel_logs WHERE ` + c + ` AND Timestamp >= (SELECT min(Timestamp) FROM (SELECT Timestamp FROM otel.otel_logs WHERE ` + c + `
			ORDER BY Timestamp DESC LIMIT ` + strconv.Itoa(tail) + `))
		ORDER BY Timestamp DESC, rowKey DESC LIMIT ` + strconv.Itoa(tail)
		rows, err := a.Store.Query(r.Context(), sql, sp, streamSettings(a.Limits)...)
		if err != nil {
			return fmt.Errorf("logs: %w", err)
		}
		defer rows.Close()
		return streamLogs(w, rows, tail)
	}
	ch := func(ctx context.Context) (any, router.Result, error) {
		out, err := a.logsFromClickHouse(ctx, c, sp, tail)
		if err != nil {
			return nil, router.Result{}, err
		}
		return out, digestLogs(out), nil
	}
	var os router.Func
	if a.OpenSearch != nil && p.str("q") == "" && p.str("service") == "" && p.str("traceId") == "" && p.str("cursor") == "" {
		f := LogsFilter{Namespace: p.str("namespace"), Project: p.str("project"), Component: p.str("component"),
			Environment: p.str("environment"), Levels: levels, Since: since, Until: until, Tail: tail}
		os = func(ctx context.Context) (any, router.Result, error) {
			out, err := a.OpenSearch.QueryAPILogs(ctx, f)
			if err != nil {
				return nil, router.Result{}, err
			}
			return out, digestLogs(out), nil
		}
	}
	out, err := a.Router.Do(r.Context(), auth.FromContext(r.Context()).Subject, "api.logs", ch, os)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}

// logCols are the columns of a LogLine, with the row key that orders rows
// sharing a timestamp and that cursors carry.
const logCols = `toString(toTimeZone(Timestamp, 'UTC')) AS ts, ` + logRowKey + ` AS rowKey, Body, SeverityText, SeverityNumber, ServiceName,
	OpenChoreoNamespace, OpenChoreoProject, OpenChoreoComponent, OpenChoreoEnvironment, K8sPodName, K8sContainerName,
	TraceId, SpanId, LogAttributes`

// logsFromClickHouse reads the newest tail rows matching cond in (Timestamp,
// row key) order, descending (see logsadapter.ReadOrdered for how).
func (a *API) logsFromClickHouse(ctx context.Context, cond string, sp store.Params, tail int) (*LogsResponse, error) {
	rows, more, err := logsadapter.ReadOrdered[logRow](ctx, a.Store, a.Limits.Settings(), logCols, cond, sp, tail, true)
	if err != nil {
		return nil, fmt.Errorf("logs: %w", err)
	}
	out := &LogsResponse{Logs: make([]LogLine, 0, len(rows))}
	for _, r := range rows {
		out.Logs = append(out.Logs, r.line())
	}
	if more {
		out.NextCursor = out.Logs[len(out.Logs)-1].Cursor
	}
	return out, nil
}

// digestLogs identifies each line by its time and text, what both stores
// hold alike (cursors are ClickHouse's own), for the dual-read comparison.
func digestLogs(out *LogsResponse) router.Result {
	res := router.Result{Total: len(out.Logs)}
	for _, l := range out.Logs {
		// Milliseconds: what OpenSearch date fields keep.
		sum := sha256.Sum256([]byte(l.Timestamp.UTC().Truncate(time.Millisecond).Format(time.RFC3339Nano) + "\x00" + l.Log))
		res.IDs = append(res.IDs, hex.EncodeToString(sum[:8]))
	}
	return res
}

// streamSettings lift the row cap for a streamed answer (the tail bounds
// it) but keep the time and memory limits.
func streamSettings(l httpx.Limits) []store.Setting {
	s := l.Settings()
	for i := range s {
		if s[i].Name == "max_result_rows" {
			s[i].Value = strconv.Itoa(MaxStreamRows)
		}
	}
	return s
}

// streamLogs writes one JSON object per line as rows arrive. An error after
// the first line can no longer change the status, so it is written as a
// final {"error": ...} line.
func streamLogs(w http.ResponseWriter, rows store.Rows, tail int) error {
	w.Header().Set("Content-Type", "application/x-ndjson")
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	n := 0
	flusher, _ := w.(http.Flusher)
	started := false
	for rows.Next() {
		l, err := scanLog(rows)
		if err != nil {
			return err
		}
		if !started {
			w.WriteHeader(http.StatusOK)
			started = true
		}
		_ = enc.Encode(l)
		n++
		if n%1000 == 0 {
			_ = bw.Flush()
			if flusher != nil {
				flusher.Flush()
			}
		}
	}
	if err := rows.Err(); err != nil {
		if !started {
			return fmt.Errorf("logs: %w", err)
		}
		e := httpx.Classify(err)
		_ = enc.Encode(map[string]string{"error": e.Message})
	}
	if !started {
		w.WriteHeader(http.StatusOK)
	}
	return bw.Flush()
}

type logRow struct {
	Ts             string            `json:"ts"`
	RowKey         uint64            `json:"rowKey"`
	Body           string            `json:"Body"`
	SeverityText   string            `json:"SeverityText"`
	SeverityNumber int               `json:"SeverityNumber"`
	ServiceName    string            `json:"ServiceName"`
	Namespace      string            `json:"OpenChoreoNamespace"`
	Project        string            `json:"OpenChoreoProject"`
	Component      string            `json:"OpenChoreoComponent"`
	Environment    string            `json:"OpenChoreoEnvironment"`
	Pod            string            `json:"K8sPodName"`
	Container      string            `json:"K8sContainerName"`
	TraceID        string            `json:"TraceId"`
	SpanID         string            `json:"SpanId"`
	LogAttributes  map[string]string `json:"LogAttributes"`
}

func (r logRow) OrderKey() (string, uint64) { return r.Ts, r.RowKey }

func scanLog(rows store.Rows) (LogLine, error) {
	var r logRow
	if err := rows.Scan(&r); err != nil {
		return LogLine{}, fmt.Errorf("logs: decode row: %w", err)
	}
	return r.line(), nil
}

func (r *logRow) line() LogLine {
	l := LogLine{Timestamp: httpx.ParseCHTime(r.Ts), Level: logsadapter.DeriveLevel(r.SeverityNumber, r.SeverityText, r.Body),
		Log: r.Body, Service: r.ServiceName, Namespace: r.Namespace, Project: r.Project, Component: r.Component,
		Environment: r.Environment, Pod: r.Pod, Container: r.Container, TraceID: r.TraceID, SpanID: r.SpanID,
		Cursor: encodeCursor(r.Ts, r.RowKey)}
	if len(r.LogAttributes) > 0 {
		l.Attributes = r.LogAttributes
	}
	return l
}

// searchTerm translates q (Lucene-style: terms, "phrases", AND/OR/NOT,
// field:value) with internal/query's search parser. The parser's
// expression is rendered through a one-off scoped SELECT to obtain its SQL
// and parameters, which are renamed into this statement's parameters.
func searchTerm(q string, sp store.Params) (string, error) {
	expr, err := query.ParseSearch(q, query.LogsTable)
	if err != nil {
		var se *query.SyntaxError
		if errors.As(err, &se) {
			return "", httpx.BadRequest("q: %s", se.Error())
		}
		return "", httpx.BadRequest("q: %v", err)
	}
	return query.Fragment(expr, "q_p", sp), nil
}

// scopedRange starts every query of this API the same way: the caller's
// tenant scope and the request's namespace/project/component/environment
// filters, then the request's time range, as WHERE terms with their bound
// parameters.
func (a *API) scopedRange(r *http.Request, p *params) (where []string, sp store.Params, since, until time.Time, err error) {
	since, until, err = a.timeRange(p)
	if err != nil {
		return nil, nil, since, until, err
	}
	sp = store.Params{"since": httpx.TimeParam(since), "until": httpx.TimeParam(until)}
	where, err = tenantFilters(auth.FromContext(r.Context()), p, sp)
	if err != nil {
		return nil, nil, since, until, err
	}
	where = append(where, "Timestamp >= {since:DateTime64(9, 'UTC')}", "Timestamp <= {until:DateTime64(9, 'UTC')}")
	return where, sp, since, until, nil
}

func (a *API) query(ctx context.Context, sql string, sp store.Params, each func(store.Rows) error) error {
	return store.Each(ctx, a.Store, sql, sp, each, a.Limits.Settings()...)
}

// TraceResponse is GET /api/traces/{traceId}.
type TraceResponse struct {
	TraceID string      `json:"traceId"`
	Spans   []TraceSpan `json:"spans"`
}

// TraceSpan is a span with its service.
type TraceSpan struct {
	tracingadapter.Span
	Service string `json:"service"`
}

func (a *API) traceByID(w http.ResponseWriter, r *http.Request) error {
	if _, err := readParams(r); err != nil {
		return err
	}
	id, err := tracingadapter.ValidTraceID(r.PathValue("traceId"))
	if err != nil {
		return err
	}
	sp := store.Params{"trace": id}
	tenant, err := httpx.TenantClause(auth.FromContext(r.Context()), "OpenChoreoNamespace", sp)
	if err != nil {
		return err
	}
	out := TraceResponse{TraceID: id, Spans: []TraceSpan{}}
	err = a.query(r.Context(), "SELECT "+tracingadapter.SpanCols+" FROM otel.otel_traces WHERE ("+tenant+
		") AND TraceId = {trace:String} AND "+tracingadapter.TraceWindow+" ORDER BY Timestamp, SpanId LIMIT 10000", sp,
		func(rows store.Rows) error {
			var s tracingadapter.SpanRow
			if err := rows.Scan(&s); err != nil {
				return err
			}
			out.Spans = append(out.Spans, TraceSpan{Span: s.Span(true), Service: s.ServiceName})
			return nil
		})
	if err != nil {
		return fmt.Errorf("trace %s: %w", id, err)
	}
	if len(out.Spans) == 0 {
		return httpx.NotFound("trace %s not found", id)
	}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) traceLogs(w http.ResponseWriter, r *http.Request) error {
	p, err := readParams(r, "tail")
	if err != nil {
		return err
	}
	tail, err := p.intIn("tail", 1000, 1, MaxTail)
	if err != nil {
		return err
	}
	id, err := tracingadapter.ValidTraceID(r.PathValue("traceId"))
	if err != nil {
		return err
	}
	sp := store.Params{"trace": id}
	tenant, err := httpx.TenantClause(auth.FromContext(r.Context()), "OpenChoreoNamespace", sp)
	if err != nil {
		return err
	}
	out := LogsResponse{Logs: []LogLine{}}
	err = a.query(r.Context(), `SELECT `+logCols+` FROM otel.otel_logs WHERE (`+tenant+`) AND TraceId = {trace:String}
		ORDER BY Timestamp ASC, rowKey ASC LIMIT `+strconv.Itoa(tail), sp, func(rows store.Rows) error {
		l, err := scanLog(rows)
		out.Logs = append(out.Logs, l)
		return err
	})
	if err != nil {
		return fmt.Errorf("trace logs %s: %w", id, err)
	}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}

// TraceSearchResponse is GET /api/traces.
type TraceSearchResponse struct {
	Traces []tracingadapter.TraceSummary `json:"traces"`
}

var spanKinds = map[string]string{"server": "Server", "client": "Client", "internal": "Internal", "producer": "Producer", "consumer": "Consumer",
	"span_kind_server": "Server", "span_kind_client": "Client", "span_kind_internal": "Internal", "span_kind_producer": "Producer", "span_kind_consumer": "Consumer"}

func (a *API) traceSearch(w http.ResponseWriter, r *http.Request) error {
	p, err := readParams(r, "service", "operation", "minDuration", "maxDuration", "status", "since", "until", "limit",
		"namespace", "project", "component", "environment", "kind")
	if err != nil {
		return err
	}
	limit, err := p.intIn("limit", DefaultTraceLim, 1, MaxTraceLim)
	if err != nil {
		return err
	}
	where, sp, _, _, err := a.scopedRange(r, p)
	if err != nil {
		return err
	}
	// The span filters pick traces: a trace is listed when any of its
	// spans matches, and then summarized over all its spans in range.
	var match []string
	if s := p.str("service"); s != "" {
		match = append(match, "ServiceName = {f_service:String}")
		sp["f_service"] = s
	}
	if s := p.str("operation"); s != "" {
		match = append(match, "SpanName = {f_op:String}")
		sp["f_op"] = s
	}
	if s := p.str("kind"); s != "" {
		k, ok := spanKinds[strings.ToLower(s)]
		if !ok {
			return httpx.BadRequest("kind=%q: want server, client, internal, producer or consumer", httpx.Truncate(s, 32))
		}
		match = append(match, "SpanKind = {f_kind:String}")
		sp["f_kind"] = k
	}
	for _, d := range []struct{ name, op string }{{"minDuration", ">="}, {"maxDuration", "<="}} {
		if s := p.str(d.name); s != "" {
			dur, err := time.ParseDuration(s)
			if err != nil || dur < 0 {
				return httpx.BadRequest("%s=%q: want a duration such as 250ms or 2s", d.name, httpx.Truncate(s, 32))
			}
			match = append(match, "Duration "+d.op+" {f_"+d.name+":UInt64}")
			sp["f_"+d.name] = strconv.FormatInt(dur.Nanoseconds(), 10)
		}
	}
	if s := p.str("status"); s != "" {
		m := map[string]string{"error": "Error", "ok": "Ok", "unset": "Unset"}[strings.ToLower(s)]
		if m == "" {
			return httpx.BadRequest("status=%q: want error, ok or unset", httpx.Truncate(s, 32))
		}
		match = append(match, "StatusCode = {f_status:String}")
		sp["f_status"] = m
	}
	c := cond(where)
	if len(match) > 0 {
		c += " AND TraceId IN (SELECT TraceId FROM otel.otel_traces WHERE " + c + " AND " + cond(match) + ")"
	}
	out := TraceSearchResponse{Traces: []tracingadapter.TraceSummary{}}
	err = a.query(r.Context(), tracingadapter.TraceListSQL(c, "DESC", limit), sp, func(rows store.Rows) error {
		var t tracingadapter.TraceRow
		if err := rows.Scan(&t); err != nil {
			return err
		}
		out.Traces = append(out.Traces, t.Summary())
		return nil
	})
	if err != nil {
		return fmt.Errorf("trace search: %w", err)
	}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}

// Edge is one caller->callee pair of the service topology.
type Edge struct {
	Parent    string  `json:"parent"`
	Child     string  `json:"child"`
	Calls     uint64  `json:"calls"`
	Errors    uint64  `json:"errors"`
	ErrorRate float64 `json:"errorRate"`
	P50Ms     float64 `json:"p50Ms"`
	P95Ms     float64 `json:"p95Ms"`
	P99Ms     float64 `json:"p99Ms"`
}

// TopologyResponse is GET /api/topology.
type TopologyResponse struct {
	Edges []Edge `json:"edges"`
}

func (a *API) topology(w http.ResponseWriter, r *http.Request) error {
	p, err := readParams(r, "since", "until", "namespace", "project", "component", "environment")
	if err != nil {
		return err
	}
	where, sp, _, _, err := a.scopedRange(r, p)
	if err != nil {
		return err
	}
	c := cond(where)
	// Parent/child self-join of otel_traces_edges (one narrow row per span,
	// its key and its parent's pre-hashed from the trace and span ids by a
	// view at insert; schema migration 7): the join reads no id strings.
	// Edges are what ClickStack's service map draws: a call received
	// (Server or Consumer span) under a call made (Client or Producer) in
	// another service; the table is sorted by that side, so each side of
	// the join reads only its own spans (78 ms against 166 ms at 1M).
	// Services travel through the join and the grouping as 64-bit hashes
	// too, and get their names back from the range's (few) distinct
	// services, read at the same time: at 1M spans this measured 150 ms
	// against 190 ms carrying the names. Both sides are read under the same
	// tenant scope, and only pairs where the service changes are edges.
	// Latency and errors are the child's (the callee's). A hash collision
	// could at worst misattribute one call among billions.
	edgesSQL := `SELECT toString(p.sk) AS parent, toString(c.sk) AS child, count() AS calls, sum(c.IsError) AS errors,
		quantiles(0.5, 0.95, 0.99)(c.Duration) AS q, q[1] / 1e6 AS p50, q[2] / 1e6 AS p95, q[3] / 1e6 AS p99
		FROM (SELECT ParentKey, cityHash64(ServiceName) AS sk, IsError, Duration FROM otel.otel_traces_edges WHERE Side = 1 AND ` + c + ` AND ParentKey != 0) AS c
		INNER JOIN (SELECT SpanKey, cityHash64(ServiceName) AS sk FROM otel.otel_traces_edges WHERE Side = 2 AND ` + c + `) AS p
		ON c.ParentKey = p.SpanKey
		WHERE p.sk != c.sk
		GROUP BY p.sk, c.sk ORDER BY calls DESC LIMIT 10000`
	namesSQL := `SELECT toString(cityHash64(s)) AS k, toString(s) AS name FROM (SELECT DISTINCT ServiceName AS s FROM otel.otel_traces_edges WHERE ` + c + `)`
	names := map[string]string{}
	namesDone := make(chan error, 1)
	go func() {
		namesDone <- a.query(r.Context(), namesSQL, sp, func(rows store.Rows) error {
			var n struct{ K, Name string }
			if err := rows.Scan(&n); err != nil {
				return err
			}
			names[n.K] = n.Name
			return nil
		})
	}()
	type edgeRow struct {
		Parent, Child string // service hashes, as decimal text
		Calls, Errors uint64
		P50, P95, P99 float64
	}
	var rowsOut []edgeRow
	err = a.query(r.Context(), edgesSQL, sp, func(rows store.Rows) error {
		var e edgeRow
		if err := rows.Scan(&e); err != nil {
			return err
		}
		rowsOut = append(rowsOut, e)
		return nil
	})
	if nerr := <-namesDone; err == nil {
		err = nerr
	}
	if err != nil {
		return fmt.Errorf("topology: %w", err)
	}
	out := TopologyResponse{Edges: make([]Edge, 0, len(rowsOut))}
	for _, e := range rowsOut {
		edge := Edge{Parent: names[e.Parent], Child: names[e.Child], Calls: e.Calls, Errors: e.Errors, P50Ms: e.P50, P95Ms: e.P95, P99Ms: e.P99}
		if e.Calls > 0 {
			edge.ErrorRate = float64(e.Errors) / float64(e.Calls)
		}
		out.Edges = append(out.Edges, edge)
	}
	slices.SortFunc(out.Edges, func(x, y Edge) int {
		if x.Calls != y.Calls {
			return cmp.Compare(y.Calls, x.Calls)
		}
		return cmp.Or(strings.Compare(x.Parent, y.Parent), strings.Compare(x.Child, y.Child))
	})
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}

// LatencyPoint is one 5-minute bucket of one service's SERVER spans.
type LatencyPoint struct {
	Service string    `json:"service"`
	Bucket  time.Time `json:"bucket"`
	Count   uint64    `json:"count"`
	P50Ms   float64   `json:"p50Ms"`
	P95Ms   float64   `json:"p95Ms"`
	P99Ms   float64   `json:"p99Ms"`
}

// LatencyResponse is GET /api/latency.
type LatencyResponse struct {
	Points []LatencyPoint `json:"points"`
}

func (a *API) latency(w http.ResponseWriter, r *http.Request) error {
	p, err := readParams(r, "since", "until", "service", "namespace", "project", "component", "environment")
	if err != nil {
		return err
	}
	where, sp, _, _, err := a.scopedRange(r, p)
	if err != nil {
		return err
	}
	where = append(where, "SpanKind IN ('Server', 'SPAN_KIND_SERVER')")
	if s := p.str("service"); s != "" {
		where = append(where, "ServiceName = {f_service:String}")
		sp["f_service"] = s
	}
	sql := `SELECT ServiceName AS service, toString(toStartOfFiveMinutes(Timestamp)) AS bucket, count() AS n,
		quantile(0.5)(Duration) / 1e6 AS p50, quantile(0.95)(Duration) / 1e6 AS p95, quantile(0.99)(Duration) / 1e6 AS p99
		FROM otel.otel_traces WHERE ` + cond(where) + `
		GROUP BY service, toStartOfFiveMinutes(Timestamp) ORDER BY service, bucket LIMIT 100000`
	out := LatencyResponse{Points: []LatencyPoint{}}
	err = a.query(r.Context(), sql, sp, func(rows store.Rows) error {
		var v struct {
			Service, Bucket string
			N               uint64
			P50, P95, P99   float64
		}
		if err := rows.Scan(&v); err != nil {
			return err
		}
		out.Points = append(out.Points, LatencyPoint{Service: v.Service, Bucket: httpx.ParseCHTime(v.Bucket), Count: v.N, P50Ms: v.P50, P95Ms: v.P95, P99Ms: v.P99})
		return nil
	})
	if err != nil {
		return fmt.Errorf("latency: %w", err)
	}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}

// ErrorGroup is one (service, span name, message) group of error spans.
type ErrorGroup struct {
	Service     string    `json:"service"`
	SpanName    string    `json:"spanName"`
	Message     string    `json:"message"`
	Count       uint64    `json:"count"`
	FirstSeen   time.Time `json:"firstSeen"`
	LastSeen    time.Time `json:"lastSeen"`
	SampleTrace string    `json:"sampleTraceId"`
}

// ErrorsResponse is GET /api/errors.
type ErrorsResponse struct {
	Errors []ErrorGroup `json:"errors"`
}

func (a *API) errorsByGroup(w http.ResponseWriter, r *http.Request) error {
	p, err := readParams(r, "since", "until", "service", "namespace", "project", "component", "environment", "limit")
	if err != nil {
		return err
	}
	limit, err := p.intIn("limit", 100, 1, 1000)
	if err != nil {
		return err
	}
	where, sp, _, _, err := a.scopedRange(r, p)
	if err != nil {
		return err
	}
	where = append(where, "StatusCode IN ('Error', 'STATUS_CODE_ERROR')")
	if s := p.str("service"); s != "" {
		where = append(where, "ServiceName = {f_service:String}")
		sp["f_service"] = s
	}
	sql := `SELECT ServiceName AS service, SpanName AS spanName, StatusMessage AS message, count() AS n,
		toString(min(Timestamp)) AS first, toString(max(Timestamp)) AS last, any(TraceId) AS sample
		FROM otel.otel_traces WHERE ` + cond(where) + `
		GROUP BY service, spanName, message ORDER BY n DESC, service, spanName, message LIMIT ` + strconv.Itoa(limit)
	out := ErrorsResponse{Errors: []ErrorGroup{}}
	err = a.query(r.Context(), sql, sp, func(rows store.Rows) error {
		var v struct {
			Service, SpanName, Message, First, Last, Sample string
			N                                               uint64
		}
		if err := rows.Scan(&v); err != nil {
			return err
		}
		out.Errors = append(out.Errors, ErrorGroup{Service: v.Service, SpanName: v.SpanName, Message: v.Message, Count: v.N,
			FirstSeen: httpx.ParseCHTime(v.First), LastSeen: httpx.ParseCHTime(v.Last), SampleTrace: v.Sample})
		return nil
	})
	if err != nil {
		return fmt.Errorf("errors: %w", err)
	}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}

// AlertRulesResponse is GET /api/alerts/rules.
type AlertRulesResponse struct {
	Rules []logsadapter.AlertRuleResponse `json:"rules"`
}

func (a *API) alertRules(w http.ResponseWriter, r *http.Request) error {
	if _, err := readParams(r); err != nil {
		return err
	}
	out := AlertRulesResponse{Rules: []logsadapter.AlertRuleResponse{}}
	if a.Alerts == nil {
		httpx.WriteJSON(w, http.StatusOK, out)
		return nil
	}
	rules, err := a.Alerts.List(r.Context())
	if err != nil {
		return err
	}
	states, err := a.Alerts.States(r.Context())
	if err != nil {
		return err
	}
	pr := auth.FromContext(r.Context())
	for i := range rules {
		if pr.Allows(rules[i].Namespace) {
			out.Rules = append(out.Rules, logsadapter.RuleResponse(&rules[i], alerts.StateOf(&rules[i], states)))
		}
	}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}
