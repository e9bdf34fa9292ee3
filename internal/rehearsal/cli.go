package rehearsal

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
)

// cli runs the real `obsplane migrate` commands against the running serve:
// the store through serve's ClickHouse HTTP interface (the embedded engine
// belongs to serve), OpenSearch by URL.
type cli struct {
	bin, dsn, osURL string
	log             io.Writer // each command's output, as it runs
}

// cliError is a migrate command that exited non-zero.
type cliError struct {
	Args     []string
	ExitCode int
	Output   string
}

func (e *cliError) Error() string {
	return fmt.Sprintf("obsplane %s: exit %d\n%s", strings.Join(e.Args, " "), e.ExitCode, tail(e.Output, 25))
}

// run executes `obsplane migrate <args>` with the connection flags and
// returns its combined output.
func (c *cli) run(ctx context.Context, args ...string) (string, error) {
	full := append([]string{"migrate"}, args...)
	full = append(full, "--clickhouse-dsn", c.dsn, "--opensearch-url", c.osURL)
	cmd := exec.CommandContext(ctx, c.bin, full...)
	var out bytes.Buffer
	w := io.Writer(&out)
	if c.log != nil {
		w = io.MultiWriter(&out, c.log)
		fmt.Fprintf(c.log, "$ obsplane %s\n", strings.Join(full, " "))
	}
	cmd.Stdout, cmd.Stderr = w, w
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out.String(), &cliError{Args: full, ExitCode: ee.ExitCode(), Output: out.String()}
	}
	if err != nil {
		return out.String(), fmt.Errorf("obsplane %s: %w", strings.Join(full, " "), err)
	}
	return out.String(), nil
}

// migrateCommands lists the subcommands `obsplane migrate --help` offers.
// Cobra prints a parent's help and exits 0 for an unknown subcommand, so
// the harness asks first rather than trusting an exit code.
func migrateCommands(ctx context.Context, bin string) (map[string]bool, error) {
	out, err := exec.CommandContext(ctx, bin, "migrate", "--help").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("%s migrate --help: %v\n%s", bin, err, out)
	}
	cmds := map[string]bool{}
	in := false
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "Available Commands:"):
			in = true
		case in && strings.TrimSpace(line) == "":
			in = false
		case in:
			if f := strings.Fields(line); len(f) > 0 {
				cmds[f[0]] = true
			}
		}
	}
	return cmds, nil
}

// missingCommands names the migrate subcommands phases need that bin lacks.
func missingCommands(have map[string]bool, phases []Phase) []string {
	var miss []string
	seen := map[string]bool{}
	for _, p := range phases {
		for _, c := range p.Commands {
			if !have[c] && !seen[c] {
				seen[c] = true
				miss = append(miss, "obsplane migrate "+c)
			}
		}
	}
	return miss
}

// migrationStatus is the part of `migrate status --json` the rehearsal
// checks (the contract's Status JSON).
type migrationStatus struct {
	Phase             string `json:"phase"`
	RolloutPercent    int    `json:"rolloutPercent"`
	ShadowWrite       bool   `json:"shadowWrite"`
	ClickStackPrimary bool   `json:"clickstackPrimary"`
	Pending           any    `json:"pending"`
	// Transitions, newest first.
	Transitions []struct {
		From   string            `json:"from"`
		To     string            `json:"to"`
		Status string            `json:"status"`
		Detail map[string]string `json:"detail"`
	} `json:"transitions"`
}

func (c *cli) status(ctx context.Context) (migrationStatus, error) {
	var st migrationStatus
	full := []string{"migrate", "status", "--json", "--clickhouse-dsn", c.dsn, "--opensearch-url", c.osURL}
	cmd := exec.CommandContext(ctx, c.bin, full...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return st, fmt.Errorf("obsplane %s: %v\n%s", strings.Join(full, " "), err, tail(errOut.String(), 10))
	}
	if err := json.Unmarshal(out.Bytes(), &st); err != nil {
		return st, fmt.Errorf("obsplane migrate status --json: %v: %q", err, tail(out.String(), 5))
	}
	return st, nil
}
