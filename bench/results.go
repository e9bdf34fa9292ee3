package bench

import (
	"encoding/json"
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Results is one `make bench` run: what bench/results/<date>.json holds and
// what docs/BENCHMARKS.md's peer section and chart are rendered from.
type Results struct {
	Date, Commit, Machine, Engine string
	OpenSearch, VictoriaLogs      string
	Command                       string
	Scales                        []*ScaleResult
	// Failures are wrong answers (a way whose answer differed from the raw
	// SQL's) and errors; a run with any fails.
	Failures []string
}

// Check collects every mismatch and error of the run into Failures.
func (r *Results) Check() {
	r.Failures = nil
	for _, s := range r.Scales {
		for _, q := range s.Queries {
			for _, way := range sortedKeys(q.Mismatch) {
				r.Failures = append(r.Failures, fmt.Sprintf("%d logs: %s: %s answered differently from the raw SQL: %s", s.Logs, q.Name, way, q.Mismatch[way]))
			}
			for _, way := range sortedKeys(q.Errors) {
				r.Failures = append(r.Failures, fmt.Sprintf("%d logs: %s: %s failed: %s", s.Logs, q.Name, way, q.Errors[way]))
			}
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Write stores r as JSON at path.
func (r *Results) Write(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// ReadResults loads a results file.
func ReadResults(path string) (*Results, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Results
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

func ratio(num, den float64) string {
	if num <= 0 || den <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1fx", num/den)
}

func msCell(q QueryResult, way string) string {
	if e, ok := q.Errors[way]; ok {
		e = strings.ReplaceAll(strings.Join(strings.Fields(e), " "), "|", "/")
		return "error: " + e[:min(120, len(e))]
	}
	v, ok := q.Ms[way]
	if !ok {
		return "n/a"
	}
	s := fmt.Sprintf("%.1f", v)
	if v >= 100 {
		s = fmt.Sprintf("%.0f", v)
	}
	if q.Runs[way] == 1 {
		s += " (1 run)"
	}
	if _, bad := q.Mismatch[way]; bad {
		s += " **WRONG**"
	}
	return s
}

func mb(b int64) string { return fmt.Sprintf("%.1f", float64(b)/1e6) }

// Markdown renders the peer section of docs/BENCHMARKS.md; chart is the
// SVG's path relative to the markdown file ("" for none).
func (r *Results) Markdown(chart string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## obsplane, OpenSearch and VictoriaLogs on the same data\n\n")
	fmt.Fprintf(&b, "Run %s at %s (%s; engine %s; OpenSearch %s; VictoriaLogs %s). Reproduce: `%s`. Every figure below comes from `bench/results/%s.json`, written by the same run.\n\n",
		r.Date, r.Commit, r.Machine, r.Engine, orNA(r.OpenSearch), orNA(r.VictoriaLogs), r.Command, r.Date)
	if len(r.Failures) > 0 {
		fmt.Fprintf(&b, "**This run FAILED its correctness check** (a fast wrong answer is no answer):\n\n")
		for _, f := range r.Failures {
			fmt.Fprintf(&b, "- %s\n", f)
		}
		b.WriteString("\n")
	} else {
		fmt.Fprintf(&b, "Correctness: every answer below was compared with the raw SQL's answer and agreed (counts, rows and groups exactly; percentiles within %.0f%% or %.0f ms in groups of at least %d spans).\n\n", TolRelative*100, TolAbsMs, MinApproxCount)
	}
	if chart != "" {
		fmt.Fprintf(&b, "![time per query, each system](%s)\n\n", chart)
	}
	for _, s := range r.Scales {
		fmt.Fprintf(&b, "### %d logs, %d traces (%d spans)\n\n", s.Logs, s.Traces, s.Spans)
		fmt.Fprintf(&b, "Probes picked from the data: namespace `%s`, component `%s`, request id `%s` with the word `%s`, trace `%s`.\n\n",
			s.Probes.Namespace, s.Probes.Component, s.Probes.RequestID, s.Probes.Word, s.Probes.TraceID)
		if len(s.Ingest) > 0 {
			b.WriteString("| ingest | seconds | logs/s | how |\n|---|---:|---:|---|\n")
			for _, i := range s.Ingest {
				fmt.Fprintf(&b, "| %s | %.2f | %.0f | %s |\n", i.System, i.Seconds, i.PerSec, i.Note)
			}
			b.WriteString("\n")
		}
		if len(s.Storage) > 0 {
			b.WriteString(storageMarkdown(s))
		}
		b.WriteString("| query | raw engine ms | API ms | OpenSearch ms | VictoriaLogs ms | OpenSearch / API | whitepaper | VictoriaLogs / API | API target ms | answer |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
		for _, q := range s.Queries {
			paper, target := "", ""
			if q.Paper > 0 {
				paper = fmt.Sprintf("%.1fx", q.Paper)
			}
			if q.TargetMs > 0 {
				target = fmt.Sprintf("%.0f", q.TargetMs)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | **%s** | %s | **%s** | %s | %s |\n", q.Name, msCell(q, WayRaw), msCell(q, WayAPI), msCell(q, WayOS), msCell(q, WayVL),
				ratio(q.Ms[WayOS], q.Ms[WayAPI]), paper, ratio(q.Ms[WayVL], q.Ms[WayAPI]), target, q.Answer)
		}
		b.WriteString("\nWhat the engine read for the raw SQL (from the answer's statistics, and `EXPLAIN indexes = 1`: parts and granules kept by each index step):\n\n| query | rows read | MB read | EXPLAIN indexes = 1 |\n|---|---:|---:|---|\n")
		for _, q := range s.Queries {
			fmt.Fprintf(&b, "| %s | %d | %.1f | %s |\n", q.Name, q.RowsRead, float64(q.BytesRead)/1e6, strings.ReplaceAll(q.ExplainSummary, "|", "/"))
		}
		b.WriteString("\nWhat the API ran for each request (statements of the last timed request; `EXPLAIN indexes = 1` of each):\n\n| query | statements | EXPLAIN indexes = 1, per statement |\n|---|---:|---|\n")
		for _, q := range s.Queries {
			if len(q.APIStatements) == 0 {
				continue
			}
			var ex []string
			for i, st := range q.APIStatements {
				ex = append(ex, fmt.Sprintf("%d. %s", i+1, strings.ReplaceAll(orNA(st.ExplainSummary), "|", "/")))
			}
			fmt.Fprintf(&b, "| %s | %d | %s |\n", q.Name, len(q.APIStatements), strings.Join(ex, "<br>"))
		}
		if s.Load != nil {
			fmt.Fprintf(&b, "\nUnder load: %d readers cycling through the queries a user waits for while the system ingests new logs (target %d logs/s, OTLP for obsplane and VictoriaLogs, `_bulk` of Fluent Bit documents for OpenSearch) for %.0f s; latencies in ms.\n\n",
				s.Load.Readers, s.Load.TargetRate, s.Load.Seconds)
			b.WriteString("| system | ingested logs/s | query | queries | p50 ms | p95 ms | errors |\n|---|---:|---|---:|---:|---:|---:|\n")
			for _, ls := range s.Load.Systems {
				for _, q := range ls.Queries {
					fmt.Fprintf(&b, "| %s | %.0f | %s | %d | %.1f | %.1f | %d |\n", ls.System, ls.IngestPerSec, q.Name, q.N, q.P50, q.P95, q.Errors)
				}
			}
		}
		b.WriteString("\nWhat each OpenSearch and VictoriaLogs query is:\n\n")
		for _, q := range s.Queries {
			if q.OSNote != "" || q.VL != "" {
				fmt.Fprintf(&b, "- %s: OpenSearch: %s", q.Name, orNA(q.OSNote))
				if q.VL != "" {
					fmt.Fprintf(&b, "; VictoriaLogs: `%s`", q.VL)
				}
				b.WriteString("\n")
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

func orNA(s string) string {
	if s == "" {
		return "n/a"
	}
	return s
}

func storageMarkdown(s *ScaleResult) string {
	var b strings.Builder
	b.WriteString("| storage after merges | rows | MB | bytes/row |\n|---|---:|---:|---:|\n")
	var obsLogs, obsAll, vlLogs, osLogs, osAll int64
	for _, t := range s.Storage {
		fmt.Fprintf(&b, "| %s: %s | %d | %s | %.1f |\n", t.System, t.What, t.Rows, mb(t.Bytes), float64(t.Bytes)/float64(max(t.Rows, 1)))
		switch {
		case t.System == "obsplane" && t.What == "otel_logs":
			obsLogs = t.Bytes
			obsAll += t.Bytes
		case t.System == "obsplane":
			obsAll += t.Bytes
		case t.System == "VictoriaLogs":
			vlLogs = t.Bytes
		case t.System == "OpenSearch":
			osAll += t.Bytes
			if t.What == "logs" {
				osLogs = t.Bytes
			}
		}
	}
	fmt.Fprintf(&b, "\nLogs: OpenSearch / obsplane **%s** (goal: at least 15x), obsplane / VictoriaLogs **%s** (goal: at most 1.5x). Logs and spans with every helper table: OpenSearch / obsplane **%s**.\n\n",
		ratio(float64(osLogs), float64(obsLogs)), ratio(float64(obsLogs), float64(vlLogs)), ratio(float64(osAll), float64(obsAll)))
	for _, t := range s.Storage {
		if t.System == "obsplane" && t.What == "otel_logs" && len(t.Detail) > 0 {
			type kv struct {
				k string
				v int64
			}
			var d []kv
			for k, v := range t.Detail {
				d = append(d, kv{k, v})
			}
			sort.Slice(d, func(i, j int) bool { return d[i].v > d[j].v })
			b.WriteString("otel_logs by column and index (compressed MB): ")
			var parts []string
			for _, e := range d[:min(12, len(d))] {
				parts = append(parts, fmt.Sprintf("%s %s", e.k, mb(e.v)))
			}
			b.WriteString(strings.Join(parts, ", ") + ".\n\n")
		}
	}
	return b.String()
}

// SVG renders the chart of the first scale with peers: per query, each
// system's time (log scale), and the OpenSearch / API ratio beside the
// whitepaper's.
func (r *Results) SVG() string {
	var s *ScaleResult
	for _, sc := range r.Scales {
		if s == nil || len(sc.Ingest) > len(s.Ingest) {
			s = sc
		}
	}
	if s == nil {
		return ""
	}
	ways := []struct{ way, label, color string }{{WayAPI, "obsplane API", "#1f77b4"}, {WayOS, "OpenSearch", "#ff7f0e"}, {WayVL, "VictoriaLogs", "#2ca02c"}}
	const left, barH, gap, plotW = 300, 9, 14, 420
	maxMs := 1.0
	for _, q := range s.Queries {
		for _, w := range ways {
			maxMs = math.Max(maxMs, q.Ms[w.way])
		}
	}
	top := math.Pow(10, math.Ceil(math.Log10(maxMs)))
	x := func(ms float64) float64 {
		if ms < 0.1 {
			ms = 0.1
		}
		return plotW * (math.Log10(ms) + 1) / (math.Log10(top) + 1)
	}
	rowH := len(ways)*barH + gap
	height := 70 + len(s.Queries)*rowH + 30
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">`+"\n", left+plotW+230, height)
	fmt.Fprintf(&b, `<text x="10" y="18" font-size="13" font-weight="bold">Time per query at %d logs / %d spans, %s (log scale, ms; lower is better)</text>`+"\n", s.Logs, s.Spans, html.EscapeString(r.Date))
	for i, w := range ways {
		fmt.Fprintf(&b, `<rect x="%d" y="28" width="10" height="10" fill="%s"/><text x="%d" y="37">%s</text>`+"\n", 10+i*130, w.color, 24+i*130, w.label)
	}
	fmt.Fprintf(&b, `<text x="%d" y="37" font-weight="bold">OpenSearch / API (whitepaper)</text>`+"\n", left+plotW+10)
	for d := 0.1; d <= top; d *= 10 {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="50" x2="%.1f" y2="%d" stroke="#ddd"/><text x="%.1f" y="%d" text-anchor="middle" fill="#666">%g</text>`+"\n",
			float64(left)+x(d), float64(left)+x(d), height-25, float64(left)+x(d), height-12, d)
	}
	for i, q := range s.Queries {
		y := 55 + i*rowH
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", left-8, y+barH*len(ways)/2+4, html.EscapeString(q.Name))
		for j, w := range ways {
			v, ok := q.Ms[w.way]
			if !ok {
				continue
			}
			fill := w.color
			if _, bad := q.Mismatch[w.way]; bad {
				fill = "#d62728"
			}
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"><title>%s %.1f ms</title></rect>`+"\n", left, y+j*barH, math.Max(1, x(v)), barH-1, fill, w.label, v)
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="9" fill="#333">%.1f</text>`+"\n", float64(left)+math.Max(1, x(v))+3, y+j*barH+barH-2, v)
		}
		rt := ratio(q.Ms[WayOS], q.Ms[WayAPI])
		if q.Paper > 0 {
			rt += fmt.Sprintf(" (%.1fx)", q.Paper)
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", left+plotW+10, y+barH*len(ways)/2+4, rt)
	}
	b.WriteString("</svg>\n")
	return b.String()
}
