// Package sizing estimates the cores, memory and disk obsplane needs for an
// ingest rate and a retention, from figures `make bench` measured on this
// code (measured.json, written by the benchmark's sizing section and embedded
// here), beside ClickStack's published rule of thumb (one vCPU per 10 MB/s
// ingested) and the OpenSearch footprint of the same load.
package sizing

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"text/tabwriter"
	"time"
)

// Measured is what the benchmark measured.
type Measured struct {
	Date    string `json:"date"`
	Machine string `json:"machine"`
	Command string `json:"command"`
	Cores   int    `json:"cores"`
	Logs    int    `json:"logs"`
	Spans   int    `json:"spans"`
	// Bytes per record as sent (JSON) and as stored (compressed, with every
	// table and index the signal fills).
	LogBytesSent    float64 `json:"logBytesSent"`
	LogBytesStored  float64 `json:"logBytesStored"`
	SpanBytesSent   float64 `json:"spanBytesSent"`
	SpanBytesStored float64 `json:"spanBytesStored"`
	// IngestRowsPerSecond is the gateway's end-to-end rate on Cores cores.
	IngestRowsPerSecond float64 `json:"ingestRowsPerSecond"`
	IngestSource        string  `json:"ingestSource"`
	PeakRSSBytes        uint64  `json:"peakRSSBytes"`
	// OpenSearch's primary store bytes per document for the same records,
	// and its indexing rate on the same machine.
	OpenSearchLogBytes      float64 `json:"openSearchLogBytes"`
	OpenSearchSpanBytes     float64 `json:"openSearchSpanBytes"`
	OpenSearchDocsPerSecond float64 `json:"openSearchDocsPerSecond"`
}

//go:embed measured.json
var measuredJSON []byte

// Builtin returns the figures this binary was built with.
func Builtin() (*Measured, error) {
	var m Measured
	if err := json.Unmarshal(measuredJSON, &m); err != nil {
		return nil, fmt.Errorf("sizing: measured.json: %w", err)
	}
	return &m, nil
}

// Load is the input of an estimate.
type Load struct {
	LogsPerSecond, SpansPerSecond float64
	Retention                     time.Duration
}

// Assumptions an estimate states next to its figures.
const (
	// Headroom multiplies the ingest cores: queries, merges and peaks share
	// the machine with ingestion.
	Headroom = 2.0
	// DiskFill is the share of a disk planned to be used; DiskSpaceHigh
	// fires at 80%.
	DiskFill = 0.75
	// MinMemory is the smallest memory planned for a node.
	MinMemory = 4 << 30
	// OpenSearchReplicas is OpenSearch's default replica count per shard.
	OpenSearchReplicas = 1
	// OpenSearchDiskFill is OpenSearch's default high disk watermark.
	OpenSearchDiskFill = 0.85
)

// Estimate is what a load needs.
type Estimate struct {
	IngestMBps float64
	// obsplane, from the measured rates.
	Cores       int
	MemoryBytes float64
	DiskBytes   float64
	// ClickStack's rule of thumb: one vCPU per 10 MB/s ingested.
	RuleOfThumbCores int
	// OpenSearch for the same documents: disk with its default replica;
	// cores from its measured indexing rate (0 when not measured).
	OpenSearchDiskBytes float64
	OpenSearchCores     int
}

// Estimate computes what l needs.
func (m *Measured) Estimate(l Load) (Estimate, error) {
	if l.LogsPerSecond < 0 || l.SpansPerSecond < 0 || l.LogsPerSecond+l.SpansPerSecond == 0 {
		return Estimate{}, fmt.Errorf("sizing: give a positive --logs-per-second or --spans-per-second")
	}
	if l.Retention <= 0 {
		return Estimate{}, fmt.Errorf("sizing: give a positive --retention")
	}
	if m.LogBytesStored <= 0 || m.SpanBytesStored <= 0 {
		return Estimate{}, fmt.Errorf("sizing: measured.json has no stored bytes per record; run make bench")
	}
	var e Estimate
	secs := l.Retention.Seconds()
	e.IngestMBps = (l.LogsPerSecond*m.LogBytesSent + l.SpansPerSecond*m.SpanBytesSent) / 1e6
	e.RuleOfThumbCores = int(math.Max(1, math.Ceil(e.IngestMBps/10)))
	e.DiskBytes = (l.LogsPerSecond*m.LogBytesStored + l.SpansPerSecond*m.SpanBytesStored) * secs / DiskFill
	if m.IngestRowsPerSecond > 0 && m.Cores > 0 {
		perCore := m.IngestRowsPerSecond / float64(m.Cores)
		e.Cores = int(math.Max(2, math.Ceil((l.LogsPerSecond+l.SpansPerSecond)/perCore*Headroom)))
		e.MemoryBytes = math.Max(MinMemory, float64(m.PeakRSSBytes)/float64(m.Cores)*float64(e.Cores))
	}
	docs := l.LogsPerSecond + l.SpansPerSecond
	if m.OpenSearchLogBytes > 0 && m.OpenSearchSpanBytes > 0 {
		e.OpenSearchDiskBytes = (l.LogsPerSecond*m.OpenSearchLogBytes + l.SpansPerSecond*m.OpenSearchSpanBytes) * secs * (1 + OpenSearchReplicas) / OpenSearchDiskFill
	}
	if m.OpenSearchDocsPerSecond > 0 && m.Cores > 0 {
		e.OpenSearchCores = int(math.Max(2, math.Ceil(docs/(m.OpenSearchDocsPerSecond/float64(m.Cores))*Headroom)))
	}
	return e, nil
}

