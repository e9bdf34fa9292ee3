package migrate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openchoreo/obsplane/internal/migrate"
	"github.com/openchoreo/obsplane/internal/opensearch"
)

// deleteDocs deletes every every-th document of each index (by _id) and
// returns the dual-write _ids of the rows they map to.
func deleteDocs(t *testing.T, c *opensearch.Client, indices []string, every int) []string {
	t.Helper()
	ctx := context.Background()
	var body bytes.Buffer
	var ids []string
	for _, idx := range indices {
		i := 0
		err := c.ScanIndex(ctx, opensearch.IndexInfo{Name: idx, Shards: 1}, nil, 10000, opensearch.RetryOptions{}, func(p *opensearch.Page) error {
			for _, h := range p.Hits {
				i++
				if i%every != 0 {
					continue
				}
				id := dualWriteID(t, idx, h.Source)
				if id == "" {
					continue // a document the mapping refuses cannot come back
				}
				ids = append(ids, id)
				action, _ := json.Marshal(map[string]map[string]string{"delete": {"_index": idx, "_id": h.ID}})
				body.Write(action)
				body.WriteByte('\n')
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, "/_bulk?refresh=true", bytes.NewReader(body.Bytes()))
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := c.API.Client.Perform(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("bulk delete: status %d", resp.StatusCode)
	}
	return ids
}

// dualWriteID is the _id dual write gives the row a document maps to.
func dualWriteID(t *testing.T, index string, src []byte) string {
	switch {
	case strings.HasPrefix(index, opensearch.OtelTracesPrefix):
		rec, err := opensearch.DecodeSpanDocument(src)
		if err != nil {
			return ""
		}
		return opensearch.SpanDocumentID(rec.TraceID, rec.SpanID)
	case strings.HasPrefix(index, opensearch.K8sEventsPrefix):
		rec, err := opensearch.DecodeEventDocument(src)
		if err != nil {
			return ""
		}
		doc, _ := opensearch.EncodeEventDocument(rec)
		return opensearch.DocumentID(doc)
	}
	rec, err := opensearch.DecodeLogDocument(src)
	if err != nil {
		return ""
	}
	doc, _ := opensearch.EncodeLogDocument(rec)
	return opensearch.DocumentID(doc)
}

func countIDs(t *testing.T, c *opensearch.Client, ids []string) int64 {
	t.Helper()
	n, err := c.Count(context.Background(), []string{"container-logs-*", "kubernetes-*", "otel-traces-*", "k8s-events-*"},
		map[string]any{"ids": map[string]any{"values": ids}}, opensearch.RetryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSyncbackRestoresDeletedDocuments: after documents were deleted from
// OpenSearch, syncback writes exactly those back, under dual write's _ids;
// a second run writes nothing and OpenSearch has no duplicate.
func TestSyncbackRestoresDeletedDocuments(t *testing.T) {
	c := needOpenSearch(t)
	first, end := day(20), day(18)
	ds := loadDataset(t, c, first, 2, 3000, 600, 300, 500, 10, 2)
	st := openStore(t, t.TempDir())
	defer st.Close()
	insertOwn(t, st, ds.own)
	if _, err := migrate.Backfill(context.Background(), migrate.BackfillOptions{OpenSearch: c, Store: st, Start: first, End: end, Log: quietLog()}); err != nil {
		t.Fatal(err)
	}
	before := openSearchKeys(t, c, ds.indices)
	deleted := deleteDocs(t, c, ds.indices, 37)
	if n := countIDs(t, c, deleted); n != 0 {
		t.Fatalf("%d of the deleted documents' dual-write _ids are in OpenSearch before syncback", n)
	}
	o := migrate.SyncbackOptions{OpenSearch: c, Store: st, Since: first, Until: end, Log: quietLog()}
	res, err := migrate.Syncback(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	res.WriteReport(&buf)
	t.Logf("%d documents deleted; first syncback:%s", len(deleted), buf.String())
	var written int64
	for _, s := range res.Signals {
		written += s.Written
	}
	if written != int64(len(deleted)) {
		t.Errorf("syncback wrote %d documents, want the %d deleted", written, len(deleted))
	}
	if n := countIDs(t, c, deleted); n != int64(len(deleted)) {
		t.Errorf("%d of the %d restored documents carry dual write's _id", n, len(deleted))
	}
	// The documents restored into a container-logs index of the same day
	// as their originals; compare all of them by content.
	indices := append([]string(nil), ds.indices...)
	for d := first; d.Before(end); d = d.AddDate(0, 0, 1) {
		indices = appendNew(indices, opensearch.ContainerLogsIndex(d))
	}
	sameKeys(t, before, openSearchKeys(t, c, indices))

	res, err = migrate.Syncback(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	res.WriteReport(&buf)
	t.Logf("second syncback:%s", buf.String())
	for _, s := range res.Signals {
		if s.Written != 0 {
			t.Errorf("second syncback wrote %d %s documents, want 0", s.Written, s.Signal)
		}
	}
	o.CompareAll = true
	if res, err = migrate.Syncback(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	for _, s := range res.Signals {
		if s.Written != 0 || s.Present != s.Stored {
			t.Errorf("syncback comparing every bucket: %s wrote %d, found %d of %d stored rows", s.Signal, s.Written, s.Present, s.Stored)
		}
	}
	sameKeys(t, before, openSearchKeys(t, c, indices))
}

func appendNew(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

// TestSyncbackBadInput: times that do not parse, reversed ranges.
func TestSyncbackBadInput(t *testing.T) {
	for _, s := range []string{"yesterday", "2025-13-01", "-5h", ""} {
		if _, err := migrate.ParseTime("since", s); err == nil || !strings.Contains(err.Error(), "RFC 3339") {
			t.Errorf("ParseTime(%q): want an error naming the formats, got %v", s, err)
		}
	}
	if ts, err := migrate.ParseTime("since", "2h"); err != nil || time.Since(ts) < 2*time.Hour-time.Minute {
		t.Errorf("ParseTime(2h) = %v, %v", ts, err)
	}
	c := needOpenSearch(t)
	st := openStore(t, t.TempDir())
	defer st.Close()
	_, err := migrate.Syncback(context.Background(), migrate.SyncbackOptions{OpenSearch: c, Store: st, Since: day(1), Until: day(2)})
	if err == nil || !strings.Contains(err.Error(), "must be after --since") {
		t.Errorf("reversed range: got %v", err)
	}
}
