package cleanup_test

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openchoreo/obsplane/internal/opensearch/opensearchtest"
)

// TestCleanupCommand runs `obsplane migrate cleanup` itself: a refusal
// exits 2 with "refused: <reason>" on stderr, prints the plan with its
// verdicts, and leaves every index whole.
func TestCleanupCommand(t *testing.T) {
	f := newFixture(t)
	root, err := opensearchtest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "obsplane")
	build := exec.Command("go", "build", "-o", bin, "./cmd/obsplane")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build obsplane: %v\n%s", err, out)
	}
	data := t.TempDir()
	run := func(args ...string) (code int, stdout, stderr string) {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"migrate", "cleanup", "--data", data, "--opensearch", osURL, "--log-level", "warn",
			"--indices", strings.Join(f.patterns, ","), "--snapshot-repository", f.repo}, args...)...)
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			code = ee.ExitCode()
		case err != nil:
			t.Fatal(err)
		}
		return code, o.String(), e.String()
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no switches", nil, "refused: --require-explicit-flag is not set"},
		{"no confirmed", []string{"--require-explicit-flag"}, "refused: --confirmed is not set"},
		// A fresh store: the migration never started.
		{"phase Off", []string{"--require-explicit-flag", "--confirmed"}, "refused: the migration is Off, not Complete"},
		{"dry run, phase Off", []string{"--require-explicit-flag", "--confirmed", "--dry-run", "--min-complete-age", "0s"}, "refused: the migration is Off, not Complete"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := run(tc.args...)
			t.Logf("stdout:\n%s\nstderr:\n%s", stdout, stderr)
			if code != 2 {
				t.Errorf("exit code %d, want 2", code)
			}
			// The log comes first; the command's last word is the refusal.
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if last := lines[len(lines)-1]; !strings.HasPrefix(last, tc.want) {
				t.Errorf("stderr ends %q, want a line starting %q", last, tc.want)
			}
			if !strings.Contains(stdout, "REFUSED: ") {
				t.Errorf("the plan on stdout does not show the refusal")
			}
			f.assertUntouched(t, nil)
			if s := f.snapshots(t); len(s) > 0 {
				t.Errorf("snapshots taken: %v", s)
			}
		})
	}
}