func gib(b float64) string { return fmt.Sprintf("%.1f GiB", b/(1<<30)) }

// Write prints the estimate for l with the figures it came from.
func (m *Measured) Write(w io.Writer, l Load, e Estimate) {
	fmt.Fprintf(w, "load: %.0f logs/s, %.0f spans/s (%.2f MB/s as JSON), retention %.4g days\n\n", l.LogsPerSecond, l.SpansPerSecond, e.IngestMBps, l.Retention.Hours()/24)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\tcores\tmemory\tdisk")
	na := "not measured"
	cores, mem := na, na
	if e.Cores > 0 {
		cores, mem = fmt.Sprint(e.Cores), gib(e.MemoryBytes)
	}
	fmt.Fprintf(tw, "obsplane (measured)\t%s\t%s\t%s\n", cores, mem, gib(e.DiskBytes))
	fmt.Fprintf(tw, "ClickStack rule of thumb (1 vCPU per 10 MB/s)\t%d\t\t\n", e.RuleOfThumbCores)
	osCores, osDisk := na, na
	if e.OpenSearchCores > 0 {
		osCores = fmt.Sprint(e.OpenSearchCores)
	}
	if e.OpenSearchDiskBytes > 0 {
		osDisk = gib(e.OpenSearchDiskBytes)
	}
	fmt.Fprintf(tw, "OpenSearch, same load (measured)\t%s\t\t%s\n", osCores, osDisk)
	_ = tw.Flush()
	fmt.Fprintf(w, "\nFrom `make bench` of %s (%s): a log %.0f bytes sent, %.1f stored; a span %.0f sent, %.1f stored",
		m.Date, m.Machine, m.LogBytesSent, m.LogBytesStored, m.SpanBytesSent, m.SpanBytesStored)
	if m.IngestRowsPerSecond > 0 {
		fmt.Fprintf(w, "; ingest %.0f records/s on %d cores (%s), peak memory %d MiB", m.IngestRowsPerSecond, m.Cores, m.IngestSource, m.PeakRSSBytes>>20)
	}
	if m.OpenSearchLogBytes > 0 {
		fmt.Fprintf(w, "; OpenSearch %.0f bytes per log and %.0f per span stored", m.OpenSearchLogBytes, m.OpenSearchSpanBytes)
	}
	if m.OpenSearchDocsPerSecond > 0 {
		fmt.Fprintf(w, ", %.0f documents/s indexed", m.OpenSearchDocsPerSecond)
	}
	fmt.Fprintf(w, ".\nAssumptions: cores = records/s over the measured rate per core x %.0f (queries, merges, peaks); memory = the benchmark's peak per core x cores, at least %s; disk = stored bytes x retention, planned to %.0f%% full (DiskSpaceHigh fires at 80%%), one copy (a replicated cluster multiplies it); OpenSearch with its default %d replica and %.0f%% disk watermark. Measured with: %s\n",
		Headroom, gib(MinMemory), DiskFill*100, OpenSearchReplicas, OpenSearchDiskFill*100, m.Command)
}

// ParseRetention reads a retention: days (30d), weeks (2w) or a Go duration
// (720h).
func ParseRetention(s string) (time.Duration, error) {
	if n := len(s); n > 1 && (s[n-1] == 'd' || s[n-1] == 'w') {
		var v float64
		if _, err := fmt.Sscanf(s[:n-1], "%g", &v); err != nil || v <= 0 || math.IsInf(v, 0) {
			return 0, fmt.Errorf("--retention %q: want e.g. 30d, 2w or 720h", s)
		}
		unit := 24 * time.Hour
		if s[n-1] == 'w' {
			unit *= 7
		}
		return time.Duration(v * float64(unit)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("--retention %q: want e.g. 30d, 2w or 720h", s)
	}
	return d, nil
}
