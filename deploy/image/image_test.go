// Package image_test checks the Dockerfile at the repository's root. No
// container engine can build or run an image on the development machines (no
// container registry is reachable, and the sandbox refuses the engines'
// rlimit calls), so this holds the Dockerfile to what its image must be —
// pinned bases, the libchdb version and sha256 of scripts/install-chdb.sh, a
// non-root user, a health check — and runs what the image would run: the
// binary as the image's user with the image's environment, entrypoint and
// command, and the health check command against it.
package image_test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openchoreo/obsplane/internal/config"
	"github.com/openchoreo/obsplane/internal/servetest"
)

const root = "../.."

func TestMain(m *testing.M) {
	code := m.Run()
	servetest.Cleanup()
	os.Exit(code)
}

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper-case keyword
	args string
	line int
}

func parseDockerfile(t *testing.T) []instruction {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []instruction
	var cur strings.Builder
	start := 0
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		l := strings.TrimSpace(sc.Text())
		if cur.Len() == 0 && (l == "" || strings.HasPrefix(l, "#")) {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		cont := strings.HasSuffix(l, "\\")
		cur.WriteString(strings.TrimSuffix(l, "\\") + " ")
		if cont {
			continue
		}
		kw, rest, _ := strings.Cut(strings.TrimSpace(cur.String()), " ")
		out = append(out, instruction{cmd: strings.ToUpper(kw), args: strings.TrimSpace(rest), line: start})
		cur.Reset()
	}
	return out
}

// stages splits instructions at each FROM; args before the first FROM are
// global ARGs.
func stages(ins []instruction) (global []instruction, st [][]instruction) {
	for _, i := range ins {
		if i.cmd == "FROM" {
			st = append(st, nil)
		}
		if len(st) == 0 {
			global = append(global, i)
		} else {
			st[len(st)-1] = append(st[len(st)-1], i)
		}
	}
	return global, st
}

// scriptPins reads CHDB_VERSION and CHDB_TGZ_SHA256 from install-chdb.sh.
func scriptPins(t *testing.T) (version, sha string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "scripts", "install-chdb.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`CHDB_VERSION="\$\{CHDB_VERSION:-([^}]+)\}"`).FindSubmatch(b); m != nil {
		version = string(m[1])
	}
	if m := regexp.MustCompile(`CHDB_TGZ_SHA256="([0-9a-f]{64})"`).FindSubmatch(b); m != nil {
		sha = string(m[1])
	}
	if version == "" || sha == "" {
		t.Fatalf("install-chdb.sh: no CHDB_VERSION or CHDB_TGZ_SHA256 found")
	}
	return version, sha
}

func argDefault(ins []instruction, name string) string {
	for _, i := range ins {
		if i.cmd == "ARG" {
			if k, v, ok := strings.Cut(i.args, "="); ok && k == name {
				return v
			}
		}
	}
	return ""
}

