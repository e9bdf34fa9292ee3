package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/openchoreo/obsplane/internal/opensearch"
)

// obsplane runs the binary with args and returns its exit code and output.
func obsplane(t *testing.T, args ...string) (int, string) {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	}
	t.Fatalf("obsplane %v: %v", args, err)
	return 0, ""
}

// chCount runs a count on serve's ClickHouse HTTP interface.
func chCount(t *testing.T, chAddr, sql string) int {
	t.Helper()
	resp, err := http.Post("http://"+chAddr+"/?query="+url.QueryEscape(sql), "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s: %d %s", sql, resp.StatusCode, b)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("%s: %q", sql, b)
	}
	return n
}

func sendNamespaceLogs(t *testing.T, grpcAddr, ns string, n int) {
	t.Helper()
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	for k, v := range map[string]string{"openchoreo.namespace": ns, "openchoreo.component": "api", "openchoreo.project": "shop",
		"k8s.namespace.name": "dp-" + ns, "k8s.pod.name": "api-1", "k8s.container.name": "main"} {
		rl.Resource().Attributes().PutStr(k, v)
	}
	recs := rl.ScopeLogs().AppendEmpty().LogRecords()
	now := time.Now()
	for i := range n {
		lr := recs.AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(now.Add(time.Duration(i) * time.Millisecond)))
		lr.Body().SetStr(fmt.Sprintf("%s line %d", ns, i))
	}
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := plogotlp.NewGRPCClient(conn).Export(context.Background(), plogotlp.NewExportRequestFromLogs(ld)); err != nil {
		t.Fatal(err)
	}
}

