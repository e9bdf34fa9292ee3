package migrate_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/openchoreo/obsplane/bench"
	"github.com/openchoreo/obsplane/internal/migrate"
	"github.com/openchoreo/obsplane/internal/opensearch"
	"github.com/openchoreo/obsplane/internal/opensearch/logsbackend"
	"github.com/openchoreo/obsplane/internal/readmodel"
	"github.com/openchoreo/obsplane/internal/store"
)

// reportFormat is the whitepaper's validation output, line by line.
var reportFormat = regexp.MustCompile(`(?s)^=== ClickStack Migration Validation ===\n` +
	`(\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\] Sampling data\.\.\.\n  OpenSearch: \d+ logs\n  ClickStack: \d+ logs\n  Drift: \d+\.\d\d%\n(  ✗ [^\n]+\n)*  (✓ Within tolerance|✗ Drift exceeds \d+\.\d%)\n)+` +
	`\n=== Validation Report ===\nTotal samples: \d+\nSamples with drift > \d+\.\d%: \d+\nDrift rate: \d+\.\d\d%\n(✓ VALIDATION PASSED|✗ VALIDATION FAILED)\n$`)

// TestValidate: equal stores pass; with 2% of one window removed from the
// store the run fails (exit 1); the output is the whitepaper's format, the
// JSON report is written and the result is kept in the store.
func TestValidate(t *testing.T) {
	c := needOpenSearch(t)
	ctx := context.Background()
	dd := day(25)
	idx := opensearch.ContainerLogsIndex(dd)
	deleteIndex(t, c, idx)
	if err := c.EnsureTemplates(ctx); err != nil {
		t.Fatal(err)
	}
	// Six bursts of 1,000 lines, one a minute from 01:00.
	var docs []opensearch.BulkDoc
	for k := 0; k < 6; k++ {
		ld, err := bench.LogDocuments(bench.LogRows(1000, uint64(k)+40, dd.Add(time.Hour+time.Duration(k)*time.Minute)))
		if err != nil {
			t.Fatal(err)
		}
		for i := range ld {
			ld[i].ID = fluentBitID(idx, k*1000+i, ld[i].Source)
		}
		docs = append(docs, ld...)
	}
	if _, err := c.BulkParallel(ctx, docs, 2, opensearch.BulkOptions{Refresh: "true"}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	func() {
		st := openStore(t, dir)
		defer st.Close()
		if _, err := migrate.Backfill(ctx, migrate.BackfillOptions{OpenSearch: c, Store: st, Start: dd, End: dd.AddDate(0, 0, 1), Indices: idx, Log: quietLog()}); err != nil {
			t.Fatal(err)
		}
	}()
	report := filepath.Join(dir, "report.json")
	validate := func() (string, int) {
		cmd := exec.Command(binary, "migrate", "validate", "--data", dir, "--opensearch", osURL, "--log-level", "warn",
			"--start", dd.Add(time.Hour+5*time.Minute).Format(time.RFC3339), "--duration", "3m", "--sample-interval", "1m",
			"--settle", "0s", "--window", "5m", "--group-by", "namespace", "--report-file", report)
		var out, errOut strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		t.Logf("validate exited %d:\n%s%s", code, out.String(), errOut.String())
		if !reportFormat.MatchString(out.String()) {
			t.Errorf("output is not in the whitepaper's format:\n%s", out.String())
		}
		return out.String(), code
	}
	out, code := validate()
	if code != 0 || !strings.Contains(out, "Samples with drift > 1.0%: 0") || !strings.Contains(out, "✓ VALIDATION PASSED") {
		t.Fatalf("equal stores: exit %d, want 0 and a pass", code)
	}
	var rep migrate.ValidationReport
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil || !rep.Passed || rep.TotalSamples != 3 || rep.Samples[0].Signals[0].OpenSearch != 5000 {
		t.Fatalf("JSON report: %v %+v", err, rep)
	}

	// Remove 2% of the first window (a tenth of its first burst) from the
	// store.
	func() {
		st := openStore(t, dir)
		defer st.Close()
		err := st.Exec(ctx, "DELETE FROM otel.otel_logs WHERE Timestamp >= {from:DateTime64(9)} AND Timestamp < {to:DateTime64(9)} AND toUnixTimestamp64Milli(Timestamp) % 10 = 0",
			store.Params{"from": dd.Add(time.Hour).Format("2006-01-02 15:04:05"), "to": dd.Add(time.Hour + time.Minute).Format("2006-01-02 15:04:05")})
		if err != nil {
			t.Fatal(err)
		}
		if n := countRows(t, st, "SELECT count() AS n FROM otel.otel_logs"); n != 5900 {
			t.Fatalf("store holds %d rows after the delete, want 5900", n)
		}
	}()
	out, code = validate()
	if code != 1 || !strings.Contains(out, "Drift: 2.00%") || !strings.Contains(out, "Samples with drift > 1.0%: 1") || !strings.Contains(out, "✗ VALIDATION FAILED") {
		t.Fatalf("2%% of one window removed: exit %d, want 1 with one sample at 2.00%% drift and a failure", code)
	}
	st := openStore(t, dir)
	defer st.Close()
	last, err := migrate.LastValidation(ctx, st, "otel")
	if err != nil || last == nil || last.Passed || last.SamplesOverDrift != 1 || len(last.Samples[0].Signals[0].GroupsOver) == 0 {
		t.Fatalf("last stored validation: %v %+v", err, last)
	}
	if n := countRows(t, st, "SELECT count() AS n FROM otel.obsplane_validations"); n != 2 {
		t.Errorf("%d validation results kept, want 2", n)
	}
}

// TestValidateBadInput: a zero interval and an unknown grouping are errors.
func TestValidateBadInput(t *testing.T) {
	var c readmodel.Counts = &logsbackend.Backend{}
	if _, err := migrate.Validate(context.Background(), migrate.ValidateOptions{OpenSearch: c, Store: c}); err == nil || !strings.Contains(err.Error(), "--sample-interval") {
		t.Errorf("zero interval: got %v", err)
	}
	if _, err := migrate.Validate(context.Background(), migrate.ValidateOptions{OpenSearch: c, Store: c, SampleInterval: time.Second, GroupBy: "pod"}); err == nil || !strings.Contains(err.Error(), "--group-by") {
		t.Errorf("unknown grouping: got %v", err)
	}
}
