package opensearch

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestDecodePage(t *testing.T) {
	// Sources as OpenSearch stores them: spacing, escapes and key order are
	// the writer's, and DocumentID hashes exactly these bytes.
	src1 := `{"@timestamp":"2025-12-01T10:00:00Z", "log":"a \"quoted\" \u00e9 line\n"}`
	src2 := `{ "b": [1, 2.50, {"c": null}], "a": "\ud83d\ude00" }`
	answer := `{"took":3,"timed_out":false,"_shards":{"total":1,"successful":1,"skipped":0,"failed":0},` +
		`"hits":{"hits":[{"_index":"container-logs-2025-12-01","_id":"x1","_score":null,"_source":` + src1 + `,"sort":[7]},` +
		`{"_index":"container-logs-2025-12-01","_id":"x2","_score":null,"_source":` + src2 + `,"sort":[9]}]}}`
	data := []byte(answer)
	res, err := decodePage(data)
	if err != nil {
		t.Fatal(err)
	}
	if res.timedOut || res.shards.Failed != 0 || len(res.hits) != 2 {
		t.Fatalf("answer = %+v", res)
	}
	for i, want := range []struct {
		id, src string
		seq     int64
	}{{"x1", src1, 7}, {"x2", src2, 9}} {
		h := res.hits[i]
		if h.Index != "container-logs-2025-12-01" || h.ID != want.id || h.SeqNo() != want.seq || string(h.Source) != want.src {
			t.Errorf("hit %d = %s %s %d %s, want %s %d %s", i, h.Index, h.ID, h.SeqNo(), h.Source, want.id, want.seq, want.src)
		}
		// The source is the answer's own bytes, not a copy.
		if off := bytes.Index(data, []byte(want.src)); &data[off] != &h.Source[0] {
			t.Errorf("hit %d: source is a copy", i)
		}
	}

	for _, tc := range []struct{ name, answer, err string }{
		{"truncated", answer[:len(answer)/2], "unexpected end"},
		{"not an object", `[1]`, "want an object"},
		{"hits not a list", `{"hits":{"hits":{}}}`, "want a list"},
		{"hit not an object", `{"hits":{"hits":[1]}}`, "want an object"},
		{"sort not an integer", `{"hits":{"hits":[{"_id":"a","_source":{},"sort":["x"]}]}}`, "not an integer"},
		{"no sort", `{"hits":{"hits":[{"_id":"a","_source":{}}]}}`, "want its _seq_no"},
		{"bad shards", `{"_shards":{"failed":"x"},"hits":{"hits":[]}}`, "_shards"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := decodePage([]byte(tc.answer)); err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err = %v, want one containing %q", err, tc.err)
			}
		})
	}
	res, err = decodePage([]byte(`{"timed_out":true,"_shards":{"total":2,"failed":1,"failures":[{"reason":"x"}]},"hits":{"hits":[]}}`))
	if err != nil || !res.timedOut || res.shards.Failed != 1 || res.shards.Total != 2 || len(res.shards.Failures) != 1 {
		t.Fatalf("partial answer = %+v, %v", res, err)
	}
}

func FuzzDecodePage(f *testing.F) {
	f.Add([]byte(`{"hits":{"hits":[{"_index":"i","_id":"a","_source":{"x":1},"sort":[1]}]}}`))
	f.Add([]byte(`{"timed_out":true,"_shards":{"failed":1,"failures":[{}]},"hits":{"hits":[]}}`))
	f.Add([]byte(`{"hits":{"hits":[{"_source":"\u00e9","sort":[-1]}]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := decodePage(b)
		if err != nil {
			return
		}
		for _, h := range res.hits {
			if len(h.Sort) != 1 {
				t.Fatalf("hit %+v accepted without one sort value", h)
			}
			if len(h.Source) > 0 && !bytes.Contains(b, h.Source) {
				t.Fatalf("source %q is not part of the answer", h.Source)
			}
		}
	})
}

func TestPageHitDecodesAsTheDocumentFunctions(t *testing.T) {
	answer := `{"hits":{"hits":[{"_index":"i","_id":"a","_source":` + fluentBitDoc + `,"sort":[1]}]}}`
	res, err := decodePage([]byte(answer))
	if err != nil {
		t.Fatal(err)
	}
	h := res.hits[0]
	got, err := h.DecodeLog()
	if err != nil {
		t.Fatal(err)
	}
	assertRecord(t, got, fluentBitRecord())
	// A hit made otherwise (no validated answer) decodes its Source.
	bare := PageHit{Source: h.Source}
	if got, err := bare.DecodeLog(); err != nil {
		t.Fatal(err)
	} else {
		assertRecord(t, got, fluentBitRecord())
	}
	if _, err := (&PageHit{Source: []byte(`{`)}).DecodeLog(); !errors.Is(err, ErrLogDocument) {
		t.Fatalf("bad source: %v", err)
	}
}
