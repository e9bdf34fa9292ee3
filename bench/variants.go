package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/openchoreo/obsplane/internal/schema"
	"github.com/openchoreo/obsplane/internal/store"
	"github.com/openchoreo/obsplane/internal/store/chdb"
)

// Variant is one otel_logs layout under test: the live table's DDL with
// its sort key, indexes or codecs changed. The columns stay those of the
// exporter, so every variant answers the same SQL.
type Variant struct {
	// Table is otel_logs or otel_traces.
	Table   string
	Name    string
	OrderBy string // empty: the live table's
	// Drop removes indexes by name; Add appends index definitions
	// ("INDEX name expr TYPE ... GRANULARITY n").
	Drop []string
	Add  []string
	// Codecs replaces a column's CODEC(...) by name.
	Codecs map[string]string
	// Settings are appended to the table's SETTINGS.
	Settings string
	Note     string
}

// VariantResult is one variant's measurements.
type VariantResult struct {
	Variant
	InsertSeconds, RowsPerSec float64
	// InsertCPU is the process's CPU time (user+system, every engine thread
	// included) during the insert: robust to other work on the machine,
	// unlike the wall-clock rate.
	InsertCPU, RowsPerCPUSec float64
	Bytes                    int64
	Indexes                  map[string]int64
	Columns                  map[string]int64
	Queries                  []VariantQuery
}

// VariantQuery is one query on one variant.
type VariantQuery struct {
	Name                string
	Ms                  float64
	RowsRead, BytesRead int64
	Explain             string
	Answer              string
}

var (
	orderByRE = regexp.MustCompile(`(?m)^ORDER BY .*$`)
	indexRE   = regexp.MustCompile(`(?m)^\s*INDEX (\S+) .*$\n`)
)

// exporterDDL is table as migrations 2 and 3 create it (the exporter's
// layout, before migrations 10 and 11 changed it), in the engine's own
// rendering: the base every variant changes.
func exporterDDL(ctx context.Context, st *chdb.Store, table string) ([]byte, error) {
	for _, m := range schema.Migrations() {
		if m.Name != table {
			continue
		}
		sqls, err := m.Statements(schema.Options{Database: "otel", TextIndex: true})
		if err != nil {
			return nil, err
		}
		base := "base_" + table
		q := strings.Replace(sqls[0], "`otel`.`"+table+"`", "otel."+base, 1)
		if err := st.Exec(ctx, "DROP TABLE IF EXISTS otel."+base, nil); err != nil {
			return nil, err
		}
		if err := st.Exec(ctx, q, nil); err != nil {
			return nil, fmt.Errorf("%s as migration %d creates it: %w", table, m.Version, err)
		}
		ddl, err := st.QueryBytes(ctx, "SHOW CREATE TABLE otel."+base, "TSVRaw", nil)
		if err != nil {
			return nil, err
		}
		if err := st.Exec(ctx, "DROP TABLE otel."+base, nil); err != nil {
			return nil, err
		}
		return []byte(strings.Replace(string(ddl), "otel."+base, "otel."+table, 1)), nil
	}
	return nil, fmt.Errorf("no migration creates %s", table)
}

// variantDDL rewrites the exporter's DDL for v, as table name.
func variantDDL(live, name string, v Variant) (string, error) {
	ddl := strings.Replace(live, "CREATE TABLE otel."+v.Table, "CREATE TABLE otel."+name, 1)
	if v.OrderBy != "" {
		ddl = orderByRE.ReplaceAllString(ddl, "ORDER BY "+v.OrderBy)
	}
	drop := map[string]bool{}
	for _, d := range v.Drop {
		drop[d] = true
	}
	found := map[string]bool{}
	ddl = indexRE.ReplaceAllStringFunc(ddl, func(line string) string {
		m := indexRE.FindStringSubmatch(line)
		found[m[1]] = true
		if drop[m[1]] {
			return ""
		}
		return line
	})
	for d := range drop {
		if !found[d] {
			return "", fmt.Errorf("variant %s: no index %s to drop", v.Name, d)
		}
	}
	for col, codec := range v.Codecs {
		re := regexp.MustCompile("(?m)^(\\s*`" + regexp.QuoteMeta(col) + "` [^\\n]*?)CODEC\\([^\\n]*?\\)\\)?(,?)$")
		if !re.MatchString(ddl) {
			return "", fmt.Errorf("variant %s: no column %s with a codec", v.Name, col)
		}
		ddl = re.ReplaceAllString(ddl, "${1}CODEC("+codec+")${2}")
	}
	if v.Settings != "" {
		i := strings.LastIndex(ddl, "SETTINGS ")
		if i < 0 {
			return "", fmt.Errorf("variant %s: the table has no SETTINGS", v.Name)
		}
		ddl = strings.TrimRight(ddl, "\n") + ", " + v.Settings
	}
	if len(v.Add) > 0 {
		i := strings.LastIndex(ddl, "\n)")
		if i < 0 {
			return "", fmt.Errorf("variant %s: cannot find the end of the column list", v.Name)
		}
		ddl = strings.TrimRight(ddl[:i], ",\n") + ",\n    " + strings.Join(v.Add, ",\n    ") + ddl[i:]
	}
	return ddl, nil
}

