package migrate_test

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/openchoreo/obsplane/bench"
	"github.com/openchoreo/obsplane/internal/config"
	"github.com/openchoreo/obsplane/internal/migrate"
	"github.com/openchoreo/obsplane/internal/opensearch"
	"github.com/openchoreo/obsplane/internal/opensearch/opensearchtest"
	"github.com/openchoreo/obsplane/internal/schema"
	"github.com/openchoreo/obsplane/internal/store"
	"github.com/openchoreo/obsplane/internal/store/chdb"
)

var (
	osURL  string
	osSkip string
	binary string // the obsplane binary, built once for the kill -9 tests
)

func TestMain(m *testing.M) {
	osURL, osSkip = opensearchtest.ForMain("internal/migrate")
	dir, err := os.MkdirTemp("", "obsplane-migrate-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		if osSkip == "" {
			root, err := opensearchtest.RepoRoot()
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			binary = filepath.Join(dir, "obsplane")
			cmd := exec.Command("go", "build", "-o", binary, "./cmd/obsplane")
			cmd.Dir, cmd.Stdout, cmd.Stderr = root, os.Stderr, os.Stderr
			if err := cmd.Run(); err != nil {
				fmt.Fprintln(os.Stderr, "build obsplane:", err)
				return 1
			}
		}
		return m.Run()
	}()
	os.Exit(code)
}

