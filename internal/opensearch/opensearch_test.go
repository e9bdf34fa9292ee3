package opensearch

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/opensearch-project/opensearch-go/v4/opensearchapi"

	"github.com/openchoreo/obsplane/internal/opensearch/opensearchtest"
)

// osURL is the real OpenSearch the tests use; empty when skipped.
var (
	osURL      string
	skipReason string
)

// TestMain starts the real single-node OpenSearch once for the package
// (scripts/opensearch.sh is idempotent: an already running node is reused).
// Only OBSPLANE_SKIP_OPENSEARCH=1 skips the server tests; a node that cannot
// start fails the run.
func TestMain(m *testing.M) {
	osURL, skipReason = opensearchtest.ForMain("internal/opensearch")
	// The node is left running for the other packages of this `go test`
	// run; `scripts/opensearch.sh stop` ends it.
	os.Exit(m.Run())
}

func newTestClient(t *testing.T) *Client {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
	c, err := New(osURL)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// testDay is a day no real data uses, random per run so concurrent runs
// against one node do not share indices.
func testDay() time.Time {
	return time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, rand.IntN(3000))
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func deleteIndexAfter(t *testing.T, c *Client, index string) {
	t.Cleanup(func() {
		_, _ = c.API.Indices.Delete(context.Background(), opensearchapi.IndicesDeleteReq{
			Indices: []string{index},
			Params:  opensearchapi.IndicesDeleteParams{IgnoreUnavailable: opensearchapi.ToPointer(true)},
		})
	})
}

func TestEnsureTemplatesInstallsOpenChoreoTemplates(t *testing.T) {
	c := newTestClient(t)
	ctx := ctxT(t)
	// Twice: the second run must be a harmless overwrite.
	for i := 0; i < 2; i++ {
		if err := c.EnsureTemplates(ctx); err != nil {
			t.Fatalf("EnsureTemplates (run %d): %v", i+1, err)
		}
	}
	want, err := Templates()
	if err != nil {
		t.Fatal(err)
	}
	for _, tmpl := range want {
		resp, err := c.API.IndexTemplate.Get(ctx, &opensearchapi.IndexTemplateGetReq{IndexTemplates: tmpl.Name})
		if err != nil {
			t.Fatalf("get template %s: %v", tmpl.Name, err)
		}
		if len(resp.IndexTemplates) != 1 {
			t.Fatalf("get template %s: got %d templates", tmpl.Name, len(resp.IndexTemplates))
		}
		var wantBody struct {
			IndexPatterns []string `json:"index_patterns"`
			Template      struct {
				Mappings json.RawMessage `json:"mappings"`
			} `json:"template"`
		}
		if err := json.Unmarshal(tmpl.Body, &wantBody); err != nil {
			t.Fatal(err)
		}
		got := resp.IndexTemplates[0].IndexTemplate
		if strings.Join(got.IndexPatterns, ",") != strings.Join(wantBody.IndexPatterns, ",") {
			t.Errorf("template %s: index_patterns %v, want %v", tmpl.Name, got.IndexPatterns, wantBody.IndexPatterns)
		}
		if g, w := canonical(t, got.Template.Mappings), canonical(t, wantBody.Template.Mappings); g != w {
			t.Errorf("template %s: stored mappings differ\n got: %s\nwant: %s", tmpl.Name, g, w)
		}
	}
}

func canonical(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	b, _ := json.Marshal(v) // map keys come out sorted
	return string(b)
}

// bulkIndex writes NDJSON docs into index through _bulk with refresh=true and
// fails on any item error.
func bulkIndex(t *testing.T, c *Client, index string, docs ...map[string]any) {
	t.Helper()
	var body bytes.Buffer
	for _, d := range docs {
		body.WriteString(`{"index":{}}` + "\n")
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		body.Write(b)
		body.WriteByte('\n')
	}
	resp, err := c.API.Bulk(ctxT(t), opensearchapi.BulkReq{Index: index, Body: &body, Params: opensearchapi.BulkParams{Refresh: "true"}})
	if err != nil {
		t.Fatalf("bulk into %s: %v", index, err)
	}
	if resp.Errors {
		for _, item := range resp.Items {
			for _, r := range item {
				if r.Error != nil {
					t.Fatalf("bulk into %s: item error %s: %s", index, r.Error.Type, r.Error.Reason)
				}
			}
		}
		t.Fatalf("bulk into %s: errors reported", index)
	}
}

func search(t *testing.T, c *Client, index string, query any) []map[string]any {
	t.Helper()
	b, err := json.Marshal(map[string]any{"query": query})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.API.Search(ctxT(t), &opensearchapi.SearchReq{Indices: []string{index}, Body: bytes.NewReader(b)})
	if err != nil {
		t.Fatalf("search %s with %s: %v", index, b, err)
	}
	var out []map[string]any
	for _, h := range resp.Hits.Hits {
		var src map[string]any
		if err := json.Unmarshal(h.Source, &src); err != nil {
			t.Fatal(err)
		}
		out = append(out, src)
	}
	return out
}

// fieldTypes returns leaf field path -> mapping type for one index, dotted
// the way queries address fields (kubernetes.labels.openchoreo_dev/component-uid).
func fieldTypes(t *testing.T, c *Client, index string) map[string]string {
	t.Helper()
	var all map[string]struct {
		Mappings struct {
			Properties map[string]any `json:"properties"`
		} `json:"mappings"`
	}
	if err := c.do(ctxT(t), "GET", "/"+index+"/_mapping", nil, &all); err != nil {
		t.Fatalf("get mapping of %s: %v", index, err)
	}
	out := map[string]string{}
	var walk func(prefix string, props map[string]any)
	walk = func(prefix string, props map[string]any) {
		for name, v := range props {
			m, _ := v.(map[string]any)
			if typ, ok := m["type"].(string); ok {
				out[prefix+name] = typ
				if fields, ok := m["fields"].(map[string]any); ok {
					walk(prefix+name+".", fields)
				}
			}
			if sub, ok := m["properties"].(map[string]any); ok {
				walk(prefix+name+".", sub)
			}
		}
	}
	walk("", all[index].Mappings.Properties)
	return out
}

func TestContainerLogDocumentIsSearchableWithTemplateMapping(t *testing.T) {
	c := newTestClient(t)
	if err := c.EnsureTemplates(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	ts := testDay().Add(13*time.Hour + 5*time.Minute)
	index := ContainerLogsIndex(ts)
	deleteIndexAfter(t, c, index)

	// A document as Fluent Bit writes it (Replace_Dots On turns label and
	// annotation keys' dots into underscores).
	doc := map[string]any{
		"@timestamp": ts.Format("2006-01-02T15:04:05.000Z"),
		"log":        `2025-12-01T10:00:00Z level=error msg="payment failed" order=42`,
		"stream":     "stdout",
		"kubernetes": map[string]any{
			"pod_name":       "checkout-7d9f-abcde",
			"namespace_name": "dp-default-shop-dev-1a2b3c",
			"container_name": "main",
			"pod_id":         "3f1c7a2e-0000-4000-8000-000000000001",
			"host":           "node-1",
			"labels": map[string]any{
				"openchoreo_dev/component-uid":   "comp-uid-1",
				"openchoreo_dev/environment-uid": "env-uid-1",
				"openchoreo_dev/project-uid":     "proj-uid-1",
				"openchoreo_dev/namespace":       "default",
				"openchoreo_dev/component":       "checkout",
				"app_kubernetes_io/name":         "checkout",
			},
			"annotations": map[string]any{"workflows_argoproj_io/node-name": "build-1.step"},
		},
	}
	bulkIndex(t, c, index, doc)

	hits := search(t, c, ContainerLogsPrefix+"*", map[string]any{"bool": map[string]any{"must": []any{
		map[string]any{"term": map[string]any{"kubernetes.labels.openchoreo_dev/component-uid": "comp-uid-1"}},
		map[string]any{"term": map[string]any{"kubernetes.labels.openchoreo_dev/namespace": "default"}},
		map[string]any{"wildcard": map[string]any{"log": map[string]any{"value": "*ERROR*", "case_insensitive": true}}},
		map[string]any{"range": map[string]any{"@timestamp": map[string]any{"gt": ts.Add(-time.Minute).Format(time.RFC3339), "lt": ts.Add(time.Minute).Format(time.RFC3339)}}},
	}}})
	if len(hits) != 1 {
		t.Fatalf("search by component uid, namespace, level text and time: %d hits, want 1", len(hits))
	}
	if hits[0]["log"] != doc["log"] {
		t.Errorf("_source.log = %v, want %v", hits[0]["log"], doc["log"])
	}

	types := fieldTypes(t, c, index)
	for field, want := range map[string]string{
		"@timestamp":                "date",
		"log":                       "wildcard",
		"kubernetes.pod_name":       "keyword",
		"kubernetes.namespace_name": "keyword",
		"kubernetes.container_name": "keyword",
		"kubernetes.labels.openchoreo_dev/component-uid":         "keyword",
		"kubernetes.labels.openchoreo_dev/environment-uid":       "keyword",
		"kubernetes.labels.openchoreo_dev/project-uid":           "keyword",
		"kubernetes.labels.openchoreo_dev/namespace":             "keyword",
		"kubernetes.annotations.workflows_argoproj_io/node-name": "keyword",
	} {
		if types[field] != want {
			t.Errorf("mapping of %s.%s = %q, want %q", index, field, types[field], want)
		}
	}
	// dynamic:false: fields outside the template stay in _source, unindexed.
	for _, field := range []string{"stream", "kubernetes.pod_id", "kubernetes.labels.app_kubernetes_io/name"} {
		if typ, ok := types[field]; ok {
			t.Errorf("%s is mapped as %q; the template's dynamic:false should leave it unmapped", field, typ)
		}
	}
}

func TestLegacyKubernetesIndexUsesDynamicMapping(t *testing.T) {
	c := newTestClient(t)
	ts := testDay().Add(9 * time.Hour)
	index := LegacyKubernetesIndex(ts)
	deleteIndexAfter(t, c, index)
	bulkIndex(t, c, index, map[string]any{
		"@timestamp": ts.Format(time.RFC3339),
		"log":        "legacy ERROR line",
		"kubernetes": map[string]any{"pod_name": "p", "namespace_name": "ns", "container_name": "c",
			"labels": map[string]any{"openchoreo_dev/component-uid": "comp-legacy"}},
	})
	hits := search(t, c, index, map[string]any{"term": map[string]any{"kubernetes.labels.openchoreo_dev/component-uid.keyword": "comp-legacy"}})
	if len(hits) != 1 {
		t.Fatalf("legacy search: %d hits, want 1", len(hits))
	}
	types := fieldTypes(t, c, index)
	for field, want := range map[string]string{
		"@timestamp":  "date",
		"log":         "text",
		"log.keyword": "keyword",
		"kubernetes.labels.openchoreo_dev/component-uid": "text",
	} {
		if types[field] != want {
			t.Errorf("mapping of %s.%s = %q, want %q", index, field, types[field], want)
		}
	}
}

func TestOtelTraceDocumentIsSearchableWithTemplateMapping(t *testing.T) {
	c := newTestClient(t)
	if err := c.EnsureTemplates(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	ts := testDay().Add(7 * time.Hour)
	index := OtelTracesIndex(ts)
	deleteIndexAfter(t, c, index)
	bulkIndex(t, c, index, map[string]any{
		"traceId":      "4bf92f3577b34da6a3ce929d0e0e4736",
		"spanId":       "00f067aa0ba902b7",
		"parentSpanId": "",
		"name":         "GET /orders",
		"kind":         "Server",
		"startTime":    ts.Format(time.RFC3339Nano),
		"endTime":      ts.Add(1500 * time.Microsecond).Format(time.RFC3339Nano),
		"status":       map[string]any{"code": "Unset"},
		"resource": map[string]any{
			"service.name":                 "checkout",
			"k8s.namespace.name":           "dp-default-shop-dev-1a2b3c",
			"openchoreo.dev/component-uid": "comp-uid-1",
		},
	})
	hits := search(t, c, OtelTracesPrefix+"*", map[string]any{"bool": map[string]any{"must": []any{
		map[string]any{"term": map[string]any{"traceId": "4bf92f3577b34da6a3ce929d0e0e4736"}},
		map[string]any{"term": map[string]any{"resource.openchoreo.dev/component-uid": "comp-uid-1"}},
	}}})
	if len(hits) != 1 {
		t.Fatalf("trace search: %d hits, want 1", len(hits))
	}
	types := fieldTypes(t, c, index)
	for field, want := range map[string]string{
		"traceId": "keyword", "spanId": "keyword", "parentSpanId": "keyword",
		"startTime": "date_nanos", "endTime": "date_nanos", "status.code": "keyword",
		"resource.service.name": "keyword", "resource.k8s.namespace.name": "keyword",
		"resource.openchoreo.dev/component-uid": "keyword",
	} {
		if types[field] != want {
			t.Errorf("mapping of %s.%s = %q, want %q", index, field, types[field], want)
		}
	}
}

func TestIndexNames(t *testing.T) {
	ts := time.Date(2025, 12, 1, 23, 30, 0, 0, time.FixedZone("IST", 5*3600+1800)) // 18:00 UTC
	for got, want := range map[string]string{
		ContainerLogsIndex(ts):    "container-logs-2025-12-01",
		LegacyKubernetesIndex(ts): "kubernetes-2025.12.01",
		OtelTracesIndex(ts):       "otel-traces-2025-12-01",
		K8sEventsIndex(ts):        "k8s-events-2025-12-01",
		ContainerLogsIndex(time.Date(2026, 1, 2, 0, 30, 0, 0, time.FixedZone("IST", 5*3600+1800))): "container-logs-2026-01-01",
	} {
		if got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	}
	days, err := ContainerLogsIndices(time.Date(2025, 12, 30, 22, 0, 0, 0, time.UTC), time.Date(2026, 1, 2, 1, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(days, ","); got != "container-logs-2025-12-30,container-logs-2025-12-31,container-logs-2026-01-01,container-logs-2026-01-02" {
		t.Errorf("ContainerLogsIndices = %s", got)
	}
	if _, err := ContainerLogsIndices(time.Now(), time.Now().Add(-time.Hour)); err == nil {
		t.Error("reversed range: want an error")
	}
	if _, err := LegacyKubernetesIndices(time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Now()); err == nil {
		t.Error("huge range: want an error")
	}
}

func TestNewRejectsBadURLs(t *testing.T) {
	for _, u := range []string{"", "127.0.0.1:9200", "ftp://x", "http://"} {
		if _, err := New(u); err == nil {
			t.Errorf("New(%q): want an error", u)
		}
	}
	c, err := New("https://admin:secret@opensearch:9200", Options{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(c.URL, "secret") {
		t.Errorf("URL keeps the password: %s", c.URL)
	}
}