// SchemaVariants loads the same logs (or spans) into one table per variant and
// measures, in one run: the insert rate (store.Insert, two batches in
// flight), the size after OPTIMIZE FINAL (table, columns, indexes), and
// each query's time, rows and bytes read and EXPLAIN indexes = 1.
func SchemaVariants(ctx context.Context, st *chdb.Store, logs, runs int, variants []Variant, extra []QueryCase, progress func(string)) ([]VariantResult, error) {
	w := NewWorkload(logs, logs/9)
	pods, weights := w.Pods()
	logBatches := w.LogBatches(100_000)
	var traceBatches []*store.Batch
	var traceID string
	for first := 0; first < w.Traces; first += 10_000 {
		b, ids := w.TraceBatch(first, min(10_000, w.Traces-first), pods, weights)
		traceBatches = append(traceBatches, b)
		if traceID == "" || first <= w.Traces/2 {
			traceID = ids[len(ids)/2]
		}
	}
	pr := w.PickProbes(pods, weights, traceID)
	// The trace-by-id lookup table is filled by the view on otel_traces, so
	// the spans go there too (the variants hold copies).
	if err := truncateTelemetry(ctx, st); err != nil {
		return nil, err
	}
	for _, b := range traceBatches {
		if err := st.Insert(ctx, b); err != nil {
			return nil, err
		}
	}
	var cases []QueryCase
	for _, c := range append(Cases(w, pr), extra...) {
		if strings.Contains(c.SQL, "otel.otel_logs") || strings.Contains(c.SQL, "otel.otel_traces") && !strings.Contains(c.SQL, "JOIN") {
			cases = append(cases, c)
		}
	}
	var out []VariantResult
	for _, v := range variants {
		if v.Table == "" {
			v.Table = "otel_logs"
		}
		live, err := exporterDDL(ctx, st, v.Table)
		if err != nil {
			return nil, err
		}
		batches, rows := logBatches, w.Logs
		if v.Table == "otel_traces" {
			batches, rows = traceBatches, 0
			for _, b := range traceBatches {
				rows += b.Rows
			}
		}
		name := "v_" + v.Name
		ddl, err := variantDDL(string(live), name, v)
		if err != nil {
			return nil, err
		}
		if err := st.Exec(ctx, "DROP TABLE IF EXISTS otel."+name, nil); err != nil {
			return nil, err
		}
		if err := st.Exec(ctx, ddl, nil); err != nil {
			return nil, fmt.Errorf("variant %s: %w\n%s", v.Name, err, ddl)
		}
		progress(fmt.Sprintf("variant %s: insert %d rows", v.Name, rows))
		vb := make([]*store.Batch, len(batches))
		for i, b := range batches {
			c := *b
			c.Table = name
			vb[i] = &c
		}
		t0, c0 := time.Now(), cpuSeconds()
		if err := insertConcurrently(ctx, st, vb, 2); err != nil {
			return nil, err
		}
		r := VariantResult{Variant: v, InsertSeconds: time.Since(t0).Seconds(), InsertCPU: cpuSeconds() - c0, Indexes: map[string]int64{}, Columns: map[string]int64{}}
		r.RowsPerSec = float64(rows) / r.InsertSeconds
		r.RowsPerCPUSec = float64(rows) / r.InsertCPU
		if err := st.Exec(ctx, "OPTIMIZE TABLE otel."+name+" FINAL", nil); err != nil {
			return nil, err
		}
		sz, err := store.ScanAll[struct{ B int64 }](ctx, st, "SELECT sum(bytes_on_disk) AS B FROM system.parts WHERE database = 'otel' AND table = {t:String} AND active", store.Params{"t": name})
		if err != nil || len(sz) != 1 {
			return nil, fmt.Errorf("size of %s: %v", name, err)
		}
		r.Bytes = sz[0].B
		for _, q := range []struct {
			sql string
			m   map[string]int64
		}{{"SELECT name AS N, data_compressed_bytes AS B FROM system.data_skipping_indices WHERE database = 'otel' AND table = {t:String}", r.Indexes},
			{"SELECT name AS N, data_compressed_bytes AS B FROM system.columns WHERE database = 'otel' AND table = {t:String}", r.Columns}} {
			rows, err := store.ScanAll[struct {
				N string
				B int64
			}](ctx, st, q.sql, store.Params{"t": name})
			if err != nil {
				return nil, err
			}
			for _, x := range rows {
				q.m[x.N] = x.B
			}
		}
		progress(fmt.Sprintf("variant %s: %.1f MB, %.0f rows/s; queries", v.Name, float64(r.Bytes)/1e6, r.RowsPerSec))
		for _, c := range cases {
			re := regexp.MustCompile(`otel\.` + v.Table + `\b`)
			if !re.MatchString(c.SQL) {
				continue
			}
			sql := re.ReplaceAllString(c.SQL, "otel."+name)
			var raw []byte
			d, _, err := median(runs, func() error {
				var err error
				raw, err = st.QueryBytes(ctx, sql, "JSON", c.Params)
				return err
			})
			if err != nil {
				return nil, fmt.Errorf("variant %s, %s: %w", v.Name, c.Name, err)
			}
			vq := VariantQuery{Name: c.Name, Ms: ms(d)}
			var stats struct {
				Statistics struct {
					RowsRead  int64 `json:"rows_read"`
					BytesRead int64 `json:"bytes_read"`
				} `json:"statistics"`
			}
			_ = json.Unmarshal(raw, &stats)
			vq.RowsRead, vq.BytesRead = stats.Statistics.RowsRead, stats.Statistics.BytesRead
			if rows, err := sqlRows(raw); err == nil && c.Raw != nil {
				if a, err := c.Raw(rows); err == nil {
					vq.Answer = a.Summary(c.Kind)
				}
			}
			if ex, err := st.QueryBytes(ctx, "EXPLAIN indexes = 1 "+sql, "TSVRaw", c.Params); err == nil {
				vq.Explain = SummarizeExplain(string(ex))
			}
			r.Queries = append(r.Queries, vq)
		}
		out = append(out, r)
		if err := st.Exec(ctx, "DROP TABLE otel."+name, nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// VariantsMarkdown renders the comparison, each table's variants relative
// to its first.
func VariantsMarkdown(all []VariantResult, logs int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d logs and %d traces of the peer workload, one table per variant, same rows, same run (%s).\n\n", logs, logs/9, Machine())
	for _, table := range []string{"otel_logs", "otel_traces"} {
		var rs []VariantResult
		for _, r := range all {
			if r.Table == table {
				rs = append(rs, r)
			}
		}
		if len(rs) == 0 {
			continue
		}
		fmt.Fprintf(&b, "#### %s\n\n| variant | MB after merges | vs first | insert rows/s | rows per CPU-second | vs first | indexes MB | what |\n|---|---:|---:|---:|---:|---:|---:|---|\n", table)
		for _, r := range rs {
			var idx int64
			for _, s := range r.Indexes {
				idx += s
			}
			fmt.Fprintf(&b, "| %s | %.1f | %.2fx | %.0f | %.0f | %.2fx | %.1f | %s |\n", r.Name, float64(r.Bytes)/1e6, float64(r.Bytes)/float64(rs[0].Bytes), r.RowsPerSec, r.RowsPerCPUSec, r.RowsPerCPUSec/rs[0].RowsPerCPUSec, float64(idx)/1e6, r.Note)
		}
		b.WriteString("\nQueries on each variant (median ms / rows read / MB read):\n\n| query |")
		for _, r := range rs {
			fmt.Fprintf(&b, " %s |", r.Name)
		}
		b.WriteString("\n|---|" + strings.Repeat("---:|", len(rs)) + "\n")
		for qi := range rs[0].Queries {
			fmt.Fprintf(&b, "| %s |", rs[0].Queries[qi].Name)
			for _, r := range rs {
				q := r.Queries[qi]
				fmt.Fprintf(&b, " %.1f / %d / %.1f |", q.Ms, q.RowsRead, float64(q.BytesRead)/1e6)
			}
			b.WriteString("\n")
		}
		b.WriteString("\n`EXPLAIN indexes = 1` per variant:\n\n")
		for _, r := range rs {
			fmt.Fprintf(&b, "- %s:\n", r.Name)
			for _, q := range r.Queries {
				fmt.Fprintf(&b, "  - %s (%s): %s\n", q.Name, q.Answer, q.Explain)
			}
		}
		var cols []string
		for c := range rs[0].Columns {
			cols = append(cols, c)
		}
		sort.Slice(cols, func(i, j int) bool { return rs[0].Columns[cols[i]] > rs[0].Columns[cols[j]] })
		b.WriteString("\nLargest columns and every index, compressed MB per variant:\n\n| column or index |")
		for _, r := range rs {
			fmt.Fprintf(&b, " %s |", r.Name)
		}
		b.WriteString("\n|---|" + strings.Repeat("---:|", len(rs)) + "\n")
		for _, c := range cols[:min(8, len(cols))] {
			fmt.Fprintf(&b, "| %s |", c)
			for _, r := range rs {
				fmt.Fprintf(&b, " %.1f |", float64(r.Columns[c])/1e6)
			}
			b.WriteString("\n")
		}
		idxNames := map[string]bool{}
		for _, r := range rs {
			for n := range r.Indexes {
				idxNames[n] = true
			}
		}
		for _, n := range sortedKeys(idxNames) {
			fmt.Fprintf(&b, "| index %s |", n)
			for _, r := range rs {
				if s, ok := r.Indexes[n]; ok {
					fmt.Fprintf(&b, " %.1f |", float64(s)/1e6)
				} else {
					b.WriteString(" - |")
				}
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// tenantKey sorts a namespace's components together, each by time.
const tenantKey = "(OpenChoreoNamespace, OpenChoreoComponent, Timestamp)"

// LogVariants are the layouts `-run variants` compares: the exporter's
// table as migrations 1-7 create it, then tenant-first sort keys and leaner
// index sets.
var LogVariants = []Variant{
	{Name: "exporter", Note: "migration 2 (the exporter's layout): (toStartOfFiveMinutes(Timestamp), ServiceName, Timestamp), text indexes on Body and lower(Body), bloom filters on the maps and tenant columns"},
	{Name: "tenant", OrderBy: tenantKey, Note: "sort key " + tenantKey},
	{Name: "hour_tenant", OrderBy: "(toStartOfHour(Timestamp), OpenChoreoNamespace, OpenChoreoComponent, Timestamp)", Note: "sort key by hour, then tenant"},
	{Name: "tenant_1text", OrderBy: tenantKey, Drop: []string{"idx_body"}, Note: "tenant key, one text index (lower(Body), what search uses)"},
	{Name: "tenant_bf8", OrderBy: tenantKey, Drop: []string{"idx_body", "idx_lower_body"},
		Add: []string{"INDEX idx_lower_body lower(Body) TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8"}, Note: "tenant key, tokenbf_v1(32768, 3, 0) GRANULARITY 8 on lower(Body) instead of the text indexes"},
	{Name: "tenant_bf1", OrderBy: tenantKey, Drop: []string{"idx_body", "idx_lower_body"},
		Add: []string{"INDEX idx_lower_body lower(Body) TYPE tokenbf_v1(65536, 3, 0) GRANULARITY 1"}, Note: "tenant key, tokenbf_v1(65536, 3, 0) GRANULARITY 1 on lower(Body)"},
	{Name: "lean", OrderBy: tenantKey, Drop: leanDrop, Note: "tenant key, one text index, no map-key/value indexes on resource and scope (the materialized columns serve those filters), no bloom filters on the sort key's columns"},
	{Name: "lean_bf1", OrderBy: tenantKey, Drop: append([]string{"idx_lower_body"}, leanDrop...),
		Add: []string{bf1}, Note: "lean with tokenbf_v1(65536, 3, 0) GRANULARITY 1 on lower(Body)"},
	{Name: "lean_bf1_zstd3", OrderBy: tenantKey, Drop: append([]string{"idx_lower_body"}, leanDrop...), Add: []string{bf1},
		Codecs: map[string]string{"Body": "ZSTD(3)", "ResourceAttributes": "ZSTD(3)", "LogAttributes": "ZSTD(3)"}, Note: "lean_bf1 with ZSTD(3) on Body and the maps"},
	{Name: "lean_bf1_counts", OrderBy: tenantKey, Drop: append([]string{"idx_lower_body"}, leanDrop...), Add: []string{bf1, countsProjection},
		Codecs: map[string]string{"ResourceAttributes": "ZSTD(3)"}, Note: "lean_bf1 with ResourceAttributes ZSTD(3) and the per-minute count projection: migration 10"},
	{Name: "lean_bf1_counts_64k", OrderBy: tenantKey, Drop: append([]string{"idx_lower_body"}, leanDrop...), Add: []string{bf1, countsProjection},
		Codecs: map[string]string{"ResourceAttributes": "ZSTD(3)"}, Settings: "max_compress_block_size = 65536",
		Note: "lean_bf1_counts with compressed blocks of at most 64 KiB (the engine's default is 1 MiB): reading one line opens less"},
	{Name: "lean_bf1_pod", OrderBy: "(OpenChoreoNamespace, OpenChoreoComponent, K8sPodName, Timestamp)", Drop: append([]string{"idx_lower_body"}, leanDrop...), Add: []string{bf1},
		Note: "lean_bf1 sorted by pod within the component (resource maps in runs)"},
	{Table: "otel_traces", Name: "traces_exporter", Note: "migration 3: (ServiceName, SpanName, toDateTime(Timestamp)), bloom filter on TraceId"},
	{Table: "otel_traces", Name: "traces_minute", OrderBy: "(toStartOfMinute(Timestamp), ServiceName, SpanName, Timestamp)", Note: "time first (minute), then service"},
	{Table: "otel_traces", Name: "traces_hour_trace", OrderBy: "(toStartOfHour(Timestamp), TraceId, Timestamp)", Note: "hour, then trace id: a trace's spans side by side (migration 11)"},
}

const (
	bf1              = "INDEX idx_lower_body lower(Body) TYPE tokenbf_v1(65536, 3, 0) GRANULARITY 1"
	countsProjection = "PROJECTION p_minute_counts (SELECT toStartOfMinute(Timestamp), OpenChoreoNamespace, OpenChoreoProject, OpenChoreoComponent, OpenChoreoEnvironment, ServiceName, SeverityText, count() " +
		"GROUP BY toStartOfMinute(Timestamp), OpenChoreoNamespace, OpenChoreoProject, OpenChoreoComponent, OpenChoreoEnvironment, ServiceName, SeverityText)"
)

var leanDrop = []string{"idx_body", "idx_res_attr_key", "idx_res_attr_value", "idx_scope_attr_key", "idx_scope_attr_value", "idx_oc_namespace", "idx_oc_component"}

// VariantCases adds the API's form of the full-text search (hasToken on
// lower(Body), any case) to the cases the variants run.
func VariantCases(logs int) []QueryCase {
	w := NewWorkload(logs, logs/9)
	pods, weights := w.Pods()
	pr := w.PickProbes(pods, weights, "")
	first := (w.Traces / 2) / 10_000 * 10_000
	_, ids := w.TraceBatch(first, min(10_000, w.Traces-first), pods, weights)
	return []QueryCase{{Name: "trace by id, exact window", Kind: kindSpans,
		SQL: `WITH (SELECT (min(Start), max(End)) FROM otel.otel_traces_trace_id_ts WHERE TraceId = {t:String}) AS b
SELECT TraceId, SpanId, SpanName, SpanKind, Timestamp, Duration, ParentSpanId, StatusCode, StatusMessage, ServiceName,
SpanAttributes, ResourceAttributes FROM otel.otel_traces
WHERE TraceId = {t:String} AND Timestamp >= b.1 AND Timestamp < b.2 + 1 ORDER BY Timestamp`, Params: store.Params{"t": ids[len(ids)/2]},
		Raw: func(rows []map[string]any) (Answer, error) { return spanSet(rows, "SpanId") }}, {Name: "a request id AND a word, any case (the API's search)", Kind: kindRows,
		SQL:    "SELECT " + logCols + " FROM otel.otel_logs WHERE hasToken(lower(Body), {rid:String}) AND hasToken(lower(Body), {word:String}) AND Timestamp >= {from:DateTime64(9)} AND Timestamp < {to:DateTime64(9)} ORDER BY Timestamp DESC LIMIT 100",
		Params: store.Params{"rid": pr.RequestID, "word": pr.Word, "from": w.Start.Format("2006-01-02 15:04:05"), "to": w.End().Format("2006-01-02 15:04:05")},
		Raw:    func(rows []map[string]any) (Answer, error) { return rowsByTime(rows, "Timestamp") }}}
}

// cpuSeconds is the process's CPU time so far (user and system, all
// threads, the embedded engine's included).
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
