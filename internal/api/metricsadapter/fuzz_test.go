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
