package sizing

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"
)

func TestParseRetention(t *testing.T) {
	for in, want := range map[string]time.Duration{"30d": 30 * 24 * time.Hour, "2w": 14 * 24 * time.Hour, "720h": 720 * time.Hour, "1.5d": 36 * time.Hour} {
		if got, err := ParseRetention(in); err != nil || got != want {
			t.Errorf("%s: %v %v, want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "d", "-3d", "30 days", "0h", "xw"} {
		if _, err := ParseRetention(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// The estimate's arithmetic on figures chosen by hand.
func TestEstimate(t *testing.T) {
	m := &Measured{Cores: 2, LogBytesSent: 1000, LogBytesStored: 100, SpanBytesSent: 500, SpanBytesStored: 50,
		IngestRowsPerSecond: 20000, PeakRSSBytes: 4 << 30, OpenSearchLogBytes: 600, OpenSearchSpanBytes: 400, OpenSearchDocsPerSecond: 2000}
	e, err := m.Estimate(Load{LogsPerSecond: 10000, SpansPerSecond: 10000, Retention: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if e.IngestMBps != 15 { // 10k x 1000 B + 10k x 500 B
		t.Errorf("ingest %v MB/s, want 15", e.IngestMBps)
	}
	if e.RuleOfThumbCores != 2 {
		t.Errorf("rule of thumb %d cores, want 2 (15 MB/s over 10 MB/s per vCPU, rounded up)", e.RuleOfThumbCores)
	}
	if e.Cores != 4 { // 20k records/s over 10k per core, x2 headroom
		t.Errorf("%d cores, want 4", e.Cores)
	}
	if e.MemoryBytes != 8<<30 { // 2 GiB per core x 4
		t.Errorf("memory %v, want 8 GiB", e.MemoryBytes)
	}
	wantDisk := (10000*100 + 10000*50) * 86400.0 / DiskFill
	if math.Abs(e.DiskBytes-wantDisk) > 1 {
		t.Errorf("disk %v, want %v", e.DiskBytes, wantDisk)
	}
	wantOS := (10000*600 + 10000*400) * 86400.0 * 2 / OpenSearchDiskFill
	if math.Abs(e.OpenSearchDiskBytes-wantOS) > 1 || e.OpenSearchCores != 40 {
		t.Errorf("OpenSearch %v bytes, %d cores; want %v, 40", e.OpenSearchDiskBytes, e.OpenSearchCores, wantOS)
	}
	if _, err := m.Estimate(Load{Retention: time.Hour}); err == nil {
		t.Error("no load accepted")
	}
}

// The embedded figures are a complete measurement, and the report says
// which run they come from.
func TestBuiltin(t *testing.T) {
	m, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	if m.LogBytesStored <= 0 || m.SpanBytesStored <= 0 || m.LogBytesSent <= m.LogBytesStored || m.Command == "" || m.Date == "" {
		t.Fatalf("measured.json incomplete: %+v", m)
	}
	l := Load{LogsPerSecond: 50000, SpansPerSecond: 20000, Retention: 30 * 24 * time.Hour}
	e, err := m.Estimate(l)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	m.Write(&b, l, e)
	for _, want := range []string{"obsplane (measured)", "ClickStack rule of thumb", "OpenSearch, same load", m.Date, m.Command} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
	t.Log("\n" + b.String())
}