// osCount counts the dual-written log documents of OpenChoreo namespace ns.
func osCount(t *testing.T, c *opensearch.Client, ns string) int {
	t.Helper()
	ctx := context.Background()
	if err := c.Refresh(ctx, []string{"container-logs-*"}, opensearch.RetryOptions{}); err != nil {
		t.Fatal(err)
	}
	n, err := c.Count(ctx, []string{"container-logs-*"}, map[string]any{"term": map[string]any{"kubernetes.labels.openchoreo_dev/namespace": ns}}, opensearch.RetryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

// shadowFlag is serve's view of the shadow_write flag.
func shadowFlag(t *testing.T, httpAddr string) bool {
	t.Helper()
	var f struct {
		Enabled *bool `json:"enabled"`
	}
	if code := getJSON(t, "http://"+httpAddr+"/api/v1/flags/shadow_write", &f); code != 200 || f.Enabled == nil {
		t.Fatalf("GET /api/v1/flags/shadow_write: %d", code)
	}
	return *f.Enabled
}

// TestMigrateShadowWriteCommand drives `obsplane migrate shadow-write`
// against a running serve (its embedded store through the ClickHouse HTTP
// interface): refused against a database without the gateway's tables and
// against an OpenSearch that does not answer, changing nothing; enabled, the
// running gateway starts writing OpenSearch within --flag-refresh without a
// restart; disabled, it stops, while ClickHouse gets everything throughout.
func TestMigrateShadowWriteCommand(t *testing.T) {
	osURL := openSearchURL(t)
	data := t.TempDir()
	httpAddr, grpcAddr, chAddr := freePort(t), freePort(t), freePort(t)
	serveCmd, logs := startServe(t, httpAddr, "--data", data, "--otlp-grpc-addr", grpcAddr, "--clickhouse-http-addr", chAddr,
		"--opensearch-url", osURL, "--flag-refresh", "300ms")
	dsn := "http://" + chAddr + "/"
	osc, err := opensearch.New(osURL)
	if err != nil {
		t.Fatal(err)
	}
	if shadowFlag(t, httpAddr) {
		t.Fatal("shadow_write is on without --shadow-write")
	}
	audit := func() int {
		var a struct {
			Audit []map[string]any `json:"audit"`
		}
		if code := getJSON(t, "http://"+httpAddr+"/api/v1/flags/shadow_write/audit", &a); code != 200 {
			t.Fatalf("audit: %d", code)
		}
		return len(a.Audit)
	}

	// Refused: a database without the schema. Nothing changes, not even
	// the database (the command does not apply the schema).
	fresh := fmt.Sprintf("fresh_%d", rand.Uint32())
	code, out := obsplane(t, "migrate", "shadow-write", "enable", "--clickhouse-dsn", dsn, "--database", fresh, "--opensearch-url", osURL, "--actor", "alice")
	if code != 2 || !strings.Contains(out, "refused: ") || !strings.Contains(out, "lacks table(s) otel_logs") {
		t.Fatalf("enable against a database without tables: exit %d\n%s", code, out)
	}
	if n := chCount(t, chAddr, "SELECT count() FROM system.tables WHERE database = '"+fresh+"'"); n != 0 {
		t.Errorf("the refused command created %d table(s) in %s", n, fresh)
	}
	// Refused: OpenSearch does not answer.
	code, out = obsplane(t, "migrate", "shadow-write", "enable", "--clickhouse-dsn", dsn, "--opensearch-url", "http://"+freePort(t), "--check-timeout", "3s")
	if code != 2 || !strings.Contains(out, "refused: ") || !strings.Contains(out, "OpenSearch does not answer") {
		t.Fatalf("enable with OpenSearch down: exit %d\n%s", code, out)
	}
	if shadowFlag(t, httpAddr) || audit() != 0 {
		t.Fatal("a refused enable changed the flag or wrote an audit row")
	}
	if n := chCount(t, chAddr, "SELECT count() FROM otel.obsplane_flags WHERE Name = 'shadow_write'"); n != 0 {
		t.Fatalf("a refused enable stored %d flag row(s)", n)
	}
	if n := chCount(t, chAddr, "SELECT count() FROM otel.obsplane_migration_transitions"); n != 0 || !metric(t, httpAddr, `obsplane_migration_phase{phase="Off"} 1`) {
		t.Fatalf("a refused enable wrote %d transition row(s) or left phase Off", n)
	}
	// Bad input: not enable or disable.
	if code, out := obsplane(t, "migrate", "shadow-write", "on", "--clickhouse-dsn", dsn); code == 0 || !strings.Contains(out, "want enable or disable") {
		t.Fatalf("shadow-write on: exit %d\n%s", code, out)
	}

	const n = 50
	run := fmt.Sprint(rand.Uint32())
	before, during, after := "sw-before-"+run, "sw-during-"+run, "sw-after-"+run
	sendNamespaceLogs(t, grpcAddr, before, n)

	code, out = obsplane(t, "migrate", "shadow-write", "enable", "--clickhouse-dsn", dsn, "--opensearch-url", osURL, "--actor", "alice", "--reason", "phase 1")
	if code != 0 {
		t.Fatalf("enable: exit %d\n%s", code, out)
	}
	eventually(t, "serve sees shadow_write on", func() bool { return shadowFlag(t, httpAddr) })
	if !metric(t, httpAddr, `obsplane_migration_phase{phase="DualWrite"} 1`) ||
		!metric(t, httpAddr, `obsplane_migration_transitions_total{from="Off",status="done",to="DualWrite"} 1`) {
		t.Fatal("enable did not move the migration Off -> DualWrite (obsplane_migration_* on serve's /metrics)")
	}
	var a struct {
		Audit []struct {
			Actor, Reason, NewValue string
		} `json:"audit"`
	}
	if getJSON(t, "http://"+httpAddr+"/api/v1/flags/shadow_write/audit", &a); len(a.Audit) != 1 || a.Audit[0].Actor != "alice" || a.Audit[0].Reason != "phase 1" {
		t.Fatalf("audit after enable: %+v", a.Audit)
	}
	sendNamespaceLogs(t, grpcAddr, during, n)
	eventually(t, "the lines sent while on reach OpenSearch", func() bool { return osCount(t, osc, during) == n })

	code, out = obsplane(t, "migrate", "shadow-write", "disable", "--clickhouse-dsn", dsn, "--actor", "bob")
	if code != 0 {
		t.Fatalf("disable: exit %d\n%s", code, out)
	}
	eventually(t, "serve sees shadow_write off", func() bool { return !shadowFlag(t, httpAddr) })
	if !metric(t, httpAddr, `obsplane_migration_phase{phase="Off"} 1`) {
		t.Fatal("disable did not move the migration back to Off")
	}
	sendNamespaceLogs(t, grpcAddr, after, n)
	for _, ns := range []string{before, during, after} {
		eventually(t, "ClickHouse has "+ns, func() bool {
			return chCount(t, chAddr, "SELECT count() FROM otel.otel_logs WHERE OpenChoreoNamespace = '"+ns+"'") == n
		})
	}
	eventually(t, "the dual-write queue drained", func() bool { return metric(t, httpAddr, "obsplane_gateway_dualwrite_pending_records 0") })
	for ns, want := range map[string]int{before: 0, during: n, after: 0} {
		if got := osCount(t, osc, ns); got != want {
			t.Errorf("OpenSearch holds %d lines of %s, want %d", got, ns, want)
		}
	}
	if !metric(t, httpAddr, `obsplane_gateway_dualwrite_records_total{outcome="off"} `) {
		t.Error("no outcome=\"off\" count on /metrics")
	}
	if serveCmd.ProcessState != nil || strings.Count(logs.String(), "store open") != 1 {
		t.Fatalf("serve restarted or stopped:\n%s", logs.String())
	}
}

// TestHybridModeRoutesByAge runs serve in hybrid mode (the store primary,
// OpenSearch keeping 7 days for logs.query) with dual write on: the logs
// adapter's query over the last hour is answered by OpenSearch, one reaching
// 20 days back by ClickHouse, both with every line.
func TestHybridModeRoutesByAge(t *testing.T) {
	osURL := openSearchURL(t)
	httpAddr, grpcAddr, adapterAddr := freePort(t), freePort(t), freePort(t)
	startServe(t, httpAddr, "--data", t.TempDir(), "--otlp-grpc-addr", grpcAddr, "--logs-adapter-addr", adapterAddr,
		"--opensearch-url", osURL, "--shadow-write", "--hybrid", "--hybrid-opensearch-days", "7", "--hybrid-ops", "logs.query")
	ns := fmt.Sprintf("hybrid-%d", rand.Uint32())
	const n = 40
	sendNamespaceLogs(t, grpcAddr, ns, n)
	now := time.Now().UTC()
	query := func(since time.Duration) int {
		body := map[string]any{"startTime": now.Add(-since).Format(time.RFC3339), "endTime": now.Add(time.Minute).Format(time.RFC3339),
			"searchScope": map[string]any{"namespace": ns}, "limit": 1000}
		var out struct {
			Total int `json:"total"`
		}
		if code := post(t, "http://"+adapterAddr+"/api/v1/logs/query", body, &out); code != 200 {
			t.Fatalf("logs query: %d", code)
		}
		return out.Total
	}
	series := func(backend string) string {
		return `obsplane_router_requests_total{backend="` + backend + `",op="logs.query",outcome="ok",role="primary"}`
	}
	// Recent: OpenSearch, once the dual write landed.
	eventually(t, "the last hour answered by OpenSearch with every line", func() bool { return query(time.Hour) == n })
	if !metric(t, httpAddr, series("opensearch")) || metric(t, httpAddr, series("clickhouse")) {
		t.Fatal("a read of the last hour was not answered by OpenSearch alone")
	}
	// Reaching past the 7 days: ClickHouse.
	eventually(t, "20 days back answered by ClickHouse with every line", func() bool { return query(20*24*time.Hour) == n })
	if !metric(t, httpAddr, series("clickhouse")) {
		t.Fatal("a read reaching 20 days back was not answered by ClickHouse")
	}
}

// TestGatewayOnlyFollowsShadowWrite: a gateway without the query side
// (--components=gateway) refreshes the flags itself, so `migrate
// shadow-write enable` reaches it too, without a restart.
func TestGatewayOnlyFollowsShadowWrite(t *testing.T) {
	osURL := openSearchURL(t)
	httpAddr, grpcAddr, chAddr := freePort(t), freePort(t), freePort(t)
	startServe(t, httpAddr, "--data", t.TempDir(), "--components", "gateway", "--otlp-grpc-addr", grpcAddr,
		"--clickhouse-http-addr", chAddr, "--opensearch-url", osURL, "--flag-refresh", "300ms")
	osc, err := opensearch.New(osURL)
	if err != nil {
		t.Fatal(err)
	}
	run := fmt.Sprint(rand.Uint32())
	off, on := "gw-off-"+run, "gw-on-"+run
	const n = 30
	sendNamespaceLogs(t, grpcAddr, off, n)
	if code, out := obsplane(t, "migrate", "shadow-write", "enable", "--clickhouse-dsn", "http://"+chAddr+"/", "--opensearch-url", osURL); code != 0 {
		t.Fatalf("enable: exit %d\n%s", code, out)
	}
	// No API to ask the gateway's view: wait two refreshes.
	time.Sleep(time.Second)
	sendNamespaceLogs(t, grpcAddr, on, n)
	eventually(t, "the lines sent after enable reach OpenSearch", func() bool { return osCount(t, osc, on) == n })
	eventually(t, "ClickHouse has both batches", func() bool {
		return chCount(t, chAddr, "SELECT count() FROM otel.otel_logs WHERE OpenChoreoNamespace IN ('"+off+"', '"+on+"')") == 2*n
	})
	if got := osCount(t, osc, off); got != 0 {
		t.Errorf("OpenSearch holds %d lines sent before enable", got)
	}
}
