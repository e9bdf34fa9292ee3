package chhttp

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/openchoreo/obsplane/internal/store"
	"github.com/openchoreo/obsplane/internal/store/chdb"
)

// Read-only requests: those of users with readonly=1 or 2, and GETs (as in
// ClickHouse). The engine is clickhouse-local's, which is not confined to a
// user-files directory; its readonly setting is what keeps a request from
// writing, creating, changing settings and running table functions that
// reach files and the network (file(), url(), s3()...), but only at
// readonly=1: at 2, which Grafana and HyperDX need because they send
// settings with every query, table functions run. So a readonly=2 request
// (and a GET of a writing user) runs locked: on a fresh connection, its
// settings are applied first (the URL's, a session's remembered ones, the
// query's own SETTINGS clause), then the user's limits, then readonly=1;
// the connection is closed after the request. What the engine does not
// check even at readonly=1 is refused here from the text (refuse): the
// scalar file() function, KILL QUERY (every engine connection is one
// engine user, so a read-only user could kill anyone's query), and settings
// that name files or hold SQL that could call file().

// lockedSettings are set on a locked connection after the request's own
// settings and before readonly=1, so a request can neither name a file
// through them nor change them afterwards: the SQL dialect (PRQL and KQL
// could reach functions by other names), and settings that read or write
// files by path (format schemas and templates, error logs) or fetch URLs.
var lockedSettings = []assign{
	{"dialect", "'clickhouse'"},
	{"format_schema", "''"},
	{"format_schema_source", "'file'"},
	{"format_template_resultset", "''"},
	{"format_template_row", "''"},
	{"output_format_schema", "''"},
	{"input_format_record_errors_file_path", "''"},
	{"format_avro_schema_registry_url", "''"},
	{"url_base", "''"},
	{"rename_files_after_processing", "''"},
}

// readOnly says whether the request may only read; locked, whether it runs
// on a fresh connection locked after its settings (readonly=2 users, and
// GETs of writing users); readonly=1 users get readonly=1 first, so the
// engine refuses their settings as ClickHouse does.
func readOnly(req *request) bool { return req.user.Readonly > 0 || req.get }
func locked(req *request) bool   { return req.user.Readonly == 2 || req.user.Readonly == 0 && req.get }

func readonlyRefusal(format string, args ...any) *Exception {
	return exception(codeReadonly, "Cannot execute query in readonly mode: "+format, args...)
}

// refuse checks a read-only request's statement, parameters and settings
// for what the engine would run even at readonly=1. An INSERT, which the
// engine refuses too, is refused before its body is read.
func refuse(req *request, st statement, sql string) error {
	switch st.Kind {
	case "KILL", "INSERT":
		return readonlyRefusal("%s is for writing users", st.Kind)
	}
	if namesFile(sql, 0) {
		return readonlyRefusal("the query names the file function, which reads the server's files")
	}
	if st.Kind == "SET" {
		// SET param_x is allowed even at readonly=1, and a session's
		// parameter can name a function later ({x:Identifier}).
		pairs, ok := parseSet(sql)
		if !ok {
			return readonlyRefusal("a read-only request's SET takes settings with literal values (SET name = value, ...)")
		}
		if err := refuseSettings(pairs, level(req)); err != nil {
			return err
		}
	}
	for _, name := range identifierParams(sql) {
		if v, ok := req.params[name]; ok && namesFile(unquote("'"+v+"'"), 1) {
			return readonlyRefusal("parameter %s names the file function", name)
		}
	}
	return refuseSettings(toAssigns(req.settings), level(req))
}

// level is the readonly level a read-only request has in ClickHouse's
// terms: the user's, or 2 for a GET of a writing user.
func level(req *request) string {
	if req.user.Readonly == 1 {
		return "1"
	}
	return "2"
}

// refuseSettings refuses settings a read-only request may not set: values
// whose SQL (strings read as SQL too, for filter expressions) names file,
// and a readonly other than the request's level (ClickHouse refuses any
// change of readonly in readonly mode).
func refuseSettings(sets []assign, level string) error {
	for _, s := range sets {
		if namesFile(s.expr, 3) {
			return readonlyRefusal("setting %s names the file function", s.name)
		}
		if s.name == "readonly" && strings.TrimSpace(unquote(s.expr)) != level {
			return exception(codeReadonly, "Cannot modify 'readonly' setting in readonly mode")
		}
	}
	return nil
}

