package httpx

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/openchoreo/obsplane/internal/api/auth"
)

// Defaults fills what a handler's owner left unset: the default time range,
// the process logger, and no authentication.
func Defaults(maxRange *time.Duration, log **slog.Logger, a *auth.Authenticator) {
	if *maxRange == 0 {
		*maxRange = MaxRange
	}
	if *log == nil {
		*log = slog.Default()
	}
	if *a == nil {
		*a = auth.None{}
	}
}

// Pinger reports whether the store answers now; store.Store is one.
type Pinger interface {
	Ping(ctx context.Context) error
}

// StoreHealth answers the adapters' health contract from a store ping:
// 200 {"status":"healthy"}, or 503 {"status":"unhealthy","error":...}.
func StoreHealth(st Pinger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := st.Ping(ctx); err != nil {
			WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unhealthy", "error": "clickhouse: " + err.Error()})
			return
		}
		WriteJSON(w, http.StatusOK, map[string]string{"status": "healthy"})
	}
}
