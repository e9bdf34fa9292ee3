package tracingadapter

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openchoreo/obsplane/internal/api/httpx"
)

// FuzzTracesQueryRequest: any body of the traces and spans queries is
// refused with a 4xx naming the problem, or is a query the contract allows.
func FuzzTracesQueryRequest(f *testing.F) {
	for _, s := range []string{
		`{"startTime":"2026-01-01T00:00:00Z","endTime":"2026-01-02T00:00:00Z","searchScope":{"namespace":"a","component":"c"},"includeAttributes":true}`,
		`{"startTime":"x","endTime":"2026-01-02T00:00:00Z","searchScope":{"namespace":" "}}`,
		`{"limit":0}`, `{"sortOrder":"up"}`, `{}`,
	} {
		f.Add(s)
	}
	const maxRange = 30 * 24 * time.Hour
	f.Fuzz(func(t *testing.T, body string) {
		var req TracesQueryRequest
		err := httpx.DecodeJSON(httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body)), &req)
		if err == nil {
			q, perr := ParseTracesQuery(req, maxRange)
			if perr == nil {
				if q.Limit < 1 || q.Limit > MaxLimit || q.End.Before(q.Start) || q.End.Sub(q.Start) > maxRange ||
					strings.TrimSpace(q.Namespace) == "" || len(q.Namespace) > MaxScopeValue {
					t.Fatalf("%q: accepted %+v", body, q)
				}
				return
			}
			err = perr
		}
		if e := httpx.Classify(err); e.Status/100 != 4 || e.Message == "" {
			t.Fatalf("%q: error %v answers %d", body, err, e.Status)
		}
	})
}

// FuzzIDs: trace and span ids are hex or refused with a 400.
func FuzzIDs(f *testing.F) {
	for _, s := range []string{"0af7651916cd43dd8448eb211c80319c", "ZZ", "", strings.Repeat("a", 65)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		got, err := ValidTraceID(id)
		if err != nil {
			if httpx.Classify(err).Status != 400 {
				t.Fatalf("%q: %v", id, err)
			}
			return
		}
		if !hexID.MatchString(got) || got != strings.ToLower(got) {
			t.Fatalf("%q accepted as %q", id, got)
		}
	})
}
