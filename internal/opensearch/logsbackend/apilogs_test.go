package logsbackend

import (
	"context"
	"testing"
	"time"

	"github.com/openchoreo/obsplane/internal/readmodel"
)

// TestAPILogsParity asks both backends /api/logs' read (TailLogs) with the
// same filters over the same lines, through readmodel.Logs. Cursors are
// left out: OpenSearch answers carry none.
func TestAPILogsParity(t *testing.T) {
	fx := load(t)
	ch, osb := backends(t)
	w := readmodel.Window{Since: fx.start, Until: fx.start.Add(6 * time.Hour)}
	for _, tc := range []struct {
		name string
		f    readmodel.LogFilter
	}{
		{"namespace", readmodel.LogFilter{Selector: readmodel.Selector{Namespace: nsAcme}, Limit: 50}},
		{"component by name", readmodel.LogFilter{Selector: readmodel.Selector{Namespace: nsAcme, Component: "cart"}, Limit: 100}},
		{"component by uid", readmodel.LogFilter{Selector: readmodel.Selector{Component: compCart}, Limit: 100}},
		{"project and environment names", readmodel.LogFilter{Selector: readmodel.Selector{Project: "shop", Environment: "dev"}, Limit: 20}},
		{"levels", readmodel.LogFilter{Selector: readmodel.Selector{Namespace: nsAcme}, Levels: []string{"ERROR", "FATAL"}, Limit: 100}},
		{"every namespace, tail 7", readmodel.LogFilter{Limit: 7}},
		{"legacy index", readmodel.LogFilter{Selector: readmodel.Selector{Namespace: nsLegacy}, Limit: 100}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.f.Window = w
			fromCH, err := ch.TailLogs(context.Background(), all, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if len(fromCH.Lines) == 0 {
				t.Fatal("ClickHouse answered no lines; the fixture does not exercise this filter")
			}
			fromCH.Next = nil
			for i := range fromCH.Lines {
				fromCH.Lines[i].Cursor = nil
			}
			fromOS, err := osb.TailLogs(context.Background(), all, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if g, w := asJSON(t, fromOS), asJSON(t, fromCH); g != w {
				t.Errorf("answers differ\nOpenSearch: %s\nClickHouse: %s", firstLines(g, 60), firstLines(w, 60))
			}
		})
	}

	t.Run("tenancy", func(t *testing.T) {
		only := readmodel.Tenancy{Subject: "u", Namespaces: []string{nsOther}}
		got, err := osb.TailLogs(context.Background(), only, readmodel.LogFilter{Window: w, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Lines) == 0 {
			t.Fatal("no lines of the caller's namespace")
		}
		for _, l := range got.Lines {
			if l.Namespace != nsOther {
				t.Fatalf("caller of %q sees a line of %q", nsOther, l.Namespace)
			}
		}
		_, err = osb.TailLogs(context.Background(), only, readmodel.LogFilter{Selector: readmodel.Selector{Namespace: nsAcme}, Window: w, Limit: 10})
		if readmodel.KindOf(err) != readmodel.KindForbidden {
			t.Errorf("asking for another namespace: %v, want Forbidden", err)
		}
	})

	t.Run("unsupported without I/O", func(t *testing.T) {
		// A client whose every request would fail: an Unsupported answer
		// proves no request was made.
		b := &Backend{Client: nil}
		for name, f := range map[string]readmodel.LogFilter{
			"q": {Search: "error"}, "service": {Service: "api"}, "traceId": {TraceID: "ab"}, "cursor": {After: &readmodel.Cursor{}},
		} {
			f.Window, f.Limit = w, 10
			if _, err := b.TailLogs(context.Background(), all, f); readmodel.KindOf(err) != readmodel.KindUnsupported {
				t.Errorf("%s: %v, want Unsupported", name, err)
			}
		}
	})
}
