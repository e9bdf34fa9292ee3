package servetest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Process is a program a test runs, its combined output in a file.
type Process struct {
	// Log is the path of the process's combined output.
	Log string

	cmd  *exec.Cmd
	done chan error
}

// StartProcess starts cmd, its output into a file of the test's, and polls
// ready until it holds (failing the test, with the output, when the
// process exits first or within has passed). The caller stops it
// (t.Cleanup with Stop).
func StartProcess(t testing.TB, name string, cmd *exec.Cmd, within time.Duration, ready func() bool) *Process {
	t.Helper()
	p := &Process{Log: filepath.Join(t.TempDir(), name+".log"), cmd: cmd, done: make(chan error, 1)}
	logf, err := os.Create(p.Log)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait(); logf.Close() }()
	for deadline := time.Now().Add(within); !ready(); time.Sleep(100 * time.Millisecond) {
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("%s exited while starting: %v\n%s", name, err, p.Output())
		default:
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("%s not ready after %s\n%s", name, within, p.Output())
		}
	}
	return p
}

// Output is what the process has printed so far.
func (p *Process) Output() string {
	b, _ := os.ReadFile(p.Log)
	return string(b)
}

// Stop sends SIGTERM and waits up to within for the process to exit,
// returning its exit error (or, killing it, an error saying it did not
// stop). A process that had already exited is left as it is: nil.
func (p *Process) Stop(within time.Duration) error {
	select {
	case err := <-p.done:
		p.done <- err
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(within):
		_ = p.cmd.Process.Kill()
		return fmt.Errorf("did not stop within %s of SIGTERM", within)
	}
}
