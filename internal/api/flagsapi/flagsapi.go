// Package flagsapi serves the router's HTTP API on :8080: the rollout
// flags, their audit trail, dual-read mismatch samples and the router's
// status.
//
//	GET   /api/v1/flags                  every flag
//	GET   /api/v1/flags/{name}           one flag
//	PATCH /api/v1/flags/{name}           change it (admin): {"rolloutPercentage":20}, {"enabled":false}, optional "reason"
//	GET   /api/v1/flags/{name}/audit     its audit trail, newest first (admin; ?limit=, default 100)
//	GET   /api/v1/router/mismatches      dual-read mismatch samples, newest first (admin; ?op=, ?limit=)
//	GET   /api/v1/router/status          backend, flag, rollback figures and recent rollbacks
//
// Requests authenticate as the query API's do. An admin is a caller whose
// token grants every namespace ("*"): the platform team that runs the
// migration, not a tenant. Without authentication (--auth=none) every
// caller is the local admin, "local-admin" in audit rows.
package flagsapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/openchoreo/obsplane/internal/api/auth"
	"github.com/openchoreo/obsplane/internal/api/httpx"
	"github.com/openchoreo/obsplane/internal/router"
	"github.com/openchoreo/obsplane/internal/router/flags"
)

// LocalAdmin is the caller of every request without authentication.
const LocalAdmin = auth.LocalAdmin

// maxPatchBody bounds a PATCH body; a flag change is a few dozen bytes.
const maxPatchBody = 64 << 10

// maxReason bounds the reason an audit row keeps.
const maxReason = 1000

// API serves the router's endpoints.
type API struct {
	Router *router.Router
	Auth   auth.Authenticator
	Log    *slog.Logger
}

// Mount adds the routes to mux.
func (a *API) Mount(mux *http.ServeMux) {
	if a.Log == nil {
		a.Log = slog.Default()
	}
	if a.Auth == nil {
		a.Auth = auth.None{}
	}
	mux.Handle("GET /api/v1/flags", a.authed(false, a.listFlags))
	mux.Handle("GET /api/v1/flags/{name}", a.authed(false, a.getFlag))
	mux.Handle("PATCH /api/v1/flags/{name}", a.authed(true, a.patchFlag))
	mux.Handle("GET /api/v1/flags/{name}/audit", a.authed(true, a.flagAudit))
	mux.Handle("GET /api/v1/router/mismatches", a.authed(true, a.mismatches))
	mux.Handle("GET /api/v1/router/status", a.authed(false, a.status))
}

// caller is who makes a request.
type caller struct {
	id    string
	admin bool
}

type handler func(w http.ResponseWriter, r *http.Request, c caller) error

func (a *API) authed(admin bool, h handler) http.Handler {
	inner := httpx.Wrap(a.Log, false, func(w http.ResponseWriter, r *http.Request) error {
		var c caller
		c.id, c.admin = auth.Caller(a.Auth, r.Context())
		if admin && !c.admin {
			return &httpx.Error{Status: http.StatusForbidden, Title: httpx.TitleForbidden, Code: "OBS-ROUTER-FORBIDDEN",
				Message: fmt.Sprintf("caller %q is not an admin; only admins may change flags or read router samples", c.id)}
		}
		return h(w, r, c)
	})
	return auth.Middleware(a.Auth, inner, func(w http.ResponseWriter, msg string) {
		httpx.WriteError(w, &httpx.Error{Status: http.StatusUnauthorized, Title: httpx.TitleUnauthorized, Code: "OBS-ROUTER-UNAUTHENTICATED",
			Message: "no authenticated caller: send a bearer token (" + msg + ")"}, false)
	})
}

func bad(code, format string, args ...any) *httpx.Error {
	return &httpx.Error{Status: http.StatusBadRequest, Title: httpx.TitleBadRequest, Code: code, Message: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) *httpx.Error {
	return &httpx.Error{Status: http.StatusNotFound, Title: httpx.TitleNotFound, Code: "OBS-ROUTER-FLAG-NOT-FOUND", Message: fmt.Sprintf(format, args...)}
}

func unavailable(msg string) *httpx.Error {
	return &httpx.Error{Status: http.StatusServiceUnavailable, Title: "serviceUnavailable", Code: "OBS-ROUTER-STORE-UNAVAILABLE", Message: msg}
}

func (a *API) lookup(r *http.Request) (flags.Flag, error) {
	name := r.PathValue("name")
	f, ok := a.Router.Flags().Get(name)
	if !ok {
		var n []string
		for _, f := range a.Router.Flags().List() {
			n = append(n, f.Name)
		}
		return f, notFound("flag %q does not exist (known: %s)", httpx.Truncate(name, 64), strings.Join(n, ", "))
	}
	return f, nil
}

func (a *API) listFlags(w http.ResponseWriter, _ *http.Request, _ caller) error {
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"flags": a.Router.Flags().List()})
	return nil
}

func (a *API) getFlag(w http.ResponseWriter, r *http.Request, _ caller) error {
	f, err := a.lookup(r)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, f)
	return nil
}

// patchBody is the PATCH request. Pointers tell "absent" from zero.
type patchBody struct {
	Enabled           *bool   `json:"enabled"`
	RolloutPercentage *int    `json:"rolloutPercentage"`
	Reason            *string `json:"reason"`
}

