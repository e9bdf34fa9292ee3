package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/golang-jwt/jwt/v5"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/openchoreo/obsplane/bench"
	"github.com/openchoreo/obsplane/internal/migrate"
	"github.com/openchoreo/obsplane/internal/migrate/state"
	"github.com/openchoreo/obsplane/internal/opensearch"
	"github.com/openchoreo/obsplane/internal/router"
	"github.com/openchoreo/obsplane/internal/router/flags"
	"github.com/openchoreo/obsplane/internal/store/remote"
)

// chromium is Debian's headless Chromium (make chromium installs it), or
// OBSPLANE_CHROMIUM. Its absence fails the test: the console is only
// proven by a browser rendering it.
func chromium(t *testing.T) string {
	t.Helper()
	p := os.Getenv("OBSPLANE_CHROMIUM")
	if p == "" {
		p = "/usr/bin/chromium"
	}
	if _, err := exec.LookPath(p); err != nil {
		t.Fatalf("no Chromium at %s (%v): run `make chromium` (Debian's chromium package) or set OBSPLANE_CHROMIUM", p, err)
	}
	return p
}

// browser starts a headless Chromium for the test and returns a tab.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium(t)), chromedp.NoSandbox,
		chromedp.WindowSize(1400, 1500), chromedp.Flag("disable-gpu", true))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelC(); cancelA() })
	// The first run starts the browser, which lives as long as ctx: no
	// timeout on it (each wait below is bounded instead).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// waitFor evaluates the JavaScript condition in the page until it is true,
// failing the test with what the page shows when it stays false.
func waitFor(t *testing.T, ctx context.Context, what, cond string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still false after %s (%s): %v\npage text:\n%s", what, within, cond, err, pageText(ctx))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func pageText(ctx context.Context) string {
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	return s
}

func evalJS[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// consoleDay is the day of the OpenSearch index the console test backfills:
// its own, far from the days other tests load and delete.
func consoleDay() time.Time { return time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -200) }

