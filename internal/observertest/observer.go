// Package observertest runs OpenChoreo's Observer, the unmodified upstream
// service built from openchoreo/openchoreo at a pinned commit
// (scripts/install-observer.sh), for tests that call its public API as
// Backstage and occ do while it calls obsplane's adapters.
//
// What the Observer needs besides the adapters cannot run here, so it gets
// the smallest stand-ins that answer as the real services do: Identity for
// the identity provider (a JWKS and real RS256 tokens, the OAuth2 client
// credentials grant) and API for openchoreo-api (the resource lookups of the
// Observer's UID resolver, and authorization decisions), which reads
// Kubernetes custom resources in a real control plane.
package observertest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openchoreo/obsplane/internal/opensearch/opensearchtest"
	"github.com/openchoreo/obsplane/internal/servetest"
)

var (
	installOnce      sync.Once
	binPath, srcPath string
	installErr       error
	unavailable      bool
)

// Binary returns the Observer binary and its source tree, building it once
// into the cache when missing. When no repository with the pinned commit is
// on the machine (the script's exit status 3) the test is skipped, saying
// so, unless OBSPLANE_REQUIRE_OBSERVER=1 makes that a failure.
func Binary(t testing.TB) (bin, src string) {
	t.Helper()
	installOnce.Do(func() {
		if p := os.Getenv("OBSERVER_BIN"); p != "" {
			binPath = p
			srcPath = os.Getenv("OBSERVER_SRC")
			return
		}
		root, err := opensearchtest.RepoRoot()
		if err != nil {
			installErr = err
			return
		}
		script := filepath.Join(root, "scripts", "install-observer.sh")
		run := func(args ...string) (string, error) {
			var stderr bytes.Buffer
			cmd := exec.Command("bash", append([]string{script}, args...)...)
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			var ee *exec.ExitError
			if errors.As(err, &ee) && ee.ExitCode() == 3 {
				unavailable = true
			}
			if err != nil {
				return "", fmt.Errorf("%s: %v\n%s", script, err, stderr.String())
			}
			return strings.TrimSpace(string(out)), nil
		}
		if binPath, installErr = run(); installErr == nil {
			srcPath, installErr = run("src")
		}
	})
	if unavailable && os.Getenv("OBSPLANE_REQUIRE_OBSERVER") != "1" {
		t.Skipf("OpenChoreo's Observer cannot be built here: %v", installErr)
	}
	if installErr != nil {
		t.Fatal(installErr)
	}
	return binPath, srcPath
}

// Options configure Start.
type Options struct {
	// The adapters' base URLs.
	LogsAdapter, TracingAdapter, MetricsAdapter string
	Identity                                    *Identity
	API                                         *API
	// Kube, when set, is the Kubernetes API the Observer reads alert rule
	// resources from; without it the Observer finds no cluster and refuses
	// the alert webhook, as it does without one.
	Kube *Kube
	// Client and Secret are the OAuth2 client the UID resolver uses.
	Client, Secret string
	// Addr and InternalAddr are the loopback host:port of the public and
	// internal API, free ones when empty (a test that must tell obsplane
	// the webhook's address first picks them).
	Addr, InternalAddr string
	// Env is added last (it wins).
	Env []string
}

// Observer is a running Observer. URL is its public API (Backstage, occ),
// InternalURL the internal one (alert rule sync from the control plane,
// the adapters' alert webhook).
type Observer struct {
	URL, InternalURL string
	*servetest.Process
}

// Start runs the Observer configured through the environment variables its
// configuration reads (internal/observer/config upstream), and waits until GET /health answers. Nothing it
// needs is switched off: JWT authentication against the Identity's JWKS
// with the subject types of its own auth-config.yaml, authorization and UID
// resolution against the API, alert entries in a SQLite file, and the
// alert rule resources of Options.Kube.
func Start(t testing.TB, o Options) *Observer {
	t.Helper()
	bin, src := Binary(t)
	dir := t.TempDir()
	port, internal := o.Addr, o.InternalAddr
	if port == "" {
		port = servetest.FreePort(t)
	}
	if internal == "" {
		internal = servetest.FreePort(t)
	}
	portNum := func(addr string) string { return addr[strings.LastIndexByte(addr, ':')+1:] }
	kubeconfig := filepath.Join(dir, "no-kubeconfig")
	if o.Kube != nil {
		kubeconfig = o.Kube.Kubeconfig
	}
	ob := &Observer{URL: "http://" + port, InternalURL: "http://" + internal}
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		// No Kubernetes configuration anywhere else it looks.
		"HOME=" + dir, "KUBECONFIG=" + kubeconfig,
		"SERVER_PORT=" + portNum(port), "SERVER_INTERNAL_PORT=" + portNum(internal),
		"LOG_LEVEL=debug",
		"LOGS_ADAPTER_URL=" + o.LogsAdapter, "TRACING_ADAPTER_URL=" + o.TracingAdapter, "METRICS_ADAPTER_URL=" + o.MetricsAdapter,
		"LOGS_ADAPTER_TIMEOUT=20s", "TRACING_ADAPTER_TIMEOUT=20s", "METRICS_ADAPTER_TIMEOUT=20s",
		// No FinOps adapter here; the Observer requires a URL, never called
		// by these tests.
		"FINOPS_ADAPTER_URL=http://127.0.0.1:9",
		"JWKS_URL=" + o.Identity.JWKSURL, "JWT_ISSUER=" + o.Identity.Issuer, "JWT_AUDIENCE=" + o.Identity.Audience,
		"OBSERVER_AUTH_CONFIG_PATH=" + filepath.Join(src, "cmd", "observer", "auth-config.yaml"),
		"AUTHZ_SERVICE_URL=" + o.API.URL, "AUTHZ_TIMEOUT=10s",
		"UID_RESOLVER_OPENCHOREO_API_URL=" + o.API.URL, "UID_RESOLVER_OAUTH_TOKEN_URL=" + o.Identity.TokenURL,
		"UID_RESOLVER_OAUTH_CLIENT_ID=" + o.Client, "UID_RESOLVER_OAUTH_CLIENT_SECRET=" + o.Secret,
		"UID_RESOLVER_TIMEOUT=10s",
		"ALERT_STORE_BACKEND=sqlite", "ALERT_STORE_DSN=file:" + filepath.Join(dir, "alerts.db") + "?_journal=WAL",
		"OBSERVER_BASE_URL=" + ob.URL,
	}
	cmd := exec.Command(bin)
	cmd.Dir = dir
	cmd.Env = append(env, o.Env...)
	ob.Process = servetest.StartProcess(t, "observer", cmd, 60*time.Second, func() bool {
		resp, err := http.Get(ob.URL + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	t.Cleanup(func() {
		if err := ob.Stop(20 * time.Second); err != nil {
			t.Errorf("observer: %v", err)
		}
	})
	return ob
}

// Call sends method path with a JSON body (nil for none) and bearer token
// (empty for none) to base, and returns the status and the raw answer.
func Call(t testing.TB, method, url, token string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}
