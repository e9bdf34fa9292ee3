// Package grafana_test runs every panel of deploy/grafana/dashboards the way
// Grafana with grafana-clickhouse-datasource (4.x) would: template variables
// resolved (query variables by running their own SQL), the datasource's
// $__conditionalAll and variable formatting applied as its frontend does,
// its backend macros expanded as its pkg/macros documents them, and the SQL
// sent with clickhouse-go over ClickHouse's HTTP protocol, as the read-only
// Grafana user, to a real obsplane serve that received telemetrygen's logs,
// traces and metrics through its gateway. Every panel must return rows.
package grafana_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/openchoreo/obsplane/internal/opensearch/opensearchtest"
	"github.com/openchoreo/obsplane/internal/servetest"
)

var osURL, osSkip string

func TestMain(m *testing.M) {
	osURL, osSkip = opensearchtest.ForMain("deploy/grafana")
	code := m.Run()
	servetest.Cleanup()
	os.Exit(code)
}

type dashboard struct {
	UID        string `json:"uid"`
	Title      string `json:"title"`
	Templating struct {
		List []variable `json:"list"`
	} `json:"templating"`
	Panels []struct {
		ID      int    `json:"id"`
		Type    string `json:"type"`
		Title   string `json:"title"`
		Targets []struct {
			RawSQL     string `json:"rawSql"`
			Datasource struct {
				Type string `json:"type"`
				UID  string `json:"uid"`
			} `json:"datasource"`
		} `json:"targets"`
	} `json:"panels"`
}

type variable struct {
	Name       string `json:"name"`
	Type       string `json:"type"`
	Query      string `json:"query"`
	Multi      bool   `json:"multi"`
	IncludeAll bool   `json:"includeAll"`
}

// timeRange is the dashboard's range and Grafana's interval for it.
type timeRange struct {
	from, to time.Time
	interval time.Duration
}

// expandMacros expands the datasource's backend macros (pkg/macros of
// grafana-clickhouse-datasource: time filters as toDateTime of Unix seconds
// or fromUnixTimestamp64Milli of milliseconds, intervals as
// toStartOfInterval). A macro it does not know is an error.
func expandMacros(q string, tr timeRange) (string, error) {
	from, to := tr.from.Unix(), tr.to.Unix()
	fromMs, toMs := tr.from.UnixMilli(), tr.to.UnixMilli()
	secs := int64(math.Max(tr.interval.Seconds(), 1))
	ms := int64(math.Max(float64(tr.interval.Milliseconds()), 1))
	var err error
	out := macroRE.ReplaceAllStringFunc(q, func(m string) string {
		sub := macroRE.FindStringSubmatch(m)
		name, args := sub[1], splitArgs(sub[3])
		want := func(n int) bool {
			if sub[2] == "" && n > 0 || len(args) != n {
				err = fmt.Errorf("$__%s: %d arguments, want %d", name, len(args), n)
				return false
			}
			return true
		}
		switch name {
		case "timeFilter":
			if want(1) {
				return fmt.Sprintf("%s >= toDateTime(%d) AND %s <= toDateTime(%d)", args[0], from, args[0], to)
			}
		case "timeFilter_ms":
			if want(1) {
				return fmt.Sprintf("%s >= fromUnixTimestamp64Milli(%d) AND %s <= fromUnixTimestamp64Milli(%d)", args[0], fromMs, args[0], toMs)
			}
		case "dateFilter":
			if want(1) {
				return fmt.Sprintf("%s >= toDate('%s') AND %s <= toDate('%s')", args[0], tr.from.Format("2006-01-02"), args[0], tr.to.Format("2006-01-02"))
			}
		case "dateTimeFilter", "dt":
			if want(2) {
				return fmt.Sprintf("(%s >= toDate('%s') AND %s <= toDate('%s')) AND (%s >= toDateTime(%d) AND %s <= toDateTime(%d))",
					args[0], tr.from.Format("2006-01-02"), args[0], tr.to.Format("2006-01-02"), args[1], from, args[1], to)
			}
		case "timeFrom":
			if want(1) {
				return fmt.Sprintf("%s >= toDateTime(%d)", args[0], from)
			}
		case "timeTo":
			if want(1) {
				return fmt.Sprintf("%s <= toDateTime(%d)", args[0], to)
			}
		case "timeGroup":
			if want(2) {
				d, perr := time.ParseDuration(strings.Trim(args[1], `'" `))
				if perr != nil || d <= 0 {
					err = fmt.Errorf("$__timeGroup: interval %q", args[1])
					return m
				}
				return fmt.Sprintf("toStartOfInterval(toDateTime(%s), INTERVAL %d second)", args[0], int64(math.Round(d.Seconds())))
			}
		case "fromTime":
			return fmt.Sprintf("toDateTime(%d)", from)
		case "toTime":
			return fmt.Sprintf("toDateTime(%d)", to)
		case "fromTime_ms":
			return fmt.Sprintf("fromUnixTimestamp64Milli(%d)", fromMs)
		case "toTime_ms":
			return fmt.Sprintf("fromUnixTimestamp64Milli(%d)", toMs)
		case "timeInterval":
			if want(1) {
				return fmt.Sprintf("toStartOfInterval(toDateTime(%s), INTERVAL %d second)", args[0], secs)
			}
		case "timeInterval_ms":
			if want(1) {
				return fmt.Sprintf("toStartOfInterval(toDateTime64(%s, 3), INTERVAL %d millisecond)", args[0], ms)
			}
		case "interval_s":
			return fmt.Sprint(secs)
		case "interval_ms":
			return fmt.Sprint(tr.interval.Milliseconds())
		default:
			err = fmt.Errorf("macro $__%s is not one the datasource expands", name)
		}
		return m
	})
	if err != nil {
		return "", err
	}
	if strings.Contains(out, "$__") {
		return "", fmt.Errorf("unexpanded macro left in %q", out)
	}
	return out, nil
}

