package bench

import (
	"context"
	"sync"

	"github.com/openchoreo/obsplane/internal/store"
)

// Recorder is a store.Store that remembers the statements passed through
// it, so the benchmark can say how many statements one API request runs
// and what the engine does for each (EXPLAIN indexes = 1). It changes
// nothing else.
type Recorder struct {
	store.Store
	mu    sync.Mutex
	stmts []Statement
}

// Statement is one statement an API request ran.
type Statement struct {
	SQL    string
	Params store.Params
}

func (r *Recorder) add(sql string, p store.Params) {
	r.mu.Lock()
	r.stmts = append(r.stmts, Statement{sql, p})
	r.mu.Unlock()
}

// Query implements store.Store.
func (r *Recorder) Query(ctx context.Context, sql string, p store.Params, s ...store.Setting) (store.Rows, error) {
	r.add(sql, p)
	return r.Store.Query(ctx, sql, p, s...)
}

// Exec implements store.Store.
func (r *Recorder) Exec(ctx context.Context, sql string, p store.Params, s ...store.Setting) error {
	r.add(sql, p)
	return r.Store.Exec(ctx, sql, p, s...)
}

// Take returns the statements recorded since the last Take.
func (r *Recorder) Take() []Statement {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.stmts
	r.stmts = nil
	return out
}
