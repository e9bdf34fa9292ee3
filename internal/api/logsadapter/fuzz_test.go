package logsadapter

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openchoreo/obsplane/internal/api/httpx"
)

const maxRange = 30 * 24 * time.Hour

// want4xx fails unless err is a 4xx naming the problem, as httpx answers it.
func want4xx(t *testing.T, body string, err error) {
	t.Helper()
	if e := httpx.Classify(err); e.Status/100 != 4 || e.Message == "" {
		t.Fatalf("%q: error %v answers %d", body, err, e.Status)
	}
}

func post(body string) *http.Request {
	return httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
}

// FuzzLogsQueryRequest: any body of POST /api/v1/logs/query is refused with
// a 4xx naming the problem, or is a query the contract allows.
func FuzzLogsQueryRequest(f *testing.F) {
	for _, s := range []string{
		`{"startTime":"2026-01-01T00:00:00Z","endTime":"2026-01-02T00:00:00Z","searchScope":{"namespace":"a"}}`,
		`{"startTime":"2026-01-01T00:00:00Z","endTime":"2026-01-02T00:00:00Z","searchScope":{"namespace":"a","workflowRunName":"r","taskName":"t"},"limit":5,"sortOrder":"asc"}`,
		`{"startTime":"2026-01-01T00:00:00Z","endTime":"2025-01-02T00:00:00Z","searchScope":{"namespace":"a"},"logLevels":["ERROR","ERROR"]}`,
		`{"searchScope":null}`, `[]`, `{"limit":1e99}`, `{"searchPhrase":"x","logLevels":["warn"]}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var req LogsQueryRequest
		if err := httpx.DecodeJSON(post(body), &req); err != nil {
			want4xx(t, body, err)
			return
		}
		q, err := ParseLogsQuery(req, maxRange)
		if err != nil {
			want4xx(t, body, err)
			return
		}
		if q.Limit < 1 || q.Limit > MaxLimit || q.End.Before(q.Start) || q.End.Sub(q.Start) > maxRange ||
			strings.TrimSpace(q.Namespace) == "" || len(q.Phrase) > MaxPhrase || (q.TaskName != "" && !q.Workflow()) {
			t.Fatalf("%q: accepted %+v", body, q)
		}
		for _, l := range q.Levels {
			if !validLevels[l] {
				t.Fatalf("%q: level %q accepted", body, l)
			}
		}
	})
}

// FuzzAlertRuleRequest: any body of the alert rule endpoints is refused
// with a 4xx naming the problem, or is a rule that validates.
func FuzzAlertRuleRequest(f *testing.F) {
	for _, s := range []string{
		`{"metadata":{"name":"r","namespace":"a","projectUid":"11111111-1111-4111-8111-111111111111","environmentUid":"11111111-1111-4111-8111-111111111111","componentUid":"11111111-1111-4111-8111-111111111111"},"source":{"query":"error"},"condition":{"enabled":true,"window":"5m","interval":"1m","operator":"gt","threshold":3}}`,
		`{"metadata":{}}`, `{"condition":{"window":"5s"}}`, `null`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var req AlertRuleRequest
		if err := httpx.DecodeJSON(post(body), &req); err != nil {
			want4xx(t, body, err)
			return
		}
		r, err := req.rule()
		if err != nil {
			want4xx(t, body, err)
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("%q: accepted a rule that does not validate: %v", body, err)
		}
	})
}
