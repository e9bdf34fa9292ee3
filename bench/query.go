package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"time"

	"github.com/openchoreo/obsplane/internal/api/logsadapter"
	"github.com/openchoreo/obsplane/internal/api/obsplaneapi"
	"github.com/openchoreo/obsplane/internal/opensearch"
	"github.com/openchoreo/obsplane/internal/readmodel/clickhouse"
	"github.com/openchoreo/obsplane/internal/store"
)

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

// call GETs url, or POSTs body as JSON when body is set, and reads the whole
// answer (the client's cost of a streamed answer is part of the API's time).
func call(ctx context.Context, url, body string) ([]byte, error) {
	method := http.MethodGet
	var r io.Reader
	if body != "" {
		method, r = http.MethodPost, strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: read answer: %w", method, url, err)
	}
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("%s %s: %d %.200s", method, url, resp.StatusCode, b)
	}
	return b, nil
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

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
