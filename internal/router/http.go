package router

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/openchoreo/obsplane/internal/router/flags"
)

// Caller is who makes an API request. The authentication middleware of the
// query API (internal/api) stores it in the request context with
// WithCaller; with --auth=none every request runs as LocalAdmin.
type Caller interface {
	// ID identifies the caller in audit rows (a JWT subject).
	ID() string
	// IsAdmin reports whether the caller may change flags and read the
	// router's samples.
	IsAdmin() bool
}

type callerKey struct{}

// WithCaller returns ctx carrying c.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller stored in ctx, if any.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok && c != nil
}

// LocalAdmin is the caller of every request when authentication is off
// (--auth=none): a local operator who may do everything.
type LocalAdmin struct{}

// ID implements Caller.
func (LocalAdmin) ID() string { return "local-admin" }

// IsAdmin implements Caller.
func (LocalAdmin) IsAdmin() bool { return true }

// StaticCaller is a Caller with fixed fields, for middleware that has
// already decided who the caller is.
type StaticCaller struct {
	Subject string
	Admin   bool
}

// ID implements Caller.
func (c StaticCaller) ID() string { return c.Subject }

// IsAdmin implements Caller.
func (c StaticCaller) IsAdmin() bool { return c.Admin }

// apiError is the error body of every obsplane API: {"title","errorCode","message"}.
type apiError struct {
	status  int
	Title   string `json:"title"`
	Code    string `json:"errorCode"`
	Message string `json:"message"`
}

func (e *apiError) Error() string { return e.Message }

func newErr(status int, title, code, format string, args ...any) *apiError {
	return &apiError{status: status, Title: title, Code: code, Message: fmt.Sprintf(format, args...)}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeErr(w http.ResponseWriter, e *apiError) { writeJSON(w, e.status, e) }

// maxPatchBody bounds a PATCH body; a flag change is a few dozen bytes.
const maxPatchBody = 64 << 10

// maxReason bounds the reason an audit row keeps.
const maxReason = 1000

// Handler returns the router's HTTP API:
//
//	GET   /api/v1/flags                  every flag
//	GET   /api/v1/flags/{name}           one flag
//	PATCH /api/v1/flags/{name}           change it (admin): {"rolloutPercentage":20}, {"enabled":false}, optional "reason"
//	GET   /api/v1/flags/{name}/audit     its audit trail, newest first (admin; ?limit=, default 100)
//	GET   /api/v1/router/mismatches      dual-read mismatch samples, newest first (admin; ?op=, ?limit=)
//	GET   /api/v1/router/status          backend, flag, rollback figures and recent rollbacks
//
// Every request must carry a Caller (see WithCaller); without one it is
// answered 401, so a handler mounted without authentication fails closed.
func (r *Router) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/flags", r.authed(false, r.listFlags))
	mux.HandleFunc("GET /api/v1/flags/{name}", r.authed(false, r.getFlag))
	mux.HandleFunc("PATCH /api/v1/flags/{name}", r.authed(true, r.patchFlag))
	mux.HandleFunc("GET /api/v1/flags/{name}/audit", r.authed(true, r.flagAudit))
	mux.HandleFunc("GET /api/v1/router/mismatches", r.authed(true, r.mismatches))
	mux.HandleFunc("GET /api/v1/router/status", r.authed(false, r.status))
	return mux
}

// Patterns are the mux patterns Handler serves, for mounting it on a shared
// mux.
var Patterns = []string{
	"GET /api/v1/flags", "GET /api/v1/flags/{name}", "PATCH /api/v1/flags/{name}",
	"GET /api/v1/flags/{name}/audit", "GET /api/v1/router/mismatches", "GET /api/v1/router/status",
}

type handler func(w http.ResponseWriter, req *http.Request, c Caller) *apiError

func (r *Router) authed(admin bool, h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		c, ok := CallerFrom(req.Context())
		if !ok {
			writeErr(w, newErr(http.StatusUnauthorized, "unauthorized", "OBS-ROUTER-UNAUTHENTICATED", "no authenticated caller: send a bearer token"))
			return
		}
		if admin && !c.IsAdmin() {
			writeErr(w, newErr(http.StatusForbidden, "forbidden", "OBS-ROUTER-FORBIDDEN", "caller %q is not an admin; only admins may change flags or read router samples", c.ID()))
			return
		}
		if e := h(w, req, c); e != nil {
			writeErr(w, e)
		}
	}
}

func (r *Router) lookup(req *http.Request) (flags.Flag, *apiError) {
	name := req.PathValue("name")
	f, ok := r.flags.Get(name)
	if !ok {
		return f, newErr(http.StatusNotFound, "notFound", "OBS-ROUTER-FLAG-NOT-FOUND", "flag %q does not exist (known: %s)", name, r.flagNames())
	}
	return f, nil
}

func (r *Router) flagNames() string {
	var n []string
	for _, f := range r.flags.List() {
		n = append(n, f.Name)
	}
	return strings.Join(n, ", ")
}

func (r *Router) listFlags(w http.ResponseWriter, _ *http.Request, _ Caller) *apiError {
	writeJSON(w, http.StatusOK, map[string]any{"flags": r.flags.List()})
	return nil
}

func (r *Router) getFlag(w http.ResponseWriter, req *http.Request, _ Caller) *apiError {
	f, e := r.lookup(req)
	if e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, f)
	return nil
}