var macroRE = regexp.MustCompile(`\$__(\w+)(\(((?:[^()]|\([^()]*\))*)\))?`)

// splitArgs splits a macro's arguments at top-level commas.
func splitArgs(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	var out []string
	depth, quote, start := 0, byte(0), 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == ',' && depth == 0:
			out = append(out, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

// applyConditionalAll is the datasource frontend's $__conditionalAll(cond,
// $var): the condition, or 1=1 when the variable is empty or All.
func applyConditionalAll(q string, values map[string][]string) (string, error) {
	const macro = "$__conditionalAll("
	for i := strings.LastIndex(q, macro); i >= 0; i = strings.LastIndex(q, macro) {
		open := i + len(macro) - 1
		depth, end := 0, -1
		for j := open; j < len(q) && end < 0; j++ {
			switch q[j] {
			case '(':
				depth++
			case ')':
				if depth--; depth == 0 {
					end = j
				}
			}
		}
		if end < 0 {
			return "", fmt.Errorf("unclosed %s", macro)
		}
		args := splitArgs(q[open+1 : end])
		if len(args) != 2 {
			return "", fmt.Errorf("%s with %d arguments", macro, len(args))
		}
		name := strings.Trim(strings.TrimPrefix(args[1], "$"), "{}")
		phrase := args[0]
		if v, ok := values[name]; !ok {
			return "", fmt.Errorf("%s names unknown variable %q", macro, name)
		} else if len(v) == 0 || (len(v) == 1 && (v[0] == "" || v[0] == "$__all")) {
			phrase = "1=1"
		}
		q = q[:i] + phrase + q[end+1:]
	}
	return q, nil
}

var varRE = regexp.MustCompile(`\$\{(\w+)(?::(\w+))?\}|\$(\w+)|\[\[(\w+)\]\]`)

// replaceVariables is Grafana's templateSrv.replace with the datasource's
// format: a multi-value variable becomes 'a','b', a single value is left
// as it is. Names Grafana does not know ($__interval_s, the macros) stay.
func replaceVariables(q string, values map[string][]string, multi map[string]bool, tr timeRange) string {
	builtin := map[string]string{
		"__interval":    fmt.Sprintf("%ds", int64(tr.interval.Seconds())),
		"__interval_ms": fmt.Sprint(tr.interval.Milliseconds()),
		"__from":        fmt.Sprint(tr.from.UnixMilli()),
		"__to":          fmt.Sprint(tr.to.UnixMilli()),
	}
	return varRE.ReplaceAllStringFunc(q, func(m string) string {
		s := varRE.FindStringSubmatch(m)
		name := s[1] + s[3] + s[4]
		if v, ok := builtin[name]; ok {
			return v
		}
		v, ok := values[name]
		if !ok {
			return m
		}
		if multi[name] || len(v) > 1 || s[2] == "singlequote" {
			quoted := make([]string, len(v))
			for i, x := range v {
				quoted[i] = strings.ReplaceAll(x, "'", "\\'")
			}
			return "'" + strings.Join(quoted, "','") + "'"
		}
		if len(v) == 0 {
			return ""
		}
		return v[0]
	})
}

// TestExpansion pins the expansion to the datasource's documented outputs.
func TestExpansion(t *testing.T) {
	tr := timeRange{from: time.Unix(1415792726, 123e6), to: time.Unix(1447328726, 456e6), interval: 20 * time.Second}
	for in, want := range map[string]string{
		"$__timeFilter(time)":            "time >= toDateTime(1415792726) AND time <= toDateTime(1447328726)",
		"$__timeFilter_ms(time)":         "time >= fromUnixTimestamp64Milli(1415792726123) AND time <= fromUnixTimestamp64Milli(1447328726456)",
		"$__fromTime":                    "toDateTime(1415792726)",
		"$__toTime_ms":                   "fromUnixTimestamp64Milli(1447328726456)",
		"$__interval_s":                  "20",
		"$__timeInterval(column)":        "toStartOfInterval(toDateTime(column), INTERVAL 20 second)",
		"$__timeInterval_ms(column)":     "toStartOfInterval(toDateTime64(column, 3), INTERVAL 20000 millisecond)",
		"$__timeGroup(column, 5m)":       "toStartOfInterval(toDateTime(column), INTERVAL 300 second)",
		"$__timeFrom(time)":              "time >= toDateTime(1415792726)",
		"$__dateFilter(date)":            "date >= toDate('2014-11-12') AND date <= toDate('2015-11-12')",
		"f($__timeFilter(toDate(x)), 1)": "f(toDate(x) >= toDateTime(1415792726) AND toDate(x) <= toDateTime(1447328726), 1)",
	} {
		got, err := expandMacros(in, tr)
		if err != nil || got != want {
			t.Errorf("%s:\n got %q (%v)\nwant %q", in, got, err, want)
		}
	}
	if _, err := expandMacros("$__columns(t, k, v) FROM x", tr); err == nil {
		t.Error("a statement macro was not refused (the dashboards use none)")
	}
	vals := map[string][]string{"service": {"a", "b"}, "search": {""}, "one": {"x"}}
	q, err := applyConditionalAll("WHERE $__conditionalAll(s IN ($service), $service) AND $__conditionalAll(hasToken(b, '${search}'), $search)", vals)
	if err != nil || q != "WHERE s IN ($service) AND 1=1" {
		t.Errorf("conditionalAll: %q %v", q, err)
	}
	if got := replaceVariables("s IN (${service}) AND o = '$one' AND $__interval_s", vals, map[string]bool{"service": true}, tr); got != "s IN ('a','b') AND o = 'x' AND $__interval_s" {
		t.Errorf("variables: %q", got)
	}
}

func loadDashboards(t *testing.T) map[string]dashboard {
	t.Helper()
	files, err := filepath.Glob("dashboards/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards: %v", err)
	}
	out := map[string]dashboard{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard
		dec := json.NewDecoder(strings.NewReader(string(b)))
		if err := dec.Decode(&d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[filepath.Base(f)] = d
	}
	return out
}

// TestDashboardsReturnRows is the end-to-end run of every panel.
func TestDashboardsReturnRows(t *testing.T) {
	if testing.Short() {
		t.Skip("runs obsplane and telemetrygen")
	}
	if osSkip != "" {
		t.Skip(osSkip)
	}
	dashboards := loadDashboards(t)
	// Dual write on, as during a migration, so that the migration's own
	// commands have OpenSearch data to copy and compare.
	srv := servetest.Start(t, servetest.Options{ClickHouseHTTP: true, Args: []string{
		"--clickhouse-http-users", "default:,grafana:reader-pw:readonly=2",
		"--opensearch-url", osURL, "--shadow-write=true",
	}})
	// Telemetry through the gateway: logs at two levels, traces with
	// children, metrics of two kinds.
	srv.Send(t, "logs", "--logs", "3000", "--body", "dashboard test request served", "--service", "orders")
	srv.Send(t, "logs", "--logs", "300", "--body", "dashboard test payment failed", "--service", "payments", "--severity-text", "ERROR", "--severity-number", "17")
	srv.Send(t, "traces", "--traces", "300", "--child-spans", "2", "--batch=false", "--service", "orders")
	srv.Send(t, "traces", "--traces", "100", "--child-spans", "1", "--batch=false", "--service", "payments", "--status-code", "Error")
	srv.Send(t, "metrics", "--metrics", "200", "--metric-type", "Sum")
	srv.Send(t, "metrics", "--metrics", "200", "--metric-type", "Gauge")
	// A rollout change through the flag API, as an operator ramps.
	req, _ := http.NewRequest(http.MethodPatch, "http://"+srv.HTTP+"/api/v1/flags/use_clickhouse",
		strings.NewReader(`{"rolloutPercentage": 5, "reason": "ramp to 5% (dashboard test)"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PATCH use_clickhouse: %s", resp.Status)
	}

	// The migration's steps as the chart's Jobs run them, through the
	// server's ClickHouse HTTP interface: a backfill of today's logs and a
	// short validation (their verdicts do not matter here, only that their
	// progress and results are in the store for the dashboard).
	day := time.Now().UTC()
	for _, args := range [][]string{
		{"migrate", "backfill", "--from=opensearch", "--start", day.Format("2006-01-02"), "--end", day.AddDate(0, 0, 1).Format("2006-01-02"),
			"--signals", "logs", "--progress-bars=false"},
		{"migrate", "validate", "--duration", "3s", "--sample-interval", "1s", "--report-file", ""},
	} {
		cmd := exec.Command(servetest.Binary(t), append(args, "--opensearch-url", osURL,
			"--clickhouse-dsn", "http://default@"+srv.ClickHouseHTTP+"/otel", "--data", t.TempDir())...)
		out, err := cmd.CombinedOutput()
		t.Logf("obsplane %s (%v): %s", strings.Join(args[:2], " "), err, lastLine(string(out)))
	}

	// Grafana's connection: clickhouse-go over HTTP, the read-only user.
	db := clickhouse.OpenDB(&clickhouse.Options{Protocol: clickhouse.HTTP, Addr: []string{srv.ClickHouseHTTP},
		Auth: clickhouse.Auth{Database: "otel", Username: "grafana", Password: "reader-pw"}})
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	count := func(q string) (int, [][]any, error) {
		rows, err := db.QueryContext(ctx, q)
		if err != nil {
			return 0, nil, err
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		n := 0
		var first [][]any
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				return 0, nil, err
			}
			if n < 3 {
				first = append(first, vals)
			}
			n++
		}
		return n, first, rows.Err()
	}
	// Wait until the gateway's batches are all queryable.
	for _, c := range []struct {
		table string
		want  int
	}{{"otel_logs", 3300}, {"otel_traces", 300*3 + 100*2}, {"otel_metrics_sum", 200}, {"otel_metrics_gauge", 200}} {
		deadline := time.Now().Add(90 * time.Second)
		for {
			var n int64
			err := db.QueryRowContext(ctx, "SELECT toInt64(count()) FROM "+c.table).Scan(&n)
			if err == nil && n >= int64(c.want) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never reached %d rows (%d, %v)", c.table, c.want, n, err)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}

	now := time.Now()
	tr := timeRange{from: now.Add(-time.Hour), to: now.Add(time.Minute), interval: 30 * time.Second}
	expand := func(raw string, values map[string][]string, multi map[string]bool) (string, error) {
		q, err := applyConditionalAll(raw, values)
		if err != nil {
			return "", err
		}
		return expandMacros(replaceVariables(q, values, multi, tr), tr)
	}
	total, withRows, selected := 0, 0, 0
	for file, d := range dashboards {
		// Variables as the dashboard opens (All, empty search), and a
		// second set with each query variable's first option selected, so
		// that the filters they drive are run too.
		opened, picked, multi := map[string][]string{}, map[string][]string{}, map[string]bool{}
		for _, v := range d.Templating.List {
			switch v.Type {
			case "query":
				q, err := expand(v.Query, opened, multi)
				if err != nil {
					t.Fatalf("%s: variable %s: %v", file, v.Name, err)
				}
				n, _, err := count(q)
				if err != nil || n == 0 {
					t.Fatalf("%s: variable %s: %d options, %v\n%s", file, v.Name, n, err, q)
				}
				var first string
				if err := db.QueryRowContext(ctx, q).Scan(&first); err != nil {
					t.Fatal(err)
				}
				opened[v.Name], picked[v.Name], multi[v.Name] = []string{"$__all"}, []string{first}, v.Multi
				if !v.IncludeAll {
					opened[v.Name] = []string{first}
				}
				t.Logf("%s: $%s has %d options; first %q", file, v.Name, n, first)
			case "textbox", "constant", "custom":
				opened[v.Name], picked[v.Name] = []string{v.Query}, []string{v.Query}
			default:
				t.Fatalf("%s: variable %s of type %s", file, v.Name, v.Type)
			}
		}
		// "All" of a multi-value variable is every option, which the
		// datasource formats as a quoted list; $__conditionalAll turns
		// the filter off before that matters.
		for _, p := range d.Panels {
			if p.Type == "row" {
				continue
			}
			for _, tg := range p.Targets {
				total++
				if tg.Datasource.Type != "grafana-clickhouse-datasource" || tg.Datasource.UID != "obsplane-clickhouse" {
					t.Errorf("%s / %s: datasource %+v, want the provisioned obsplane-clickhouse", file, p.Title, tg.Datasource)
					continue
				}
				q, err := expand(tg.RawSQL, opened, multi)
				if err != nil {
					t.Errorf("%s / %s: %v", file, p.Title, err)
					continue
				}
				n, first, err := count(q)
				switch {
				case err != nil:
					t.Errorf("%s / %s: %v\n%s", file, p.Title, err, q)
				case n == 0:
					t.Errorf("%s / %s: no rows\n%s", file, p.Title, q)
				default:
					withRows++
					t.Logf("%s / %s: %d rows, first %v", file, p.Title, n, first[0])
				}
				if q2, err := expand(tg.RawSQL, picked, multi); err != nil {
					t.Errorf("%s / %s with variables selected: %v", file, p.Title, err)
				} else if _, _, err := count(q2); err != nil {
					t.Errorf("%s / %s with variables selected: %v\n%s", file, p.Title, err, q2)
				} else {
					selected++
				}
			}
		}
	}
	t.Logf("with the first option of each variable selected, %d of %d panels ran", selected, total)
	t.Logf("dashboards %d, panels %d, panels whose SQL returned rows %d", len(dashboards), total, withRows)
	if total == 0 || withRows != total {
		t.Errorf("%d of %d panels returned rows", withRows, total)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
