// Package query translates obsplane's query languages into ClickHouse SQL.
//
// It is a pure translation layer with no I/O: the HTTP handlers call it and
// hand the result to a store.Store. Three front ends share one back end:
//
//   - a small SELECT builder (Select, Expr) for handlers that assemble
//     queries from typed filters;
//   - PPL, OpenSearch's Piped Processing Language (CompilePPL);
//   - a Lucene-style full-text search syntax for the q= parameter
//     (ParseSearch).
//
// Two rules hold for everything this package emits:
//
//  1. User values never reach SQL text. Every string, number or time a user
//     typed becomes a bound {pN:Type} parameter in the returned store.Params.
//     Identifiers (columns, functions, aliases) come only from fixed maps in
//     this package or are generated (c0, c1, ...). The only numbers rendered
//     inline are ones parsed into Go integers and printed back by strconv
//     (LIMIT, INTERVAL amounts), which cannot carry text.
//
//  2. Every query that reads a table is scoped to a tenant. Select.Build
//     refuses to render a table read without a Scope, and ANDs the scope
//     predicate at the top level of that read's WHERE clause, with each user
//     predicate in its own parentheses, so no OR, comment or quote in user
//     input can widen it.
//
// Parameter values are plain text (store.Params' contract): the store
// escapes them for the engine, so a value reaches ClickHouse byte for byte.
package query