// execForm parses a JSON-array instruction argument.
func execForm(t *testing.T, i instruction) []string {
	t.Helper()
	s := strings.TrimSpace(i.args)
	if !strings.HasPrefix(s, "[") {
		t.Fatalf("line %d: %s %s is not in exec form (the image has no shell)", i.line, i.cmd, s)
	}
	var out []string
	for _, m := range regexp.MustCompile(`"((?:[^"\\]|\\.)*)"`).FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

// runtime is what the final stage sets up.
type runtime struct {
	user, healthcheck  string
	entry, cmd, health []string
	env                map[string]string
}

func runtimeStage(t *testing.T, final []instruction) runtime {
	t.Helper()
	r := runtime{env: map[string]string{}}
	for _, i := range final {
		switch i.cmd {
		case "USER":
			r.user = i.args
		case "HEALTHCHECK":
			r.healthcheck = i.args
			if at := strings.Index(i.args, "CMD "); at >= 0 {
				r.health = execForm(t, instruction{cmd: "HEALTHCHECK", args: i.args[at+4:], line: i.line})
			}
		case "ENTRYPOINT":
			r.entry = execForm(t, i)
		case "CMD":
			r.cmd = execForm(t, i)
		case "ENV":
			k, v, _ := strings.Cut(i.args, "=")
			r.env[k] = v
		case "RUN":
			t.Errorf("line %d: RUN in the runtime stage (it has no shell)", i.line)
		}
	}
	return r
}

func TestDockerfile(t *testing.T) {
	ins := parseDockerfile(t)
	global, st := stages(ins)
	if len(st) < 2 {
		t.Fatalf("%d stages; want a multi-stage build", len(st))
	}
	pinned := regexp.MustCompile(`^\S+:\S+@sha256:[0-9a-f]{64}(\s+AS\s+\S+)?$`)
	for _, s := range st {
		if !pinned.MatchString(s[0].args) {
			t.Errorf("line %d: FROM %s is not pinned by tag and digest", s[0].line, s[0].args)
		}
	}
	version, sha := scriptPins(t)
	if got := argDefault(global, "CHDB_VERSION"); got != version {
		t.Errorf("Dockerfile CHDB_VERSION %q, install-chdb.sh %q", got, version)
	}
	if got := argDefault(global, "CHDB_TGZ_SHA256"); got != sha {
		t.Errorf("Dockerfile CHDB_TGZ_SHA256 %q, install-chdb.sh %q", got, sha)
	}
	// The stage that fetches libchdb checks the tarball before unpacking it.
	checked := false
	for _, s := range st {
		for _, i := range s {
			if i.cmd == "RUN" && strings.Contains(i.args, "@chdb/lib-linux-x64-gnu@${CHDB_VERSION}") {
				c := strings.Index(i.args, "${CHDB_TGZ_SHA256}")
				u := strings.Index(i.args, "tar -x")
				checked = c >= 0 && strings.Contains(i.args, "sha256sum -c") && u > c && strings.Contains(i.args, "&&")
			}
		}
	}
	if !checked {
		t.Errorf("no RUN fetches @chdb/lib-linux-x64-gnu@${CHDB_VERSION} and checks ${CHDB_TGZ_SHA256} with sha256sum -c before tar -x")
	}
	final := st[len(st)-1]
	rt := runtimeStage(t, final)
	user, healthcheck, entry, cmd, env := rt.user, rt.healthcheck, rt.entry, rt.cmd, rt.env
	uid, _, _ := strings.Cut(user, ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		t.Errorf("USER %q: want a numeric non-root uid (Kubernetes' runAsNonRoot checks numbers)", user)
	}
	if !strings.Contains(healthcheck, "CMD [") || !strings.Contains(healthcheck, `"health"`) {
		t.Errorf("HEALTHCHECK %q: want an exec-form `obsplane health`", healthcheck)
	}
	if len(entry) == 0 || len(cmd) == 0 || cmd[0] != "serve" {
		t.Errorf("ENTRYPOINT %v CMD %v: want obsplane with `serve`", entry, cmd)
	}
	lib := env["CHDB_LIB"]
	copied := false
	for _, i := range final {
		if i.cmd == "COPY" && strings.HasSuffix(i.args, " "+lib) {
			copied = true
		}
	}
	if lib == "" || !copied {
		t.Errorf("CHDB_LIB=%q is not where the runtime stage copies libchdb.so", lib)
	}
	// The ports the image exposes are obsplane's default listeners.
	var exposed []string
	for _, i := range final {
		if i.cmd == "EXPOSE" {
			exposed = append(exposed, strings.Fields(i.args)...)
		}
	}
	def := config.Default()
	for _, addr := range []string{def.Listen.HTTP, def.Listen.OTLPGRPC, def.Listen.OTLPHTTP, def.Listen.Forward, def.Listen.LogsAdapter, def.Listen.TracingAdapter} {
		_, port, _ := net.SplitHostPort(addr)
		if !contains(exposed, port) {
			t.Errorf("EXPOSE %v lacks the default listener port %s", exposed, port)
		}
	}
	// What the build copies exists.
	for _, s := range st {
		for _, i := range s {
			if i.cmd != "COPY" || strings.Contains(i.args, "--from=") {
				continue
			}
			f := strings.Fields(i.args)
			for _, src := range f[:len(f)-1] {
				if _, err := os.Stat(filepath.Join(root, src)); err != nil {
					t.Errorf("line %d: COPY %s: %v", i.line, src, err)
				}
			}
		}
	}
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// TestImageRuntime runs what the image runs, as far as this machine can
// without a container engine: the binary with the image's ENTRYPOINT, CMD and
// ENV, as the image's user (when the test runs as root), with libchdb at the
// image's path inside a scratch root; then the HEALTHCHECK command, which must
// pass while the server runs and fail once it is gone.
func TestImageRuntime(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the server")
	}
	ins := parseDockerfile(t)
	_, st := stages(ins)
	rt := runtimeStage(t, st[len(st)-1])
	user, entry, cmd, health, env := rt.user, rt.entry, rt.cmd, rt.health, rt.env
	// A scratch root that stands for the image's file system.
	img, err := os.MkdirTemp("", "obsplane-image-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(img) })
	if err := os.Chmod(img, 0o755); err != nil {
		t.Fatal(err)
	}
	at := func(p string) string { return filepath.Join(img, p) }
	bin := at(entry[0])
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(servetest.Binary(t), bin); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	lib := at(env["CHDB_LIB"])
	if err := os.MkdirAll(filepath.Dir(lib), 0o755); err != nil {
		t.Fatal(err)
	}
	src := config.DefaultChdbLib()
	if err := os.Link(src, lib); err != nil {
		t.Skipf("libchdb cannot be linked into the scratch root (%v); run scripts/install-chdb.sh", err)
	}
	data := at("/var/lib/obsplane")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		uidS, gidS, _ := strings.Cut(user, ":")
		uid, _ := strconv.Atoi(uidS)
		gid, _ := strconv.Atoi(gidS)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(data, uid, gid); err != nil {
			t.Fatal(err)
		}
	} else {
		t.Logf("not root: running as uid %d instead of the image's %s", os.Geteuid(), user)
	}

	// The image's command, its paths under the scratch root, and every
	// listener on a free loopback port (the machine is shared).
	httpPort := port(servetest.FreePort(t))
	args := append([]string{}, cmd...)
	for i, a := range args {
		if strings.HasPrefix(a, "/") {
			args[i] = at(a)
		}
	}
	args = append(args, "--http-addr=127.0.0.1:"+httpPort, "--otlp-grpc-addr="+servetest.FreePort(t),
		"--otlp-http-addr="+servetest.FreePort(t), "--forward-addr="+servetest.FreePort(t),
		"--logs-adapter-addr="+servetest.FreePort(t), "--tracing-adapter-addr="+servetest.FreePort(t),
		"--clickhouse-http-addr=off")
	srv := exec.Command(bin, args...)
	srv.Dir = data
	srv.Env = []string{"CHDB_LIB=" + lib, "HOME=" + data, "PATH=/usr/bin:/bin"}
	srv.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	logf, err := os.Create(filepath.Join(t.TempDir(), "serve.log"))
	if err != nil {
		t.Fatal(err)
	}
	srv.Stdout, srv.Stderr = logf, logf
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = srv.Process.Kill()
			_ = srv.Wait()
		}
	})

	check := func() error {
		hc := append([]string{}, health...)
		hc[0] = bin
		for i, a := range hc {
			hc[i] = strings.Replace(a, "127.0.0.1:8080", "127.0.0.1:"+httpPort, 1)
		}
		c := exec.Command(hc[0], hc[1:]...)
		c.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		out, err := c.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		err := check()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("health check never passed: %v\nserve log:\n%s", err, b)
		}
		time.Sleep(time.Second)
	}
	// The engine opened its store under the image's data directory, as its user.
	fi, err := os.Stat(filepath.Join(data, "clickhouse"))
	if err != nil {
		t.Fatalf("no store under the data directory: %v", err)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && cred != nil && st.Uid != cred.Uid {
		t.Errorf("store owned by uid %d, want the image's %d", st.Uid, cred.Uid)
	}
	_ = srv.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- srv.Wait() }()
	select {
	case err := <-done:
		stopped = true
		if err != nil {
			t.Errorf("serve exited with %v after SIGTERM", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not stop within 60 s of SIGTERM")
	}
	if err := check(); err == nil {
		t.Error("health check passed with the server stopped")
	}
}
