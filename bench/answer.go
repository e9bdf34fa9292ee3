package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Answer is one system's answer to a case in a form every system's answer
// can be put in: keys to numbers. A count is {"n": 123}; the newest rows are
// {"000": ms, "001": ms, ...} (position to millisecond, so order counts);
// groups are {"a/b": count}; a trace is {spanId: 1}. Keys starting with "~"
// hold approximations (percentiles) and compare within Tolerance.
type Answer map[string]float64

// Tolerance is how far apart two systems' percentiles may be: the larger
// of 10% and 1 ms, in groups of at least MinApproxCount values (the count
// is the key without "~"). The engines compute them differently
// (ClickHouse's quantile interpolates over a sample of up to 8,192 values,
// OpenSearch's t-digest of compression 100 between centroids), so exact
// agreement is not expected, and in a small group the two interpolation
// rules alone move a p95 by more than that; counts always agree exactly.
const (
	TolRelative    = 0.10
	TolAbsMs       = 1.0
	MinApproxCount = 200
)

// Compare returns nil when a and b agree, or what differs first.
func (a Answer) Compare(b Answer) error {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	var diffs []string
	for _, k := range sorted {
		x, okx := a[k]
		y, oky := b[k]
		switch {
		case !okx:
			diffs = append(diffs, fmt.Sprintf("%s only in the second (%g)", k, y))
		case !oky:
			diffs = append(diffs, fmt.Sprintf("%s only in the first (%g)", k, x))
		case strings.HasPrefix(k, "~"):
			if n, ok := a[k[1:]]; ok && n < MinApproxCount {
				continue
			}
			if d := math.Abs(x - y); d > TolAbsMs && d > TolRelative*math.Max(math.Abs(x), math.Abs(y)) {
				diffs = append(diffs, fmt.Sprintf("%s: %g vs %g", k, x, y))
			}
		case x != y:
			diffs = append(diffs, fmt.Sprintf("%s: %g vs %g", k, x, y))
		}
		if len(diffs) == 3 {
			break
		}
	}
	if len(diffs) > 0 {
		return fmt.Errorf("%d keys vs %d; %s", len(a), len(b), strings.Join(diffs, "; "))
	}
	return nil
}

// Summary says what the answer was, for the tables.
func (a Answer) Summary(kind string) string {
	switch kind {
	case kindCount:
		return strconv.FormatFloat(a[""], 'f', -1, 64)
	case kindRows:
		return fmt.Sprintf("%d rows", len(a))
	case kindSpans:
		return fmt.Sprintf("%d spans", len(a))
	}
	n := 0
	for k := range a {
		if !strings.HasPrefix(k, "~") {
			n++
		}
	}
	return fmt.Sprintf("%d groups", n)
}

const (
	kindCount  = "count"
	kindRows   = "rows"
	kindGroups = "groups"
	kindSpans  = "spans"
)

func rowKey(i int) string { return fmt.Sprintf("%03d", i) }

// msOf turns the time forms the systems answer with into Unix milliseconds:
// RFC 3339 (the APIs, VictoriaLogs), ClickHouse's text, or a number of ms.
func msOf(v any) (float64, error) {
	switch t := v.(type) {
	case float64:
		return math.Floor(t), nil
	case json.Number:
		f, err := t.Float64()
		return math.Floor(f), err
	case string:
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999"} {
			if tm, err := time.ParseInLocation(layout, t, time.UTC); err == nil {
				return float64(tm.UnixMilli()), nil
			}
		}
		return 0, fmt.Errorf("time %q: not a known form", t)
	}
	return 0, fmt.Errorf("time %v (%T): not a known form", v, v)
}

func num(v any) (float64, error) {
	switch t := v.(type) {
	case float64:
		return t, nil
	case json.Number:
		return t.Float64()
	case string:
		return strconv.ParseFloat(t, 64)
	}
	return 0, fmt.Errorf("%v (%T) is not a number", v, v)
}