// seedIndex loads n generated log documents into the container-logs index
// of day, replacing it, and returns its name.
func seedIndex(t *testing.T, c *opensearch.Client, osURL string, day time.Time, n int) string {
	t.Helper()
	ctx := context.Background()
	if err := c.EnsureTemplates(ctx); err != nil {
		t.Fatal(err)
	}
	index := opensearch.ContainerLogsIndex(day)
	req, _ := http.NewRequest("DELETE", strings.TrimRight(osURL, "/")+"/"+index+"?ignore_unavailable=true", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	docs, err := bench.LogDocuments(bench.LogRows(n, rand.Uint64(), day.Add(time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	run := rand.Uint32()
	for i := range docs {
		// An id that is not a content hash: these are the original
		// documents a backfill copies, not obsplane's own dual writes.
		docs[i].ID = fmt.Sprintf("console-%08x-%06d", run, i)
	}
	res, err := c.Bulk(ctx, docs, opensearch.BulkOptions{Refresh: "true"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Created != n {
		t.Fatalf("bulk load: %+v, want %d created", res, n)
	}
	return index
}

// consoleServer is a running obsplane serve with OpenSearch, shadow write
// and dual read on, and the migration state machine over its store, reached
// through its ClickHouse HTTP interface as the migrate commands reach a
// running serve.
type consoleServer struct {
	httpAddr, grpcAddr, adapterAddr string
	osURL                           string
	osc                             *opensearch.Client
	rs                              *remote.Store
	m                               *state.Machine
	fl                              *flags.Service
	logs                            *strings.Builder
}

func startConsoleServer(t *testing.T, extra ...string) *consoleServer {
	t.Helper()
	osURL := openSearchURL(t)
	s := &consoleServer{httpAddr: freePort(t), grpcAddr: freePort(t), adapterAddr: freePort(t), osURL: osURL}
	chAddr := freePort(t)
	args := append([]string{"--data", t.TempDir(), "--clickhouse-http-addr", chAddr, "--otlp-grpc-addr", s.grpcAddr,
		"--logs-adapter-addr", s.adapterAddr, "--opensearch-url", osURL, "--shadow-write", "--backend", "opensearch", "--dual-read",
		"--flag-refresh", "1s"}, extra...)
	_, s.logs = startServe(t, s.httpAddr, args...)
	rs, err := remote.Open(remote.Config{DSN: "http://" + chAddr + "/"})
	if err != nil {
		t.Fatal(err)
	}
	s.rs = rs
	t.Cleanup(func() { _ = rs.Close() })
	rc := router.DefaultConfig()
	rc.Database = "otel"
	if s.fl, err = router.NewFlags(rs, rc, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.fl.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s.m, err = state.New(rs, "otel", s.fl, state.Options{}); err != nil {
		t.Fatal(err)
	}
	if s.osc, err = opensearch.New(osURL, opensearch.Options{Timeout: time.Minute}); err != nil {
		t.Fatal(err)
	}
	return s
}

// prepare walks the migration to Validated as the commands do: shadow write
// on (DualWrite), a real backfill of one index (Backfilled), three
// validations, the last passing (Validated); it sets the rollout, records
// an automatic rollback in the flag audit as the router's trigger does, and
// sends logs through the gateway and reads through the router so the
// dual-write lag and the dual-read latencies have figures.
func (s *consoleServer) prepare(t *testing.T, backfillDocs int) {
	t.Helper()
	ctx := context.Background()
	const actor = "console-test"
	if err := s.m.Move(ctx, state.DualWrite, actor, "shadow write on", nil); err != nil {
		t.Fatal(err)
	}
	day := consoleDay()
	index := seedIndex(t, s.osc, s.osURL, day, backfillDocs)
	bf, err := migrate.Backfill(ctx, migrate.BackfillOptions{OpenSearch: s.osc, Store: s.rs, Database: "otel",
		Start: day, End: day.AddDate(0, 0, 1), Signals: []migrate.Signal{migrate.Logs}, Indices: index})
	if err != nil {
		t.Fatalf("backfill: %v", err)
	}
	if err := s.m.Move(ctx, state.Backfilled, actor, fmt.Sprintf("backfill of %s done: %d documents", index, bf.Read), nil); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for i, v := range []state.Validation{
		{At: now.Add(-30 * time.Minute), Passed: false, DriftPercent: 2.5, PerNamespace: map[string]float64{"shop": 2.5}},
		{At: now.Add(-20 * time.Minute), Passed: false, DriftPercent: 1.2, PerNamespace: map[string]float64{"shop": 1.2}},
		{At: now.Add(-10 * time.Minute), Passed: true, DriftPercent: 0.1, PerNamespace: map[string]float64{"shop": 0.1}},
	} {
		v.RunID = fmt.Sprintf("console-%d", i)
		if err := s.m.RecordValidation(ctx, v, state.Backfilled, actor); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.m.Move(ctx, state.Validated, actor, "validation passed: drift 0.1%", nil); err != nil {
		t.Fatal(err)
	}
	s.setRollout(t, 20, "ramp step 1")
	// The router's rollback replaces the percentage it sees; this process
	// sees the PATCH once it reloads the flags.
	if err := s.fl.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	zero := 0
	if _, _, err := s.fl.Force(ctx, flags.UseClickHouse, flags.Change{RolloutPercentage: &zero}, router.RollbackActor,
		"automatic rollback: latency: ClickHouse P95 900ms above 3x the OpenSearch baseline P95 120ms for 5m0s"); err != nil {
		t.Fatal(err)
	}
	s.setRollout(t, 35, "ramp resumed after the latency fix")
	s.traffic(t)
}

// setRollout changes use_clickhouse through the flag API, as an operator
// would.
func (s *consoleServer) setRollout(t *testing.T, pct int, reason string) {
	t.Helper()
	body := fmt.Sprintf(`{"rolloutPercentage":%d,"reason":%q}`, pct, reason)
	req, _ := http.NewRequest("PATCH", "http://"+s.httpAddr+"/api/v1/flags/use_clickhouse", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("PATCH use_clickhouse %d: %d %s", pct, resp.StatusCode, b)
	}
}

// traffic sends a few logs over OTLP (dual-written) and reads them through
// the logs adapter (dual-read) a few times.
func (s *consoleServer) traffic(t *testing.T) {
	t.Helper()
	ns := fmt.Sprintf("console-%d", rand.Uint32())
	now := time.Now().UTC()
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	for k, v := range map[string]string{"openchoreo.namespace": ns, "openchoreo.component": "api", "openchoreo.project": "shop",
		"k8s.namespace.name": "dp-" + ns, "k8s.pod.name": "api-1", "k8s.container.name": "main"} {
		rl.Resource().Attributes().PutStr(k, v)
	}
	recs := rl.ScopeLogs().AppendEmpty().LogRecords()
	for i := range 50 {
		lr := recs.AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(now.Add(-time.Minute + time.Duration(i)*time.Millisecond)))
		lr.Body().SetStr(fmt.Sprintf("level=info console line %d", i))
	}
	conn, err := grpc.NewClient(s.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := plogotlp.NewGRPCClient(conn).Export(context.Background(), plogotlp.NewExportRequestFromLogs(ld)); err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"startTime": now.Add(-time.Hour).Format(time.RFC3339), "endTime": now.Add(time.Minute).Format(time.RFC3339),
		"searchScope": map[string]any{"namespace": ns}, "limit": 100})
	for range 8 {
		resp, err := http.Post("http://"+s.adapterAddr+"/api/v1/logs/query", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("logs query: %d", resp.StatusCode)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestConsoleInBrowser drives Debian's headless Chromium at /console of a
// real serve whose migration has walked to Validated: the page shows the
// phase, one row per transition, the backfilled index at 100%, the drift
// and latency charts (uPlot canvases), the rollout and the automatic
// rollback; then a transition and a rollout change made while the page is
// open appear without a reload. With OBSPLANE_CONSOLE_SCREENSHOT=path it
// writes a PNG of the page there (make rehearsal keeps docs/console.png).
func TestConsoleInBrowser(t *testing.T) {
	s := startConsoleServer(t)
	s.prepare(t, 3000)
	st, err := s.m.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Phase != state.Validated || len(st.Transitions) != 3 {
		t.Fatalf("setup: phase %s with %d transitions: %+v", st.Phase, len(st.Transitions), st.Transitions)
	}

	ctx := browser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+s.httpAddr+"/console?interval=500")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "phase shown", `document.getElementById("phase").textContent === "Validated"`, 30*time.Second)
	waitFor(t, ctx, "rollout shown", `document.getElementById("rollout").textContent === "35%"`, 15*time.Second)
	if n := evalJS[int](t, ctx, `document.querySelectorAll("#transitions tbody tr").length`); n != 3 {
		t.Fatalf("%d transition rows, want 3\n%s", n, pageText(ctx))
	}
	if cur := evalJS[string](t, ctx, `document.querySelector("#steps li.current").textContent`); cur != "Validated" {
		t.Fatalf("highlighted step %q", cur)
	}
	if got := evalJS[string](t, ctx, `document.querySelector("#backfill tbody td[data-percent]").dataset.percent`); got != "100.0" {
		t.Fatalf("backfill bar at %s%%, want 100.0\n%s", got, pageText(ctx))
	}
	if n := evalJS[int](t, ctx, `document.querySelectorAll("#drift-chart canvas").length`); n != 1 {
		t.Fatalf("drift chart: %d canvases\n%s", n, pageText(ctx))
	}
	if n := evalJS[int](t, ctx, `document.querySelectorAll("#latency-chart canvas").length`); n != 1 {
		t.Fatalf("latency chart: %d canvases", n)
	}
	if !evalJS[bool](t, ctx, `document.getElementById("charts-missing").hidden`) {
		t.Fatal("the page says the charting library is missing")
	}
	// The drift chart has the three validations; the latency summary counts
	// reads on both backends.
	if n := evalJS[int](t, ctx, `document.querySelectorAll("#drift-chart .u-legend tr").length`); n < 1 {
		t.Fatalf("drift chart has no legend")
	}
	if sum := evalJS[string](t, ctx, `document.getElementById("drift-summary").textContent`); !strings.HasPrefix(sum, "3 validation(s)") || !strings.Contains(sum, "passed") {
		t.Fatalf("drift summary %q", sum)
	}
	waitFor(t, ctx, "latency of both backends", `/ClickHouse P50 [0-9.]+ \/ P95 [0-9.]+ ms over [1-9]/.test(document.getElementById("latency-summary").textContent) &&
		/OpenSearch P50 [0-9.]+ \/ P95 [0-9.]+ ms over [1-9]/.test(document.getElementById("latency-summary").textContent)`, 15*time.Second)
	if n := evalJS[int](t, ctx, `document.querySelectorAll("#rollbacks tbody tr").length`); n != 1 {
		t.Fatalf("%d auto-rollback rows, want 1\n%s", n, pageText(ctx))
	}
	if txt := evalJS[string](t, ctx, `document.querySelector("#rollbacks tbody tr").textContent`); !strings.Contains(txt, "latency") || !strings.Contains(txt, "20%") {
		t.Fatalf("auto-rollback row %q", txt)
	}
	if n := evalJS[int](t, ctx, `document.querySelectorAll("#rollout-audit tbody tr").length`); n != 3 {
		t.Fatalf("%d rollout audit rows, want 3", n)
	}
	if lag := evalJS[string](t, ctx, `document.getElementById("lag").textContent`); lag == "n/a" || lag == "–" {
		t.Fatalf("dual-write lag %q: the gateway runs in this process", lag)
	}
	if sw := evalJS[string](t, ctx, `document.getElementById("shadow").textContent`); sw != "on" {
		t.Fatalf("shadow write shown %q", sw)
	}

	// Live: a transition and a rollout change while the page is open.
	if err := s.m.Move(context.Background(), state.Cutover, "console-test", "ramp reached 100%", nil); err != nil {
		t.Fatal(err)
	}
	s.setRollout(t, 100, "ramp step 4")
	waitFor(t, ctx, "the new phase appears without a reload", `document.getElementById("phase").textContent === "Cutover" &&
		document.querySelectorAll("#transitions tbody tr").length === 4 &&
		document.querySelector("#transitions tbody tr").textContent.includes("ramp reached 100%")`, 15*time.Second)
	waitFor(t, ctx, "the new rollout appears", `document.getElementById("rollout").textContent === "100%" &&
		document.querySelectorAll("#rollout-audit tbody tr").length === 4`, 15*time.Second)

	if path := os.Getenv("OBSPLANE_CONSOLE_SCREENSHOT"); path != "" {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s (%d bytes)", path, len(png))
	}
}

// TestConsoleAdminOnlyUnderJWT: under --auth=jwt the page's frame loads, but
// without a token the API answers 401 and the page shows no migration data;
// a tenant's token gets 403 naming the tenant, in the API and in the page,
// which still shows nothing of the migration; an admin's token shows it.
func TestConsoleAdminOnlyUnderJWT(t *testing.T) {
	f := newJWKSFixture(t)
	s := startConsoleServer(t, "--auth", "jwt", "--jwks-url", f.url)
	ctx := context.Background()
	if err := s.m.Move(ctx, state.DualWrite, "console-test", "shadow write on", nil); err != nil {
		t.Fatal(err)
	}
	admin := f.sign(jwt.MapClaims{"sub": "platform", "namespaces": []string{"*"}})
	tenant := f.sign(jwt.MapClaims{"sub": "alice", "namespaces": []string{"ns-a"}})
	api := "http://" + s.httpAddr + "/api/v1/migration"
	if code, body := getWithToken(t, api, ""); code != 401 || strings.Contains(body, "DualWrite") {
		t.Fatalf("no token: %d %s", code, body)
	}
	if code, body := getWithToken(t, api, tenant); code != 403 || !strings.Contains(body, `\"alice\"`) || strings.Contains(body, "DualWrite") {
		t.Fatalf("tenant: %d %s", code, body)
	}
	if code, body := getWithToken(t, api, admin); code != 200 || !strings.Contains(body, `"phase":"DualWrite"`) {
		t.Fatalf("admin: %d %s", code, body)
	}
	// The page itself is static: the same bytes for anyone, no migration
	// data in them.
	code, anon := getWithToken(t, "http://"+s.httpAddr+"/console", "")
	if _, forAdmin := getWithToken(t, "http://"+s.httpAddr+"/console", admin); code != 200 || anon != forAdmin || strings.Contains(anon, "shadow write on") {
		t.Fatalf("page: %d, same for anyone: %v", code, anon == forAdmin)
	}

	b := browser(t)
	page := "http://" + s.httpAddr + "/console?interval=500"
	if err := chromedp.Do(b, chromedp.Navigate(page)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, b, "401 asks for a token", `!document.getElementById("auth").hidden && document.getElementById("auth-msg").textContent.startsWith("Authentication needed")`, 30*time.Second)
	noData := `document.getElementById("content").hidden && document.getElementById("phase").textContent === "…" && !document.body.innerText.includes("DualWrite ")`
	if !evalJS[bool](t, b, noData) {
		t.Fatalf("data shown without a token:\n%s", pageText(b))
	}
	evalJS[bool](t, b, fmt.Sprintf(`(sessionStorage.setItem("obsplane.console.token", %q), true)`, tenant))
	if err := chromedp.Do(b, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, b, "a tenant is refused by name", `document.getElementById("auth-msg").textContent.includes("alice")`, 30*time.Second)
	time.Sleep(time.Second) // a few more polls: still nothing
	if !evalJS[bool](t, b, noData) {
		t.Fatalf("data shown to a tenant:\n%s", pageText(b))
	}
	if err := chromedp.Do(b, chromedp.SetValue(chromedp.ID("token"), admin), chromedp.Click(chromedp.CSS(`#token-form button[type=submit]`))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, b, "an admin sees the phase", `document.getElementById("phase").textContent === "DualWrite" && !document.getElementById("content").hidden`, 30*time.Second)
}
