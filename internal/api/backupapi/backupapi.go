// Package backupapi serves backups of the running embedded store on :8080:
//
//	POST /api/v1/admin/backup   {"to": "/dir"} (admin): the manifest of the
//	                            backup taken, or an error naming the problem
//
// The store is owned by the serving process, so `obsplane backup --server`
// asks it here; the directory must lie under --backup-dir (the engine's
// allowed path). Admins are as in the flag API: a token granting every
// namespace, or any caller without authentication.
package backupapi

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/openchoreo/obsplane/internal/api/auth"
	"github.com/openchoreo/obsplane/internal/api/httpx"
	"github.com/openchoreo/obsplane/internal/backup"
	"github.com/openchoreo/obsplane/internal/store"
)

// API serves the backup endpoint.
type API struct {
	Store    store.Store
	Database string
	// Dir is the directory backups must be written under.
	Dir  string
	Auth auth.Authenticator
	Log  *slog.Logger
}

// Request is the body of POST /api/v1/admin/backup.
type Request struct {
	To string `json:"to"`
}

// Mount adds the route to mux.
func (a *API) Mount(mux *http.ServeMux) {
	if a.Auth == nil {
		a.Auth = auth.None{}
	}
	_, none := a.Auth.(auth.None)
	inner := httpx.Wrap(a.Log, false, func(w http.ResponseWriter, r *http.Request) error {
		if p := auth.FromContext(r.Context()); !none && !p.All {
			return &httpx.Error{Status: http.StatusForbidden, Title: httpx.TitleForbidden, Code: "OBS-BACKUP-FORBIDDEN",
				Message: fmt.Sprintf("caller %q is not an admin; only admins may take backups", p.Subject)}
		}
		return a.backup(w, r)
	})
	mux.Handle("POST /api/v1/admin/backup", auth.Middleware(a.Auth, inner, func(w http.ResponseWriter, msg string) {
		httpx.WriteError(w, &httpx.Error{Status: http.StatusUnauthorized, Title: httpx.TitleUnauthorized, Code: "OBS-BACKUP-UNAUTHENTICATED",
			Message: "no authenticated caller: send a bearer token (" + msg + ")"}, false)
	}))
}

func (a *API) backup(w http.ResponseWriter, r *http.Request) error {
	var req Request
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return bad("request body: %v (want {\"to\": \"/dir\"})", err)
	}
	to := filepath.Clean(req.To)
	base := filepath.Clean(a.Dir)
	if !filepath.IsAbs(to) || (to != base && !strings.HasPrefix(to, base+string(filepath.Separator))) {
		return bad("%q: a backup of the running store goes to an absolute directory under %s (--backup-dir)", req.To, base)
	}
	m, err := backup.Backup(r.Context(), a.Store, a.Database, to)
	if err != nil {
		return err
	}
	a.Log.Info("backup taken", "to", to, "tables", len(m.Tables), "took", m.Took)
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(m)
}

func bad(format string, args ...any) *httpx.Error {
	return &httpx.Error{Status: http.StatusBadRequest, Title: httpx.TitleBadRequest, Code: "OBS-BACKUP-BAD-REQUEST", Message: fmt.Sprintf(format, args...)}
}
