package logsbackend

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openchoreo/obsplane/internal/api/auth"
	"github.com/openchoreo/obsplane/internal/api/obsplaneapi"
)

// TestAPILogsParity asks obsplane's /api/logs (served by the real handler on
// ClickHouse) and QueryAPILogs on OpenSearch the same filters over the same
// lines. Cursors are left out: OpenSearch answers carry none.
func TestAPILogsParity(t *testing.T) {
	fx := load(t)
	mux := http.NewServeMux()
	(&obsplaneapi.API{Store: st, Auth: auth.None{}, MaxRange: 30 * 24 * time.Hour}).Mount(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	osb := &Backend{Client: client(t)}
	ctx := auth.WithPrincipal(context.Background(), &auth.Principal{All: true})
	since, until := fx.start, fx.start.Add(6*time.Hour)

	for _, tc := range []struct {
		name string
		f    APILogsFilter
	}{
		{"namespace", APILogsFilter{Namespace: nsAcme, Tail: 50}},
		{"component by name", APILogsFilter{Namespace: nsAcme, Component: "cart", Tail: 100}},
		{"component by uid", APILogsFilter{Component: compCart, Tail: 100}},
		{"project and environment names", APILogsFilter{Project: "shop", Environment: "dev", Tail: 20}},
		{"levels", APILogsFilter{Namespace: nsAcme, Levels: []string{"ERROR", "FATAL"}, Tail: 100}},
		{"every namespace, tail 7", APILogsFilter{Tail: 7}},
		{"legacy index", APILogsFilter{Namespace: nsLegacy, Tail: 100}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := url.Values{"since": {since.Format(time.RFC3339Nano)}, "until": {until.Format(time.RFC3339Nano)}, "tail": {strconv.Itoa(tc.f.Tail)}}
			for k, s := range map[string]string{"namespace": tc.f.Namespace, "project": tc.f.Project, "component": tc.f.Component, "environment": tc.f.Environment, "level": strings.Join(tc.f.Levels, ",")} {
				if s != "" {
					v.Set(k, s)
				}
			}
			resp, err := http.Get(srv.URL + "/api/logs?" + v.Encode())
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("/api/logs: status %d", resp.StatusCode)
			}
			var fromCH obsplaneapi.LogsResponse
			if err := json.NewDecoder(resp.Body).Decode(&fromCH); err != nil {
				t.Fatal(err)
			}
			if len(fromCH.Logs) == 0 {
				t.Fatal("ClickHouse answered no lines; the fixture does not exercise this filter")
			}
			fromCH.NextCursor = ""
			for i := range fromCH.Logs {
				fromCH.Logs[i].Cursor = ""
			}
			tc.f.Since, tc.f.Until = since, until
			fromOS, err := osb.QueryAPILogs(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			g, _ := json.MarshalIndent(fromOS, "", " ")
			w, _ := json.MarshalIndent(fromCH, "", " ")
			if string(g) != string(w) {
				t.Errorf("answers differ\nOpenSearch: %s\nClickHouse: %s", firstLines(string(g), 60), firstLines(string(w), 60))
			}
		})
	}

	t.Run("tenancy", func(t *testing.T) {
		only := auth.WithPrincipal(context.Background(), &auth.Principal{Subject: "u", Namespaces: []string{nsOther}})
		got, err := osb.QueryAPILogs(only, APILogsFilter{Since: since, Until: until, Tail: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Logs) == 0 {
			t.Fatal("no lines of the caller's namespace")
		}
		for _, l := range got.Logs {
			if l.Namespace != nsOther {
				t.Fatalf("caller of %q sees a line of %q", nsOther, l.Namespace)
			}
		}
		if _, err := osb.QueryAPILogs(only, APILogsFilter{Namespace: nsAcme, Since: since, Until: until}); err == nil {
			t.Error("asking for another namespace: want a 403")
		}
	})
}