func needOpenSearch(t *testing.T) *opensearch.Client {
	t.Helper()
	if osSkip != "" {
		t.Skip(osSkip)
	}
	c, err := opensearch.New(osURL, opensearch.Options{Timeout: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// openStore opens an embedded store in dir with the schema applied.
func openStore(t *testing.T, dir string) *chdb.Store {
	t.Helper()
	st, err := chdb.Open(chdb.Config{LibPath: config.DefaultChdbLib(), DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := schema.Apply(context.Background(), st, schema.Options{Database: "otel"}); err != nil {
		st.Close()
		t.Fatal(err)
	}
	return st
}

// day is the UTC day n days before today: recent enough for the store's
// retention.
func day(n int) time.Time { return time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -n) }

// fluentBitID is an _id shaped like Fluent Bit's Generate_ID (a UUID from a
// hash of the record), never obsplane's DocumentID.
func fluentBitID(index string, i int, src []byte) string {
	sum := md5.Sum(append([]byte(fmt.Sprintf("%s/%d/", index, i)), src...))
	id, _ := uuid.FromBytes(sum[:])
	return id.String()
}

// dataset describes the documents a test loaded into OpenSearch.
type dataset struct {
	indices  []string
	docs     int // every document, own and rejected ones included
	own      []opensearch.LogRecord
	rejected int
}

// loadDataset bulk-loads documents of OpenChoreo's layout for the days
// [first, first+days): per day a container-logs index of logs, an
// otel-traces index of spans and a k8s-events index of events, plus a
// legacy kubernetes-* index on the first day. ownPerDay documents per day
// are written as obsplane's dual write writes them (content-hash _id);
// badPerDay per day cannot be converted. Indices of those days are
// deleted first.
func loadDataset(t *testing.T, c *opensearch.Client, first time.Time, days, logsPerDay, spansPerDay, eventsPerDay, legacyLogs, ownPerDay, badPerDay int) *dataset {
	t.Helper()
	ctx := context.Background()
	if err := c.EnsureTemplates(ctx); err != nil {
		t.Fatal(err)
	}
	ds := &dataset{}
	var docs []opensearch.BulkDoc
	add := func(index string, src []byte, id string) {
		if id == "" {
			id = fluentBitID(index, len(docs), src)
		}
		docs = append(docs, opensearch.BulkDoc{Index: index, ID: id, Source: src})
	}
	for d := 0; d < days; d++ {
		dd := first.AddDate(0, 0, d)
		for _, idx := range []string{opensearch.ContainerLogsIndex(dd), opensearch.OtelTracesIndex(dd), opensearch.K8sEventsIndex(dd), opensearch.LegacyKubernetesIndex(dd)} {
			deleteIndex(t, c, idx)
		}
		logs := bench.LogRows(logsPerDay, uint64(d)+1, dd.Add(time.Hour))
		ldocs, err := bench.LogDocuments(logs)
		if err != nil {
			t.Fatal(err)
		}
		for _, ld := range ldocs {
			add(ld.Index, ld.Source, "")
		}
		ds.indices = append(ds.indices, opensearch.ContainerLogsIndex(dd))
		if d == 0 && legacyLogs > 0 {
			legacy := bench.LogRows(legacyLogs, 99, dd.Add(2*time.Hour))
			lg, err := bench.LogDocuments(legacy)
			if err != nil {
				t.Fatal(err)
			}
			for _, ld := range lg {
				add(opensearch.LegacyKubernetesIndex(dd), ld.Source, "")
			}
			ds.indices = append(ds.indices, opensearch.LegacyKubernetesIndex(dd))
		}
		if spansPerDay > 0 {
			traces, _ := bench.TraceRows(spansPerDay/bench.SpansPerTrace()+1, uint64(d)+7, dd.Add(3*time.Hour))
			sdocs, err := bench.SpanDocuments(traces)
			if err != nil {
				t.Fatal(err)
			}
			for i, sd := range sdocs {
				if i == spansPerDay {
					break
				}
				add(sd.Index, sd.Source, "")
			}
			ds.indices = append(ds.indices, opensearch.OtelTracesIndex(dd))
		}
		if eventsPerDay > 0 {
			for i := 0; i < eventsPerDay; i++ {
				rec := opensearch.LogRecord{Timestamp: dd.Add(4*time.Hour + time.Duration(i)*time.Millisecond), Body: fmt.Sprintf("Started container main (%d)", i),
					SeverityText: "Normal", ResourceAttributes: map[string]string{"k8s.object.kind": "Pod", "k8s.object.name": fmt.Sprintf("api-%d", i%50),
						"k8s.object.label.openchoreo.dev/component-uid": "c-1", "k8s.object.label.openchoreo.dev/namespace": "acme"},
					LogAttributes: map[string]string{"k8s.event.reason": "Started", "k8s.namespace.name": "dp-acme-dev"}}
				src, err := opensearch.EncodeEventDocument(rec)
				if err != nil {
					t.Fatal(err)
				}
				add(opensearch.K8sEventsIndex(dd), src, "")
			}
			ds.indices = append(ds.indices, opensearch.K8sEventsIndex(dd))
		}
		// Documents obsplane's dual write wrote: their rows reach the store
		// through the gateway, which the test plays by inserting them.
		for i := 0; i < ownPerDay; i++ {
			rec := opensearch.LogRecord{Timestamp: dd.Add(5*time.Hour + time.Duration(i)*time.Microsecond), Body: fmt.Sprintf("dual-written line %d", i),
				ServiceName: "api", ResourceAttributes: map[string]string{"k8s.namespace.name": "dp-acme-dev", "openchoreo.component": "api", "openchoreo.namespace": "acme"},
				LogAttributes: map[string]string{"log.iostream": "stdout"}}
			src, err := opensearch.EncodeLogDocument(rec)
			if err != nil {
				t.Fatal(err)
			}
			add(opensearch.ContainerLogsIndex(dd), src, opensearch.DocumentID(src))
			back, err := opensearch.DecodeLogDocument(src)
			if err != nil {
				t.Fatal(err)
			}
			ds.own = append(ds.own, back)
		}
		// Documents OpenSearch takes (the fields are not mapped) and the
		// mapping cannot: an "otel" that is not an object, a time before
		// 1900.
		for i := 0; i < badPerDay; i++ {
			src := fmt.Sprintf(`{"@timestamp":"%s","log":"bad %d","otel":"not an object"}`, dd.Add(6*time.Hour).Format(time.RFC3339Nano), i)
			if i%2 == 1 {
				src = fmt.Sprintf(`{"@timestamp":"1800-01-01T00:00:00Z","log":"ancient %d"}`, i)
			}
			add(opensearch.ContainerLogsIndex(dd), []byte(src), "")
			ds.rejected++
		}
	}
	ds.docs = len(docs)
	if _, err := c.BulkParallel(ctx, docs, 4, opensearch.BulkOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.Refresh(ctx, ds.indices, opensearch.RetryOptions{}); err != nil {
		t.Fatal(err)
	}
	return ds
}

func deleteIndex(t *testing.T, c *opensearch.Client, index string) {
	t.Helper()
	req, _ := newRequest("DELETE", "/"+index+"?ignore_unavailable=true")
	resp, err := c.API.Client.Perform(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// insertOwn plays the gateway for the dual-written documents: their rows go
// into the store directly.
func insertOwn(t *testing.T, st store.Store, recs []opensearch.LogRecord) {
	t.Helper()
	if len(recs) == 0 {
		return
	}
	if err := st.Insert(context.Background(), opensearch.LogsBatch("otel", recs)); err != nil {
		t.Fatal(err)
	}
}

// contentKey is a record's identity for comparisons: its JSON (maps
// sorted), hashed.
func contentKey(v any) string {
	b, _ := json.Marshal(v)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12])
}

// openSearchKeys reads every document of the indices with the mapping, and
// returns the content keys of the rows they map to (a multiset), leaving
// out rejected and, unless includeOwn, obsplane's own documents.
func openSearchKeys(t *testing.T, c *opensearch.Client, indices []string) map[migrate.Signal]map[string]int {
	t.Helper()
	ctx := context.Background()
	out := map[migrate.Signal]map[string]int{migrate.Logs: {}, migrate.Traces: {}, migrate.Events: {}}
	for _, idx := range indices {
		sig := migrate.Logs
		switch {
		case len(idx) > 12 && idx[:12] == opensearch.OtelTracesPrefix:
			sig = migrate.Traces
		case len(idx) > 11 && idx[:11] == opensearch.K8sEventsPrefix:
			sig = migrate.Events
		}
		pit, err := c.OpenPIT(ctx, []string{idx}, time.Minute, opensearch.RetryOptions{})
		if err != nil {
			t.Fatal(err)
		}
		after := int64(-1)
		for {
			p, err := pit.Page(ctx, opensearch.SliceQuery{Size: 10000, After: after})
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range p.Hits {
				var key string
				switch sig {
				case migrate.Traces:
					rec, err := opensearch.DecodeSpanDocument(h.Source)
					if err != nil {
						continue
					}
					key = contentKey(rec)
				case migrate.Events:
					rec, err := opensearch.DecodeEventDocument(h.Source)
					if err != nil {
						continue
					}
					key = contentKey(rec)
				default:
					rec, err := opensearch.DecodeLogDocument(h.Source)
					if err != nil {
						continue
					}
					key = contentKey(rec)
				}
				out[sig][key]++
			}
			if len(p.Hits) < 10000 {
				break
			}
			after = p.Hits[len(p.Hits)-1].SeqNo()
		}
		_ = pit.Close(ctx)
	}
	return out
}

// storeKeys is openSearchKeys for the store's rows of [start, end).
func storeKeys(t *testing.T, st store.Store, start, end time.Time) map[migrate.Signal]map[string]int {
	t.Helper()
	out := map[migrate.Signal]map[string]int{}
	for _, s := range migrate.AllSignals {
		out[s] = map[string]int{}
		err := migrate.EachStored(context.Background(), st, "otel", s, start, end, func(r migrate.Stored) error {
			if s == migrate.Traces {
				out[s][contentKey(r.Span)]++
			} else {
				out[s][contentKey(r.Log)]++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// sameKeys fails the test unless want and got hold the same rows the same
// number of times, and reports a few differences.
func sameKeys(t *testing.T, want, got map[migrate.Signal]map[string]int) {
	t.Helper()
	for _, s := range migrate.AllSignals {
		var missing, extra, dup []string
		nWant, nGot := 0, 0
		for k, n := range want[s] {
			nWant += n
			switch g := got[s][k]; {
			case g < n:
				missing = append(missing, k)
			case g > n:
				dup = append(dup, k)
			}
		}
		for k, n := range got[s] {
			nGot += n
			if _, ok := want[s][k]; !ok {
				extra = append(extra, k)
			}
		}
		sort.Strings(missing)
		sort.Strings(extra)
		if len(missing)+len(extra)+len(dup) > 0 {
			t.Errorf("%s: OpenSearch maps to %d rows, the store holds %d: %d missing (e.g. %v), %d unexpected (e.g. %v), %d stored too often (e.g. %v)",
				s, nWant, nGot, len(missing), head(missing), len(extra), head(extra), len(dup), head(dup))
		} else {
			t.Logf("%s: %d rows, equal by content on both sides", s, nGot)
		}
	}
}

func head(s []string) []string {
	if len(s) > 3 {
		return s[:3]
	}
	return s
}

func quietLog() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func newRequest(method, path string) (*http.Request, error) {
	return http.NewRequest(method, path, nil)
}
