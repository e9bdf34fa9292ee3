package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openchoreo/obsplane/internal/migrate/state"
	"github.com/openchoreo/obsplane/internal/opensearch/opensearchtest"
)

func TestExitCodeOfRefusal(t *testing.T) {
	refused := fmt.Errorf("cutover: %w", &state.RefusedError{Reason: "the migration is in phase Off"})
	if exitCode(refused) != 2 || errorText(refused) != "refused: the migration is in phase Off" {
		t.Errorf("refusal: exit %d, text %q", exitCode(refused), errorText(refused))
	}
	other := errors.New("store down")
	if exitCode(other) != 1 || errorText(other) != "obsplane: store down" {
		t.Errorf("failure: exit %d, text %q", exitCode(other), errorText(other))
	}
}

func TestCutoverFlagsBadInput(t *testing.T) {
	for _, c := range []struct {
		ramp, rng    string
		age, d, poll time.Duration
	}{
		{"5,20", "", time.Hour, time.Minute, time.Second},
		{"5,20,100", "2026-11-05:2026-11-01", time.Hour, time.Minute, time.Second},
		{"5,20,100", "yesterday", time.Hour, time.Minute, time.Second},
		{"5,20,100", "", 0, time.Minute, time.Second},
	} {
		if _, err := cutoverOptions(c.ramp, c.rng, c.age, c.d, c.poll); err == nil || errors.Is(err, state.ErrRefused) {
			t.Errorf("cutoverOptions(%+v) = %v, want a usage error (exit 1, not a refusal)", c, err)
		}
	}
}

// TestProcessCommands runs the built binary on an embedded store: status
// prints the phase, and cutover, rollback and complete from Off are refused
// with exit code 2 and "refused: <reason>", leaving the state as it was.
func TestProcessCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "obsplane")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	run := func(args ...string) (string, string, int) {
		cmd := exec.Command(bin, append(args, "--data", data, "--log-level", "warn")...)
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), errb.String(), code
	}
	statusJSON := func() state.Status {
		out, errs, code := run("migrate", "status", "--json")
		if code != 0 {
			t.Fatalf("status: exit %d: %s", code, errs)
		}
		var s state.Status
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			t.Fatalf("status --json: %v\n%s", err, out)
		}
		return s
	}
	before := statusJSON()
	if before.Phase != state.Off || len(before.Transitions) != 0 {
		t.Fatalf("fresh store: %+v", before)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"migrate", "cutover", "--ramp-dwell", "0s"}, "refused: the migration is in phase Off; cutover needs Validated"},
		{[]string{"migrate", "rollback", "--syncback=false"}, "refused: the migration is in phase Off: there is no cutover to roll back"},
		{[]string{"migrate", "complete"}, "refused: the migration is in phase Off; complete follows a cutover"},
	} {
		_, errs, code := run(c.args...)
		if code != 2 || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, errs, c.want)
		}
	}
	after := statusJSON()
	if after.Phase != before.Phase || len(after.Transitions) != 0 || after.RolloutPercent != before.RolloutPercent || after.ClickStackPrimary || after.ShadowWrite {
		t.Errorf("refused commands changed the state: %+v", after)
	}
	out, errs, code := run("migrate", "status")
	if code != 0 || !strings.Contains(out, "PHASE") || !strings.Contains(out, "Off") || !strings.Contains(out, "AUDIT") {
		t.Errorf("status table: exit %d\n%s%s", code, out, errs)
	}
	if _, errs, code := run("migrate", "cutover", "--ramp", "5,50"); code != 1 || !strings.Contains(errs, "the last step must be 100") {
		t.Errorf("bad --ramp: exit %d, %q", code, errs)
	}

	// validate records its run in the migration state (in Off it moves
	// nothing), per namespace.
	url, skip, err := opensearchtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	if skip != "" {
		t.Log(skip)
		return
	}
	from := time.Now().UTC().Add(-48 * time.Hour).Format(time.RFC3339)
	out, errs, code = run("migrate", "validate", "--opensearch", url, "--start", from, "--duration", "2m", "--sample-interval", "1m",
		"--group-by", "namespace", "--report-file", "", "--actor", "tester")
	if code != 0 || !strings.Contains(out, "migration phase: Off") {
		t.Fatalf("validate: exit %d\n%s%s", code, out, errs)
	}
	s := statusJSON()
	if len(s.Validations) != 1 || !s.Validations[0].Passed || s.Validations[0].Samples != 2 || s.Phase != state.Off || len(s.Transitions) != 0 {
		t.Errorf("after validate: %+v", s)
	}
}