// patchBody is the PATCH request. Pointers tell "absent" from zero.
type patchBody struct {
	Enabled           *bool   `json:"enabled"`
	RolloutPercentage *int    `json:"rolloutPercentage"`
	Reason            *string `json:"reason"`
}

func (r *Router) patchFlag(w http.ResponseWriter, req *http.Request, c Caller) *apiError {
	if _, e := r.lookup(req); e != nil {
		return e
	}
	body, e := decodePatch(req)
	if e != nil {
		return e
	}
	reason := ""
	if body.Reason != nil {
		reason = *body.Reason
	}
	name := req.PathValue("name")
	old, cur, err := r.flags.Update(req.Context(), name, flags.Change{Enabled: body.Enabled, RolloutPercentage: body.RolloutPercentage}, c.ID(), reason)
	switch {
	case errors.Is(err, flags.ErrInvalid):
		return newErr(http.StatusBadRequest, "badRequest", "OBS-ROUTER-INVALID-FLAG-CHANGE", "%s", strings.TrimPrefix(err.Error(), flags.ErrInvalid.Error()+": "))
	case errors.Is(err, flags.ErrUnknownFlag):
		return newErr(http.StatusNotFound, "notFound", "OBS-ROUTER-FLAG-NOT-FOUND", "flag %q does not exist", name)
	case err != nil:
		r.log.Error("router: flag change not stored", "flag", name, "caller", c.ID(), "err", err)
		return newErr(http.StatusServiceUnavailable, "serviceUnavailable", "OBS-ROUTER-STORE-UNAVAILABLE", "the flag store did not accept the change; the flag is unchanged, retry later")
	}
	r.log.Info("router: flag changed", "flag", name, "by", c.ID(), "old", old, "new", cur, "reason", reason)
	r.updateGauges()
	writeJSON(w, http.StatusOK, cur)
	return nil
}

// decodePatch reads the PATCH body strictly: JSON only, one object, no
// unknown fields, integer percentage, bounded size.
func decodePatch(req *http.Request) (patchBody, *apiError) {
	var b patchBody
	if ct := req.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return b, newErr(http.StatusUnsupportedMediaType, "badRequest", "OBS-ROUTER-BAD-CONTENT-TYPE", "Content-Type %q: send application/json", ct)
		}
	}
	raw, err := io.ReadAll(io.LimitReader(req.Body, maxPatchBody+1))
	if err != nil {
		return b, newErr(http.StatusBadRequest, "badRequest", "OBS-ROUTER-BAD-BODY", "reading the body: %v", err)
	}
	if len(raw) > maxPatchBody {
		return b, newErr(http.StatusRequestEntityTooLarge, "badRequest", "OBS-ROUTER-BODY-TOO-LARGE", "body larger than %d bytes", maxPatchBody)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return b, newErr(http.StatusBadRequest, "badRequest", "OBS-ROUTER-BAD-JSON", `body is empty; send e.g. {"rolloutPercentage":20}`)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return b, newErr(http.StatusBadRequest, "badRequest", jsonErrCode(err), "%s", describeJSON(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return b, newErr(http.StatusBadRequest, "badRequest", "OBS-ROUTER-BAD-JSON", "unexpected data after the JSON object")
	}
	if b.Reason != nil && len(*b.Reason) > maxReason {
		return b, newErr(http.StatusBadRequest, "badRequest", "OBS-ROUTER-INVALID-FLAG-CHANGE", "reason is longer than %d bytes", maxReason)
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

func (r *Router) flagAudit(w http.ResponseWriter, req *http.Request, _ Caller) *apiError {
	if _, e := r.lookup(req); e != nil {
		return e
	}
	limit, e := limitParam(req, 100, 1000)
	if e != nil {
		return e
	}
	entries, err := r.flags.Audit(req.Context(), req.PathValue("name"), limit)
	if err != nil {
		r.log.Error("router: read flag audit", "err", err)
		return newErr(http.StatusServiceUnavailable, "serviceUnavailable", "OBS-ROUTER-STORE-UNAVAILABLE", "the flag store could not be read; retry later")
	}
	if entries == nil {
		entries = []flags.AuditEntry{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"audit": entries})
	return nil
}

func limitParam(req *http.Request, def, maxN int) (int, *apiError) {
	v := req.URL.Query().Get("limit")
	if v == "" {
		if req.URL.Query().Has("limit") {
			return 0, newErr(http.StatusBadRequest, "badRequest", "OBS-ROUTER-BAD-LIMIT", "limit= is empty: want an integer in 1..%d, or leave limit out for %d", maxN, def)
		}
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxN {
		return 0, newErr(http.StatusBadRequest, "badRequest", "OBS-ROUTER-BAD-LIMIT", "limit=%q: want an integer in 1..%d", v, maxN)
	}
	return n, nil
}

func (r *Router) mismatches(w http.ResponseWriter, req *http.Request, _ Caller) *apiError {
	limit, e := limitParam(req, r.cfg.MismatchSamples, r.cfg.MismatchSamples)
	if e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, map[string]any{"mismatches": r.Mismatches(req.URL.Query().Get("op"), limit)})
	return nil
}

func (r *Router) status(w http.ResponseWriter, _ *http.Request, _ Caller) *apiError {
	writeJSON(w, http.StatusOK, r.Status())
	return nil
}
