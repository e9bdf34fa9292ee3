package metricsadapter_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/openchoreo/obsplane/internal/api/httpx"
	"github.com/openchoreo/obsplane/internal/api/metricsadapter"
)

// FuzzQueryRequest: any body either parses into a query whose range has
// at most the allowed points, or is refused with a 400; nothing panics.
func FuzzQueryRequest(f *testing.F) {
	f.Add(`{"metric":"resource","startTime":"2026-03-01T10:00:00Z","endTime":"2026-03-01T11:00:00Z","step":"1m","searchScope":{"namespace":"org"}}`)
	f.Add(`{"metric":"http","startTime":"2026-03-01T10:00:00Z","endTime":"2026-03-01T10:00:00Z","step":"1ns","searchScope":{"namespace":"org","componentUid":"a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"}}`)
	f.Add(`{"metric":"x","step":"-1d"}`)
	f.Fuzz(func(t *testing.T, body string) {
		var req metricsadapter.QueryRequest
		if err := json.Unmarshal([]byte(body), &req); err != nil {
			return
		}
		q, err := metricsadapter.ParseQuery(req, 30*24*time.Hour, metricsadapter.DefaultMaxPoints)
		if err != nil {
			var e *httpx.Error
			if !errors.As(err, &e) || e.Status != http.StatusBadRequest {
				t.Fatalf("refusal is not a 400: %v", err)
			}
			return
		}
		if n := q.Range.Steps(); n < 1 || n > metricsadapter.DefaultMaxPoints || q.Scope.Namespace == "" {
			t.Fatalf("accepted a query with %d steps, scope %+v", n, q.Scope)
		}
	})
}

// FuzzAlertRuleRequest: any alert rule body (as the Observer forwards it,
// source.type included) becomes a rule of cpu_usage or memory_usage with
// its required fields, or is refused with a 400; nothing panics.
func FuzzAlertRuleRequest(f *testing.F) {
	f.Add(`{"metadata":{"name":"api-cpu","namespace":"org","projectUid":"5b8c1a2e-0f3d-4c6b-9a7e-1d2c3b4a5f60","environmentUid":"9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b","componentUid":"a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"},"source":{"type":"metric","metric":"cpu_usage"},"condition":{"enabled":true,"window":"5m","interval":"1m","operator":"gt","threshold":80}}`)
	f.Add(`{"metadata":{"name":"b"},"source":{"type":"budget","metric":"budget"},"condition":{}}`)
	f.Add(`{"source":{"type":"log","query":"x"}}`)
	f.Fuzz(func(t *testing.T, body string) {
		var req metricsadapter.AlertRuleRequest
		if err := json.Unmarshal([]byte(body), &req); err != nil {
			return
		}
		r, err := req.Rule()
		if err != nil {
			var e *httpx.Error
			if !errors.As(err, &e) || e.Status != http.StatusBadRequest {
				t.Fatalf("refusal is not a 400: %v", err)
			}
			return
		}
		if (r.Metric != "cpu_usage" && r.Metric != "memory_usage") || r.Name == "" || r.Namespace == "" {
			t.Fatalf("accepted rule %+v", r)
		}
		if typ := req.Source.Type; typ != nil && *typ != "metric" && *typ != "budget" {
			t.Fatalf("accepted source.type %q", *typ)
		}
	})
}
