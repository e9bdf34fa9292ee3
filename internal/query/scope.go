package query

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/openchoreo/obsplane/internal/store"
)

// Scope is the set of tenants a caller may read. Tenancy is by OpenChoreo
// namespace: the MATERIALIZED column OpenChoreoNamespace (schema migration
// 0002/0003), which holds the resource attribute "openchoreo.namespace" the
// gateway sets, falling back to the raw pod-label key
// "openchoreo.dev/namespace". The column has a bloom-filter index, and a
// table without it fails the query rather than going unfiltered. Not the
// Kubernetes namespace: OpenChoreo authorizes per OpenChoreo namespace,
// and one OpenChoreo namespace spans many Kubernetes namespaces (one per
// project and environment).
type Scope struct {
	// Namespaces are the OpenChoreo namespaces the caller may read.
	Namespaces []string
	// All lifts the restriction (platform administrators, auth=none).
	All bool
}

// ErrEmptyScope is returned when a Scope grants no namespace at all. The
// caller may read nothing; the API answers 403 rather than an empty result
// that would look like "no logs".
var ErrEmptyScope = errors.New("query: the caller may read no namespace")

// ScopeParam prefixes the parameters SQL binds. User values are always pN,
// so scope_nsN cannot collide with them.
const ScopeParam = "scope_ns"

// SQL is the one tenant scope of every ClickHouse read, the templates' and
// PPL's alike: a predicate keeping the rows whose tenant expression (a fixed
// column or map lookup written by code, never user text) is one of sc's
// namespaces, "1" when sc is All. Each namespace is its own String
// parameter (scope_ns0, scope_ns1, ...) bound into params rather than one
// Array(String): a String parameter reaches the engine byte for byte,
// while an array parameter is a literal the caller would have to quote and
// escape itself, one more layer that a namespace holding a quote or a
// backslash could trip. Binding a second, different scope into the same
// params is refused rather than letting one widen the other.
func (sc Scope) SQL(tenant string, params store.Params) (string, error) {
	if sc.All {
		return "1", nil
	}
	if len(sc.Namespaces) == 0 {
		return "", ErrEmptyScope
	}
	ns := slices.Clone(sc.Namespaces)
	slices.Sort(ns)
	ns = slices.Compact(ns)
	var b strings.Builder
	b.WriteString(tenant + " IN (")
	for i, n := range ns {
		name := ScopeParam + strconv.Itoa(i)
		if old, ok := params[name]; ok && old != n {
			return "", fmt.Errorf("query: two different scopes in one statement (%s)", name)
		}
		params[name] = n
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("{" + name + ":String}")
	}
	b.WriteString(")")
	return b.String(), nil
}

// predicate is the WHERE term that restricts t to the scope, or nil for All.
func (sc Scope) predicate(t *Table) (Expr, error) {
	if sc.All {
		return nil, nil
	}
	if len(sc.Namespaces) == 0 {
		return nil, ErrEmptyScope
	}
	if t.Fields == nil || t.Fields.tenant == nil {
		return nil, errors.New("query: table " + t.Name + " has no tenant column")
	}
	return scopeIn{t.Fields.tenant, sc}, nil
}

// scopeIn renders Scope.SQL on the table's tenant expression.
type scopeIn struct {
	tenant Expr
	sc     Scope
}

func (s scopeIn) render(w *writer) {
	tw := &writer{params: store.Params{}}
	s.tenant.render(tw)
	sql, err := s.sc.SQL(tw.b.String(), w.params)
	if err != nil {
		// Two table reads in one statement with different scopes would
		// share parameters; refuse rather than widen either.
		panic(err)
	}
	w.str(sql)
}