// toAssigns turns URL settings (plain values) into assignments of string
// literals, which the engine converts to each setting's type.
func toAssigns(s []setting) []assign {
	out := make([]assign, 0, len(s))
	for _, v := range s {
		out = append(out, assign{v.name, store.QuoteString(v.value)})
	}
	return out
}

// without drops the assignments of readonly: a locked request's readonly
// is the lock's.
func without(sets []assign, name string) []assign {
	out := sets[:0:0]
	for _, s := range sets {
		if s.name != name {
			out = append(out, s)
		}
	}
	return out
}

// merge returns base with sets applied: a name already there takes the new
// value in place, a new one is appended.
func merge(base, sets []assign) []assign {
	out := append([]assign(nil), base...)
next:
	for _, s := range sets {
		for i := range out {
			if out[i].name == s.name {
				out[i] = s
				continue next
			}
		}
		out = append(out, s)
	}
	return out
}

// limitAssigns are the user's limits as the last word on a locked
// connection: a request may ask for less (a value within the limit stays,
// so a SETTINGS clause that says it again still matches), never for more
// or for none.
func limitAssigns(sets []assign, u *User) []assign {
	var out []assign
	for _, lim := range []struct {
		name string
		max  float64
	}{
		{"max_execution_time", float64(u.MaxExecutionTime)},
		{"max_memory_usage", float64(u.MaxMemoryUsage)},
		{"max_result_rows", float64(u.MaxResultRows)},
	} {
		if lim.max <= 0 {
			continue
		}
		expr := strconv.FormatFloat(lim.max, 'f', -1, 64)
		for _, s := range sets {
			if s.name != lim.name {
				continue
			}
			if v, err := strconv.ParseFloat(strings.TrimSpace(unquote(s.expr)), 64); err == nil && v > 0 && v <= lim.max {
				expr = s.expr
			} else {
				expr = strconv.FormatFloat(lim.max, 'f', -1, 64)
			}
		}
		out = append(out, assign{lim.name, expr})
	}
	return out
}

// lockConn sets a fresh connection up for a locked request: the databases
// in order (a session's, then the request's), the request's settings,
// lockedSettings, the user's limits, readonly=1. The settings are checked
// (refuseSettings) before.
func lockConn(c *chdb.Conn, databases []string, sets []assign, u *User) error {
	ctx := context.Background()
	for _, db := range databases {
		if db == "" {
			continue
		}
		if _, err := c.Query(ctx, "USE "+store.QuoteIdent(db), "TSV"); err != nil {
			return err
		}
	}
	all := append(without(sets, "readonly"), lockedSettings...)
	all = append(all, limitAssigns(sets, u)...)
	all = append(all, assign{"readonly", "1"})
	_, err := c.Query(ctx, assignStatement(all), "TSV")
	return err
}

func assignStatement(sets []assign) string {
	var b strings.Builder
	b.WriteString("SET ")
	for i, s := range sets {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(s.name)
		b.WriteString(" = ")
		b.WriteString(s.expr)
	}
	return b.String()
}

// connState reads what a session's connection carries into a locked
// request: its current database and the settings it changed.
func connState(c *chdb.Conn) (string, []assign, error) {
	out, err := c.Query(context.Background(),
		"SELECT '', currentDatabase() UNION ALL SELECT name, value FROM system.settings WHERE changed", "JSONCompactEachRow")
	if err != nil {
		return "", nil, err
	}
	var db string
	var sets []assign
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var row [2]string
		if line == "" || json.Unmarshal([]byte(line), &row) != nil {
			continue
		}
		if row[0] == "" {
			db = row[1]
			continue
		}
		sets = append(sets, assign{row[0], store.QuoteString(row[1])})
	}
	return db, sets, nil
}

// readingKinds are the statements whose SETTINGS clause a locked request
// applies before the lock (so the clause, unchanged, passes the engine's
// readonly=1): only reading statements, so that a CREATE's table settings
// are refused as the write they belong to.
var readingKinds = map[string]bool{
	"SELECT": true, "WITH": true, "(": true, "SHOW": true, "DESCRIBE": true, "DESC": true, "EXPLAIN": true, "EXISTS": true,
}
