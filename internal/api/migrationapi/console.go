package migrationapi

import (
	"bytes"
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/openchoreo/obsplane/internal/api/httpx"
)

// The page, its script and style are committed; console/vendor holds the
// charting library (uPlot), which scripts/install-uplot.sh downloads at a
// pinned version, checks against its sha256 and copies there before the
// build (make build). It is never committed, so a build without it still
// compiles: the page then says the charts are missing and shows the rest.
//
//go:embed console
var consoleFS embed.FS

// VendorFiles are the charting library's files the page loads.
var VendorFiles = []string{"vendor/uPlot.iife.min.js", "vendor/uPlot.min.css"}

// ChartsEmbedded reports whether this binary carries the charting library.
func ChartsEmbedded() bool {
	for _, f := range VendorFiles {
		if _, err := fs.Stat(consoleFS, "console/"+f); err != nil {
			return false
		}
	}
	return true
}

// securityHeaders keep the console's page from being framed or sniffed and
// let it load nothing but its own files and talk to nothing but its own
// origin.
func securityHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
}

// page serves the console's HTML. It holds no migration data: the data
// comes from /api/v1/migration, which is admin-only.
func (a *API) page(w http.ResponseWriter, r *http.Request) {
	a.serveFile(w, r, "index.html")
}

func (a *API) asset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	if name == "" {
		a.serveFile(w, r, "index.html")
		return
	}
	a.serveFile(w, r, name)
}

func (a *API) serveFile(w http.ResponseWriter, r *http.Request, name string) {
	clean := path.Clean("/" + name)[1:]
	if clean != name || strings.HasPrefix(clean, ".") {
		httpx.WriteError(w, httpx.NotFound("no console file %q", httpx.Truncate(name, 64)), false)
		return
	}
	b, err := fs.ReadFile(consoleFS, "console/"+clean)
	if err != nil {
		msg := "no console file %q"
		if strings.HasPrefix(clean, "vendor/") && !ChartsEmbedded() {
			msg += " (the charting library is not embedded in this build: run make build)"
		}
		httpx.WriteError(w, httpx.NotFound(msg, httpx.Truncate(name, 64)), false)
		return
	}
	securityHeaders(w)
	if clean == "index.html" {
		w.Header().Set("Cache-Control", "no-store")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	// The embed FS keeps no modification times: no Last-Modified, and
	// no-cache above makes the browser revalidate anyway.
	http.ServeContent(w, r, path.Base(clean), time.Time{}, bytes.NewReader(b))
}
