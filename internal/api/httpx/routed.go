package httpx

import (
	"context"
	"net/http"

	"github.com/openchoreo/obsplane/internal/api/auth"
	"github.com/openchoreo/obsplane/internal/router"
)

// Routed answers one read through the router rt (nil: ClickHouse alone): call asks a backend,
// clickhouse or opensearch, and digest is its answer's comparable form for
// dual read. A nil opensearch (no OpenSearch configured) leaves ClickHouse
// alone. The caller's subject keys the percentage rollout. Every adapter
// endpoint that both stores can answer goes through here, so the backend
// switch, dual read and rollback cover them alike.
func Routed[B any, T any](w http.ResponseWriter, r *http.Request, rt *router.Router, op string, clickhouse, opensearch B,
	call func(context.Context, B) (T, error), digest func(T) router.Result) error {
	route := func(b B) router.Func {
		if any(b) == nil {
			return nil
		}
		return func(ctx context.Context) (any, router.Result, error) {
			v, err := call(ctx, b)
			if err != nil {
				return nil, router.Result{}, err
			}
			return v, digest(v), nil
		}
	}
	resp, err := rt.Do(r.Context(), auth.FromContext(r.Context()).Subject, op, route(clickhouse), route(opensearch))
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, resp)
	return nil
}
