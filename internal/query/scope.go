package query

import (
	"errors"
	"slices"
)

// Scope is the set of tenants a caller may read. Tenancy is by OpenChoreo
// namespace (the resource attribute AttrNamespace, "openchoreo.namespace",
// which the gateway sets from the pod label openchoreo.dev/namespace), not
// by Kubernetes namespace: OpenChoreo authorizes per OpenChoreo namespace,
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

// scopeParam is the parameter name of the namespace list. User values are
// always pN, so it cannot collide with them.
const scopeParam = "ns"

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

// scopeIn renders "tenant IN {ns:Array(String)}".
type scopeIn struct {
	tenant Expr
	ns     []string
}

func (s scopeIn) render(w *writer) {
	s.tenant.render(w)
	v := arrayLiteral(s.ns)
	if old, ok := w.params[scopeParam]; ok && old != v {
		// Two table reads in one statement with different scopes would
		// share one parameter; refuse rather than widen either.
		panic("query: two different scopes in one statement")
	}
	w.params[scopeParam] = v
	w.str(" IN {" + scopeParam + ":Array(String)}")
}
