package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openchoreo/obsplane/internal/alerts"
	"github.com/openchoreo/obsplane/internal/api/auth"
	"github.com/openchoreo/obsplane/internal/api/flagsapi"
	"github.com/openchoreo/obsplane/internal/api/httpx"
	"github.com/openchoreo/obsplane/internal/api/logsadapter"
	"github.com/openchoreo/obsplane/internal/api/obsplaneapi"
	"github.com/openchoreo/obsplane/internal/api/tracingadapter"
	"github.com/openchoreo/obsplane/internal/readmodel/clickhouse"
)

// The HTTP fuzz targets send what the fuzzer makes through the real
// handlers (decoding, validation, the read on the engine, the answer) of
// every entry point: none may answer 5xx, and every 4xx is the JSON error
// body naming the problem.

var (
	fuzzOnce                       sync.Once
	fuzzAPI, fuzzLogs, fuzzTracing http.Handler
)

func fuzzHandlers(t *testing.T) {
	fuzzOnce.Do(func() {
		st := setup(t)
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		reads, err := clickhouse.New(st, "otel", clickhouse.DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		am := &alerts.Manager{Store: st, Reads: reads, Log: log, Now: func() time.Time { return base }}
		fuzzLogs = (&logsadapter.Handler{Reads: reads, Health: st, Auth: auth.None{}, Log: log, Alerts: am}).Routes()
		fuzzTracing = (&tracingadapter.Handler{Reads: reads, Health: st, Auth: auth.None{}, Log: log}).Routes()
		mux := http.NewServeMux()
		(&obsplaneapi.API{Reads: reads, Auth: auth.None{}, Log: log, Alerts: am, Now: func() time.Time { return base }}).Mount(mux)
		(&flagsapi.API{Router: testRouter(t, st), Auth: auth.None{}}).Mount(mux)
		fuzzAPI = httpx.JSONErrors(mux, false)
	})
}

// serveFuzz runs req through h and checks the answer.
func serveFuzz(t *testing.T, h http.Handler, req *http.Request) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code >= 500 {
		t.Fatalf("%s %s: %d %s", req.Method, req.URL, rec.Code, rec.Body.String())
	}
	if rec.Code >= 400 {
		var e struct{ Title, Message string }
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Title == "" || e.Message == "" {
			t.Fatalf("%s %s: %d without an error body naming the problem: %q", req.Method, req.URL, rec.Code, rec.Body.String())
		}
	}
}

// getRoutes are the GET entry points; {id} takes the fuzzed path value.
var getRoutes = []string{"/api/logs", "/api/traces", "/api/traces/{id}", "/api/traces/{id}/logs", "/api/topology",
	"/api/latency", "/api/errors", "/api/alerts/rules", "/api/v1/flags", "/api/v1/flags/{id}", "/api/v1/flags/{id}/audit",
	"/api/v1/router/mismatches", "/api/v1/router/status"}

// FuzzAPIGet: any query string and path value on any GET entry point of
// :8080, with and without Accept: application/x-ndjson.
func FuzzAPIGet(f *testing.F) {
	for i, q := range []string{"component=gateway&tail=10", "since=2h&until=1h", "level=warn,ERROR&q=a OR b", "tail=",
		"limit=0", "since=2262-04-12T00:00:00Z", "q=\"x", "cursor=eyJ0IjoiMjAyNi0wMS0wMiIsImsiOjF9", "kind=SERVER&status=error",
		"minDuration=1h30m&maxDuration=-1s", "namespace=ns-b&traceId=zz", "%zz", "limit=1000&op=api.logs"} {
		f.Add(byte(i), q, traceA, i%2 == 0)
	}
	f.Add(byte(2), "", "use_clickhouse", false)
	f.Fuzz(func(t *testing.T, route byte, rawQuery, id string, ndjson bool) {
		fuzzHandlers(t)
		path := strings.ReplaceAll(getRoutes[int(route)%len(getRoutes)], "{id}", url.PathEscape(id))
		req, err := http.NewRequest("GET", "http://x"+path, nil)
		if err != nil || id == "" && strings.Contains(getRoutes[int(route)%len(getRoutes)], "{id}") {
			return
		}
		req.URL.RawQuery = rawQuery
		if ndjson {
			req.Header.Set("Accept", "application/x-ndjson")
		}
		serveFuzz(t, fuzzAPI, req)
	})
}

// bodyRoutes are the entry points that read a body.
var bodyRoutes = []struct {
	h      *http.Handler
	method string
	path   string
}{
	{&fuzzAPI, "POST", "/api/v1/ppl"},
	{&fuzzAPI, "PATCH", "/api/v1/flags/use_clickhouse"},
	{&fuzzLogs, "POST", "/api/v1/logs/query"},
	{&fuzzLogs, "POST", "/api/v1/events/query"},
	{&fuzzLogs, "POST", "/api/v1alpha1/alerts/rules"},
	{&fuzzLogs, "PUT", "/api/v1alpha1/alerts/rules/fuzz-rule"},
	{&fuzzLogs, "POST", "/api/v1alpha1/alerts/webhook"},
	{&fuzzTracing, "POST", "/api/v1alpha1/traces/query"},
	{&fuzzTracing, "POST", "/api/v1alpha1/traces/" + traceA + "/spans/query"},
}

// FuzzAPIBody: any body on every entry point that reads one.
func FuzzAPIBody(f *testing.F) {
	window := `"startTime":"2026-03-01T11:00:00Z","endTime":"2026-03-01T12:00:00Z"`
	for i, b := range []string{
		`{"query":"source=logs | stats count() by service"}`,
		`{"rolloutPercentage":20,"reason":"fuzz"}`,
		`{` + window + `,"searchScope":{"namespace":"ns-a"},"limit":10,"logLevels":["ERROR"],"searchPhrase":"error"}`,
		`{` + window + `,"searchScope":{"namespace":"ns-a","workflowRunName":"build-42"}}`,
		`{"metadata":{"name":"fuzz-rule","namespace":"ns-a"},"source":{"query":"error"},"condition":{"enabled":true,"window":"5m","interval":"1m","operator":"gt","threshold":1}}`,
		`{"metadata":{"name":"fuzz-rule","namespace":"ns-a"},"source":{"query":"x"},"condition":{"window":"1h"}}`,
		`{"ruleName":"fuzz-rule","ruleNamespace":"ns-a","alertValue":3,"alertTimestamp":"2026-03-01T12:00:00Z"}`,
		`{` + window + `,"searchScope":{"namespace":"ns-a"},"limit":5,"sortOrder":"desc"}`,
		`{` + window + `,"limit":5}`,
		`{"startTime":"2262-04-12T00:00:00Z"}`, `[]`, `{"query":1}`, ``, `{"a":`,
	} {
		f.Add(byte(i), []byte(b))
	}
	f.Fuzz(func(t *testing.T, route byte, body []byte) {
		fuzzHandlers(t)
		rt := bodyRoutes[int(route)%len(bodyRoutes)]
		req, _ := http.NewRequest(rt.method, "http://x"+rt.path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		serveFuzz(t, *rt.h, req)
	})
}
