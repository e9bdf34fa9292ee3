// Package opensearchtest gives tests the real single-node OpenSearch of
// scripts/opensearch.sh. Every package that needs it calls Start from its
// TestMain; `make test` starts the node once beforehand, and the script's lock
// makes concurrent starts from parallel test binaries wait for one node rather
// than race to boot several.
package opensearchtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// SkipEnv, set to 1, skips the tests that need OpenSearch (and says so).
const SkipEnv = "OBSPLANE_SKIP_OPENSEARCH"

// Start returns the URL of the shared node, starting it when it is not
// running. skip is non-empty when SkipEnv asks to skip; the caller then runs
// its tests with a Skip in each one that needs the node.
func Start() (url, skip string, err error) {
	if os.Getenv(SkipEnv) == "1" {
		return "", SkipEnv + "=1: tests against the real OpenSearch are skipped", nil
	}
	url, err = Script(nil, "start")
	if err != nil {
		return "", "", err
	}
	if !strings.HasPrefix(url, "http") {
		return "", "", fmt.Errorf("scripts/opensearch.sh start printed %q, not a URL", url)
	}
	return url, "", nil
}

// ForMain is Start for a TestMain: it exits the test binary when the node
// cannot start (a node that cannot start fails the run; only SkipEnv skips),
// and says on stderr when the tests will skip. pkg names the package in the
// message.
func ForMain(pkg string) (url, skip string) {
	url, skip, err := Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: cannot start OpenSearch: %v\n", pkg, err)
		os.Exit(1)
	}
	if skip != "" {
		fmt.Fprintln(os.Stderr, skip)
	}
	return url, skip
}

// Script runs scripts/opensearch.sh with args and extra environment (a second
// node takes OPENSEARCH_PORT and OPENSEARCH_HOME_DIR) and returns the last word
// it printed on stdout, which for start is the node's URL. Its log goes to
// stderr. The first run downloads OpenSearch, hence the long deadline.
func Script(env []string, args ...string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", "opensearch.sh"), args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("scripts/opensearch.sh %s: %w", strings.Join(args, " "), err)
	}
	f := strings.Fields(out.String())
	if len(f) == 0 {
		return "", nil
	}
	return f[len(f)-1], nil
}

// RepoRoot is the directory holding go.mod, found upwards from the test's
// working directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the test's directory")
		}
		dir = parent
	}
}