func (a *API) patchFlag(w http.ResponseWriter, r *http.Request, c caller) error {
	if _, err := a.lookup(r); err != nil {
		return err
	}
	body, err := decodePatch(r)
	if err != nil {
		return err
	}
	reason := ""
	if body.Reason != nil {
		reason = *body.Reason
	}
	name := r.PathValue("name")
	_, cur, err := a.Router.SetFlag(r.Context(), name, flags.Change{Enabled: body.Enabled, RolloutPercentage: body.RolloutPercentage}, c.id, reason)
	switch {
	case errors.Is(err, flags.ErrInvalid):
		return bad("OBS-ROUTER-INVALID-FLAG-CHANGE", "%s", strings.TrimPrefix(err.Error(), flags.ErrInvalid.Error()+": "))
	case errors.Is(err, flags.ErrUnknownFlag):
		return notFound("flag %q does not exist", name)
	case err != nil:
		a.Log.Error("router: flag change not stored", "flag", name, "caller", c.id, "err", err)
		return unavailable("the flag store did not accept the change; the flag is unchanged, retry later")
	}
	httpx.WriteJSON(w, http.StatusOK, cur)
	return nil
}

// decodePatch reads the PATCH body strictly: JSON only, one object, no
// unknown fields, integer percentage, bounded size.
func decodePatch(r *http.Request) (patchBody, error) {
	var b patchBody
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return b, &httpx.Error{Status: http.StatusUnsupportedMediaType, Title: httpx.TitleBadRequest, Code: "OBS-ROUTER-BAD-CONTENT-TYPE",
				Message: fmt.Sprintf("Content-Type %q: send application/json", httpx.Truncate(ct, 64))}
		}
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxPatchBody+1))
	if err != nil {
		return b, bad("OBS-ROUTER-BAD-BODY", "reading the body: %v", err)
	}
	if len(raw) > maxPatchBody {
		return b, &httpx.Error{Status: http.StatusRequestEntityTooLarge, Title: httpx.TitleBadRequest, Code: "OBS-ROUTER-BODY-TOO-LARGE",
			Message: fmt.Sprintf("body larger than %d bytes", maxPatchBody)}
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return b, bad("OBS-ROUTER-BAD-JSON", `body is empty; send e.g. {"rolloutPercentage":20}`)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return b, bad(jsonErrCode(err), "%s", describeJSON(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return b, bad("OBS-ROUTER-BAD-JSON", "unexpected data after the JSON object")
	}
	if b.Reason != nil && len(*b.Reason) > maxReason {
		return b, bad("OBS-ROUTER-INVALID-FLAG-CHANGE", "reason is longer than %d bytes", maxReason)
	}
	return b, nil
}

func jsonErrCode(err error) string {
	if strings.HasPrefix(err.Error(), "json: unknown field") {
		return "OBS-ROUTER-UNKNOWN-FIELD"
	}
	return "OBS-ROUTER-BAD-JSON"
}

func describeJSON(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("malformed JSON at byte %d: %v", se.Offset, se)
	case errors.As(err, &te):
		want := te.Type.String()
		switch want {
		case "int":
			want = "an integer"
		case "bool":
			want = "true or false"
		}
		return fmt.Sprintf("field %q: got JSON %s, want %s", te.Field, te.Value, want)
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return strings.TrimPrefix(err.Error(), "json: ") + ` (known fields: "enabled", "rolloutPercentage", "reason")`
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "malformed JSON: the body ends in the middle of a value"
	default:
		return "malformed JSON: " + strings.TrimPrefix(err.Error(), "json: ")
	}
}

func (a *API) flagAudit(w http.ResponseWriter, r *http.Request, _ caller) error {
	if _, err := a.lookup(r); err != nil {
		return err
	}
	limit, err := limitParam(r, 100, 1000)
	if err != nil {
		return err
	}
	entries, err := a.Router.Flags().Audit(r.Context(), r.PathValue("name"), limit)
	if err != nil {
		a.Log.Error("router: read flag audit", "err", err)
		return unavailable("the flag store could not be read; retry later")
	}
	if entries == nil {
		entries = []flags.AuditEntry{}
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"audit": entries})
	return nil
}

func limitParam(r *http.Request, def, maxN int) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		if r.URL.Query().Has("limit") {
			return 0, bad("OBS-ROUTER-BAD-LIMIT", "limit= is empty: want an integer in 1..%d, or leave limit out for %d", maxN, def)
		}
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxN {
		return 0, bad("OBS-ROUTER-BAD-LIMIT", "limit=%q: want an integer in 1..%d", httpx.Truncate(v, 32), maxN)
	}
	return n, nil
}

func (a *API) mismatches(w http.ResponseWriter, r *http.Request, _ caller) error {
	n := a.Router.Config().MismatchSamples
	limit, err := limitParam(r, n, n)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"mismatches": a.Router.Mismatches(r.URL.Query().Get("op"), limit)})
	return nil
}

func (a *API) status(w http.ResponseWriter, _ *http.Request, _ caller) error {
	httpx.WriteJSON(w, http.StatusOK, a.Router.Status())
	return nil
}
