package query

import (
	"errors"
	"slices"
	"strconv"
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
	ns := slices.Clone(sc.Namespaces)
	slices.Sort(ns)
	ns = slices.Compact(ns)
	return scopeIn{t.Fields.tenant, ns}, nil
}

// scopeIn renders "tenant IN ({ns0:String}, {ns1:String}, ...)". The
// namespaces are separate String parameters rather than one Array(String):
// the engine reads an array parameter as a quoted literal, which the store's
// plain-text parameter contract cannot carry for names with quotes or
// backslashes. User values are always pN, so nsN cannot collide with them.
type scopeIn struct {
	tenant Expr
	ns     []string
}

func (s scopeIn) render(w *writer) {
	s.tenant.render(w)
	w.str(" IN (")
	for i, n := range s.ns {
		name := "ns" + strconv.Itoa(i)
		if old, ok := w.params[name]; ok && old != n {
			// Two table reads in one statement with different scopes
			// would share parameters; refuse rather than widen either.
			panic("query: two different scopes in one statement")
		}
		w.params[name] = n
		if i > 0 {
			w.str(", ")
		}
		w.str("{" + name + ":String}")
	}
	w.str(")")
}
