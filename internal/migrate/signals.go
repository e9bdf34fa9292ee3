// Package migrate is `obsplane migrate backfill | syncback | validate`:
// bringing OpenChoreo's OpenSearch history into the store exactly once,
// copying what only the store holds back into OpenSearch for a rollback, and
// proving that both sides agree. The design (units of work, checkpoints,
// deduplication tokens, what two overlapping runs do) is in
// docs/MIGRATE.md.
package migrate

import (
	"fmt"
	"strings"
	"time"

	"github.com/openchoreo/obsplane/internal/opensearch"
	"github.com/openchoreo/obsplane/internal/store"
)

// Signal is one kind of OpenSearch data: logs, traces or events.
type Signal string

// The signals, in the order a run handles them.
const (
	Logs   Signal = "logs"
	Traces Signal = "traces"
	Events Signal = "events"
)

// AllSignals lists every signal.
var AllSignals = []Signal{Logs, Traces, Events}

// ParseSignals reads a comma-separated --signals value.
func ParseSignals(s string) ([]Signal, error) {
	var out []Signal
	seen := map[Signal]bool{}
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(strings.ToLower(p))
		if p == "" {
			continue
		}
		sig := Signal(p)
		switch sig {
		case Logs, Traces, Events:
		default:
			return nil, fmt.Errorf("--signals: unknown signal %q (want logs, traces, events)", p)
		}
		if !seen[sig] {
			seen[sig] = true
			out = append(out, sig)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--signals %q names no signal (want logs, traces, events)", s)
	}
	return out, nil
}

// family is one daily index naming of OpenChoreo's layout.
type family struct {
	signal Signal
	prefix string
	layout string // the date after the prefix, a Go layout
}

// families are the indices backfill reads and syncback writes
// (docs/OPENSEARCH.md). Syncback writes the first family of a signal.
var families = []family{
	{Logs, opensearch.ContainerLogsPrefix, "2006-01-02"},
	{Logs, opensearch.LegacyKubernetesPrefix, "2006.01.02"},
	{Traces, opensearch.OtelTracesPrefix, "2006-01-02"},
	{Events, opensearch.K8sEventsPrefix, "2006-01-02"},
}

// familyOf returns the family an index name belongs to and its UTC day.
func familyOf(index string) (family, time.Time, bool) {
	for _, f := range families {
		if !strings.HasPrefix(index, f.prefix) {
			continue
		}
		day, err := time.ParseInLocation(f.layout, index[len(f.prefix):], time.UTC)
		if err != nil {
			continue
		}
		return f, day, true
	}
	return family{}, time.Time{}, false
}

// patterns are the wildcard patterns of a signal's families.
func patterns(s Signal) []string {
	var out []string
	for _, f := range families {
		if f.signal == s {
			out = append(out, f.prefix+"*")
		}
	}
	return out
}

// timeField is the document field OpenSearch holds a signal's time in.
func timeField(s Signal) string {
	if s == Traces {
		return "startTime"
	}
	return "@timestamp"
}

// table is the store table a signal's rows live in.
func table(s Signal) string {
	if s == Traces {
		return "otel_traces"
	}
	return "otel_logs"
}

// rowFilter is the SQL condition that picks a signal's rows from its table:
// events are the otel_logs rows with a k8s.event.reason attribute, as dual
// write and the read backends tell them apart.
func rowFilter(s Signal) string {
	switch s {
	case Logs:
		return "NOT mapContains(LogAttributes, '" + opensearch.AttrEventReason + "')"
	case Events:
		return "mapContains(LogAttributes, '" + opensearch.AttrEventReason + "')"
	}
	return "1"
}

// converted is what a page of documents became.
type converted struct {
	logs     []opensearch.LogRecord
	spans    []opensearch.SpanRecord
	rejected []rejectedDoc
	// skipped counts documents obsplane itself wrote (dual write,
	// syncback): their rows reached the store through the gateway.
	skipped int
	// bytes is the size of the converted sources.
	bytes int
}

func (c *converted) rows() int { return len(c.logs) + len(c.spans) }

type rejectedDoc struct {
	index, id, reason, err string
	source                 []byte
}

// convert maps a page of a signal's documents to rows, with the mapping
// dual write uses (internal/opensearch). includeOwn keeps documents that
// obsplane wrote itself.
func convert(s Signal, hits []opensearch.PageHit, includeOwn bool) *converted {
	c := &converted{}
	for i := range hits {
		h := &hits[i]
		c.bytes += len(h.Source)
		switch s {
		case Traces:
			rec, err := opensearch.DecodeSpanDocument(h.Source)
			if err != nil {
				c.reject(h, err)
				continue
			}
			if !includeOwn && h.ID == opensearch.SpanDocumentID(rec.TraceID, rec.SpanID) {
				c.skipped++
				continue
			}
			c.spans = append(c.spans, rec)
		default:
			// DocumentID is 32 hex digits; Fluent Bit's ids (UUIDs) and
			// OpenSearch's (20 characters) never are, so most documents
			// are not hashed.
			if !includeOwn && len(h.ID) == 32 && h.ID == opensearch.DocumentID(h.Source) {
				c.skipped++
				continue
			}
			decode := opensearch.DecodeLogDocument
			if s == Events {
				decode = opensearch.DecodeEventDocument
			}
			rec, err := decode(h.Source)
			if err != nil {
				c.reject(h, err)
				continue
			}
			c.logs = append(c.logs, rec)
		}
	}
	return c
}

func (c *converted) reject(h *opensearch.PageHit, err error) {
	c.rejected = append(c.rejected, rejectedDoc{index: h.Index, id: h.ID, reason: opensearch.RejectReason(err), err: err.Error(), source: h.Source})
}

// batch is the insert of the converted rows.
func (c *converted) batch(database string, s Signal) *store.Batch {
	if s == Traces {
		return opensearch.SpansBatch(database, c.spans)
	}
	return opensearch.LogsBatch(database, c.logs)
}
