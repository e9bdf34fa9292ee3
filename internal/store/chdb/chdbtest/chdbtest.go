// Package chdbtest gives a test binary its one embedded store.
//
// The engine is process-global (one data directory per process), so a test
// package opens it once in TestMain and every test shares it, each on its own
// database:
//
//	var st *chdb.Store
//
//	func TestMain(m *testing.M) { chdbtest.Main(m, &st) }
//
// The library comes from CHDB_LIB or the installer's cache path; when it is
// missing the tests fail with the install hint, never skip.
package chdbtest

import (
	"fmt"
	"os"
	"testing"

	"github.com/openchoreo/obsplane/internal/config"
	"github.com/openchoreo/obsplane/internal/store/chdb"
)

// Main opens a store on a temporary directory, stores it in *st, runs the
// tests, closes and removes everything, and exits with the tests' code.
// Each start, when given, runs on the open store before the tests (a server
// over it, say) and returns what stops it.
func Main(m *testing.M, st **chdb.Store, start ...func(*chdb.Store) (stop func(), err error)) {
	os.Exit(run(m, st, start))
}

func run(m *testing.M, st **chdb.Store, start []func(*chdb.Store) (func(), error)) int {
	dir, err := os.MkdirTemp("", "obsplane-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "chdbtest:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	s, err := chdb.Open(chdb.Config{LibPath: config.DefaultChdbLib(), DataDir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, "chdbtest:", err)
		return 1
	}
	*st = s
	defer s.Close()
	for _, f := range start {
		stop, err := f(s)
		if err != nil {
			fmt.Fprintln(os.Stderr, "chdbtest:", err)
			return 1
		}
		defer stop()
	}
	return m.Run()
}
