package helm_test

import (
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/openchoreo/obsplane/internal/servetest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	servetest.Cleanup()
	os.Exit(code)
}

// pendingCLI are commands and flags the chart passes that another engineer's
// branch adds to obsplane; each says which. An entry the binary already
// knows fails the test, so the list empties as those branches land.
var pendingCLI = map[string]string{}

// commandKey names a command line's command: its first two words.
func commandKey(path []string) string {
	if len(path) > 2 {
		path = path[:2]
	}
	return strings.Join(path, " ")
}

// invocation is one obsplane command line a rendered container runs.
type invocation struct {
	owner string
	args  []string
	env   []string // OBSPLANE_* names
}

func invocations(objs []object) []invocation {
	var out []invocation
	add := func(owner string, spec corev1.PodSpec) {
		for _, c := range spec.Containers {
			inv := invocation{owner: owner + "/" + c.Name, args: c.Args}
			for _, e := range c.Env {
				if strings.HasPrefix(e.Name, "OBSPLANE_") {
					inv.env = append(inv.env, e.Name)
				}
			}
			out = append(out, inv)
		}
	}
	for _, o := range objs {
		switch w := o.obj.(type) {
		case *appsv1.Deployment:
			add("Deployment/"+o.name, w.Spec.Template.Spec)
		case *appsv1.StatefulSet:
			add("StatefulSet/"+o.name, w.Spec.Template.Spec)
		case *batchv1.Job:
			add("Job/"+o.name, w.Spec.Template.Spec)
		}
	}
	return out
}

var flagRE = regexp.MustCompile(`(?m)^\s+(?:-\w, )?(--[a-z0-9-]+)`)

// TestChartCommandLines runs `obsplane <command> --help` for every command
// line the chart renders and checks that the command exists and knows every
// flag given to it and every OBSPLANE_* variable set for it (a variable is
// its flag's name: OBSPLANE_HTTP_ADDR is --http-addr), so the chart cannot
// drift from the binary.
func TestChartCommandLines(t *testing.T) {
	bin := servetest.Binary(t)
	help := map[string]string{} // command path -> its flags, "" when unknown
	flagsOf := func(path []string) (string, bool) {
		key := strings.Join(path, " ")
		if h, ok := help[key]; ok {
			return h, h != ""
		}
		out, err := exec.Command(bin, append(path, "--help")...).CombinedOutput()
		if err != nil || strings.Contains(string(out), "unknown command") || !usageIs(string(out), path) {
			help[key] = ""
			return "", false
		}
		var flags []string
		for _, m := range flagRE.FindAllStringSubmatch(string(out), -1) {
			flags = append(flags, m[1])
		}
		help[key] = strings.Join(flags, " ") + " "
		return help[key], true
	}
	used := map[string]bool{}
	checked := 0
	for _, set := range valueSets(t) {
		rel, err := render(t, vals(t, set.files, nil), set.upgrade)
		if err != nil {
			t.Fatalf("%s: %v", set.name, err)
		}
		for _, inv := range invocations(decodeAll(t, rel)) {
			var path []string
			for _, a := range inv.args {
				if strings.HasPrefix(a, "-") {
					break
				}
				path = append(path, a)
			}
			flags, ok := flagsOf(path)
			if !ok {
				if issue, pending := pendingCLI[commandKey(path)]; pending {
					used[commandKey(path)] = true
					t.Logf("PENDING %s: obsplane %s comes with %s", inv.owner, strings.Join(path, " "), issue)
					continue
				}
				t.Errorf("%s (%s): obsplane has no command %q", inv.owner, set.name, strings.Join(path, " "))
				continue
			}
			if issue, pending := pendingCLI[commandKey(path)]; pending {
				t.Errorf("obsplane %s exists now: remove it from pendingCLI (%s)", commandKey(path), issue)
			}
			for _, a := range inv.args[len(path):] {
				name, _, _ := strings.Cut(a, "=")
				checked++
				if strings.Contains(flags, " "+name+" ") || strings.HasPrefix(flags, name+" ") {
					if issue, pending := pendingCLI[name]; pending && !used[name+"-known"] {
						used[name+"-known"] = true
						t.Errorf("%s exists now: remove it from pendingCLI (%s)", name, issue)
					}
					continue
				}
				if issue, pending := pendingCLI[name]; pending {
					used[name] = true
					t.Logf("PENDING %s: %s comes with %s", inv.owner, name, issue)
					continue
				}
				t.Errorf("%s (%s): obsplane %s has no flag %s", inv.owner, set.name, strings.Join(path, " "), name)
			}
			for _, e := range inv.env {
				checked++
				name := "--" + strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(e, "OBSPLANE_")), "_", "-")
				if !strings.Contains(flags, " "+name+" ") && !strings.HasPrefix(flags, name+" ") {
					t.Errorf("%s (%s): %s sets nothing: obsplane %s has no flag %s", inv.owner, set.name, e, strings.Join(path, " "), name)
				}
			}
		}
	}
	var stale []string
	for k := range pendingCLI {
		if !used[k] {
			stale = append(stale, k)
		}
	}
	slices.Sort(stale)
	for _, k := range stale {
		t.Errorf("pendingCLI lists %s, which no rendered command uses", k)
	}
	t.Logf("%d flags and variables checked against the binary's own help", checked)
}

// usageIs reports whether help is the help of path's command rather than of
// a parent that took path's words as arguments: its Usage line names at
// least the command's first two words.
func usageIs(help string, path []string) bool {
	_, after, ok := strings.Cut(help, "Usage:\n")
	if !ok {
		return false
	}
	line, _, _ := strings.Cut(strings.TrimSpace(after), "\n")
	var found []string
	for _, w := range strings.Fields(line)[1:] {
		if strings.HasPrefix(w, "-") || strings.HasPrefix(w, "[") || strings.ToUpper(w) == w {
			break
		}
		found = append(found, w)
	}
	want := min(2, len(path))
	return len(found) >= want && slices.Equal(found[:want], path[:want])
}