func str(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case json.Number:
		return t.String()
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

func decode(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}

// sqlRows reads the rows of an answer in the engine's JSON format.
func sqlRows(b []byte) ([]map[string]any, error) {
	var r struct {
		Data []map[string]any `json:"data"`
	}
	if err := decode(b, &r); err != nil {
		return nil, fmt.Errorf("decode JSON answer: %w", err)
	}
	return r.Data, nil
}

// jsonLines reads VictoriaLogs' answer: one JSON object a line.
func jsonLines(b []byte) ([]map[string]any, error) {
	var out []map[string]any
	for _, l := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		var m map[string]any
		if err := decode(l, &m); err != nil {
			return nil, fmt.Errorf("decode line %.100q: %w", l, err)
		}
		out = append(out, m)
	}
	return out, nil
}

// Parsers shared by the cases: each picks fields out of generic rows.

// rowsByTime is an ordered list of rows, by their time field.
func rowsByTime(rows []map[string]any, field string) (Answer, error) {
	a := Answer{}
	for i, r := range rows {
		ms, err := msOf(r[field])
		if err != nil {
			return nil, err
		}
		a[rowKey(i)] = ms
	}
	return a, nil
}

// groups keys each row by keyFields (joined with "/") to its valueField.
func groups(rows []map[string]any, valueField string, keyFields ...string) (Answer, error) {
	a := Answer{}
	for _, r := range rows {
		var parts []string
		for _, f := range keyFields {
			parts = append(parts, str(r[f]))
		}
		v, err := num(r[valueField])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", valueField, err)
		}
		a[strings.Join(parts, "/")] += v
	}
	return a, nil
}

// osHits reads a _search answer's hits: their sort values and sources.
type osHits struct {
	Hits struct {
		Total struct {
			Value int `json:"value"`
		} `json:"total"`
		Hits []struct {
			Source map[string]any `json:"_source"`
			Sort   []any          `json:"sort"`
		} `json:"hits"`
	} `json:"hits"`
	Aggregations map[string]json.RawMessage `json:"aggregations"`
}

func parseOS(b []byte) (*osHits, error) {
	var h osHits
	if err := decode(b, &h); err != nil {
		return nil, fmt.Errorf("decode _search answer: %w", err)
	}
	return &h, nil
}

// osRowsByTime lists hits by their first sort value (epoch ms of
// @timestamp).
func osRowsByTime(b []byte) (Answer, error) {
	h, err := parseOS(b)
	if err != nil {
		return nil, err
	}
	a := Answer{}
	for i, hit := range h.Hits.Hits {
		if len(hit.Sort) == 0 {
			return nil, fmt.Errorf("hit %d has no sort value", i)
		}
		ms, err := msOf(hit.Sort[0])
		if err != nil {
			return nil, err
		}
		a[rowKey(i)] = ms
	}
	return a, nil
}

// osTermsByLevel reads a terms aggregation "g" with a "level" filters
// sub-aggregation into {term/level: count}, leaving out empty cells.
func osTermsByLevel(b []byte) (Answer, error) {
	h, err := parseOS(b)
	if err != nil {
		return nil, err
	}
	var g struct {
		Buckets []struct {
			Key   string `json:"key"`
			Level struct {
				Buckets map[string]struct {
					DocCount int `json:"doc_count"`
				} `json:"buckets"`
			} `json:"level"`
		} `json:"buckets"`
	}
	if err := json.Unmarshal(h.Aggregations["g"], &g); err != nil {
		return nil, fmt.Errorf("decode aggregation: %w", err)
	}
	a := Answer{}
	for _, bk := range g.Buckets {
		for lv, c := range bk.Level.Buckets {
			if c.DocCount > 0 {
				a[bk.Key+"/"+lv] = float64(c.DocCount)
			}
		}
	}
	return a, nil
}
