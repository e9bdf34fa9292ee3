package obsplaneapi

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/openchoreo/obsplane/internal/api/httpx"
	"github.com/openchoreo/obsplane/internal/readmodel"
)

// FuzzLogsParams: any query string of /api/logs is either refused with a
// 4xx naming the problem or parsed into a filter the read model can run
// (limit in range, window in order and within the maximum, a cursor that
// encodes back to itself).
func FuzzLogsParams(f *testing.F) {
	for _, s := range []string{"component=gateway&tail=10", "since=2h&until=1h", "level=warning,ERROR&q=a OR b",
		"tail=0", "cursor=eyJ0IjoiMjAyNi0wMS0wMiAwMzowNDowNS4wMDAwMDAwMDAiLCJrIjo3fQ", "traceId=zz", "since=7d&until=2026-01-01T00:00:00Z",
		"namespace=a&namespace=b", "%zz", "tail=1000000", "servce=x"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	a := &API{MaxRange: 30 * 24 * time.Hour, Now: func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }}
	f.Fuzz(func(t *testing.T, raw string, ndjson bool) {
		r := httptest.NewRequest(http.MethodGet, "/api/logs", nil)
		r.URL.RawQuery = raw
		if ndjson {
			r.Header.Set("Accept", "application/x-ndjson")
		}
		fl, stream, err := a.logFilter(r)
		if err != nil {
			var he *httpx.Error
			if !errors.As(err, &he) || he.Status/100 != 4 || he.Message == "" {
				t.Fatalf("%q: error %v is not a 4xx naming the problem", raw, err)
			}
			return
		}
		max := MaxTail
		if stream {
			max = MaxStreamRows
		}
		if stream != ndjson || fl.Limit < 1 || fl.Limit > max || fl.Until.Before(fl.Since) || fl.Until.Sub(fl.Since) > a.MaxRange {
			t.Fatalf("%q: accepted %+v (stream %v)", raw, fl, stream)
		}
		if fl.After != nil {
			back, err := decodeCursor(encodeCursor(fl.After))
			if err != nil || *back != *fl.After {
				t.Fatalf("%q: cursor %+v does not round-trip: %+v %v", raw, fl.After, back, err)
			}
		}
		for _, l := range fl.Levels {
			if !logLevels[l] {
				t.Fatalf("%q: level %q accepted", raw, l)
			}
		}
	})
}

// TestCursorRoundTrip: a line's cursor decodes to the position it encodes,
// nanoseconds included.
func TestCursorRoundTrip(t *testing.T) {
	c := &readmodel.Cursor{Time: time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC), Key: 1<<63 + 5}
	got, err := decodeCursor(encodeCursor(c))
	if err != nil || !got.Time.Equal(c.Time) || got.Key != c.Key {
		t.Fatalf("%+v -> %+v, %v", c, got, err)
	}
	if encodeCursor(nil) != "" {
		t.Fatal("a line without a position has a cursor")
	}
	for _, bad := range []string{"!!", url.QueryEscape("e30"), "eyJ0IjoieCJ9"} {
		if _, err := decodeCursor(bad); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
}
