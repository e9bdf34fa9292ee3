package store

import (
	"fmt"
	"io/fs"
	"reflect"
	"strconv"
	"strings"
	"text/template"
	"time"
)

// TimeParam renders t for a {name:DateTime64(9, 'UTC')} parameter.
func TimeParam(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000000000") }

// ParseTime parses a DateTime64 as toString() renders it in UTC
// ("2026-01-02 03:04:05.123456789"); the zero time when s is not one.
func ParseTime(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04:05.999999999", s, time.UTC)
	if err != nil {
		return time.Time{}
	}
	return t
}

// Templates are the SQL statements of one package: embedded .sql files of
// text/template text, each defining named statements ({{define "name"}}).
// A statement is rendered with a Stmt, which carries the database name and
// binds every user value as a parameter (Stmt.Bind), so the text a template
// produces holds only identifiers and placeholders.
type Templates struct{ t *template.Template }

// MustTemplates parses the files of fsys matching pattern with funcs; a
// template that does not parse is a programming error and panics.
func MustTemplates(fsys fs.FS, pattern string, funcs template.FuncMap) *Templates {
	return &Templates{t: template.Must(template.New("").Option("missingkey=error").Funcs(funcs).ParseFS(fsys, pattern))}
}

// Stmt is the data a statement renders with: the database, the request (Q)
// and whatever else the caller sets in With, plus the parameters bound so far.
type Stmt struct {
	DB     string
	Q      any
	With   map[string]any
	Params Params
}

// NewStmt starts a statement on database db for request q.
func NewStmt(db string, q any) *Stmt {
	return &Stmt{DB: db, Q: q, With: map[string]any{}, Params: Params{}}
}

// Render executes the named statement with data (a *Stmt, or a type that
// embeds one to add methods) and returns its SQL.
func (t *Templates) Render(name string, data any) (string, error) {
	var b strings.Builder
	if err := t.t.ExecuteTemplate(&b, name, data); err != nil {
		return "", fmt.Errorf("sql %s: %w", name, err)
	}
	return strings.TrimSpace(b.String()), nil
}

// Bind binds v as parameter name of type typ and returns its placeholder
// {name:typ}. A name bound twice must carry the same value, so a fragment
// rendered in two places of one statement shares its parameters. Values are
// strings, integers, floats, booleans (0/1) and times (DateTime64 text).
func (s *Stmt) Bind(name, typ string, v any) (string, error) {
	var text string
	switch x := v.(type) {
	case string:
		text = x
	case time.Time:
		text = TimeParam(x)
	case bool:
		text = "0"
		if x {
			text = "1"
		}
	default:
		rv := reflect.ValueOf(v)
		switch rv.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			text = strconv.FormatInt(rv.Int(), 10)
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			text = strconv.FormatUint(rv.Uint(), 10)
		case reflect.Float32, reflect.Float64:
			text = strconv.FormatFloat(rv.Float(), 'g', -1, 64)
		default:
			return "", fmt.Errorf("bind %s: unsupported value type %T", name, v)
		}
	}
	if old, ok := s.Params[name]; ok && old != text {
		return "", fmt.Errorf("bind %s: bound twice with different values", name)
	}
	s.Params[name] = text
	return "{" + name + ":" + typ + "}", nil
}

// BindList binds each of vals as name0, name1, ... of type typ and returns
// the placeholders joined by ", ", for IN (...) and array literals.
func (s *Stmt) BindList(name, typ string, vals []string) (string, error) {
	out := make([]string, len(vals))
	for i, v := range vals {
		p, err := s.Bind(name+strconv.Itoa(i), typ, v)
		if err != nil {
			return "", err
		}
		out[i] = p
	}
	return strings.Join(out, ", "), nil
}
