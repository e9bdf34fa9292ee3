package migrate

import (
	"context"
	"fmt"
	"time"

	"github.com/openchoreo/obsplane/internal/opensearch"
	"github.com/openchoreo/obsplane/internal/store"
)

// Reading stored rows back into the records internal/opensearch maps to and
// from documents: what syncback writes into OpenSearch, and what tests
// compare with OpenSearch's documents.

const logColumns = "Timestamp, TraceId, SpanId, SeverityText, SeverityNumber, ServiceName, Body, ScopeName, ResourceAttributes, LogAttributes"

type logRow struct {
	Timestamp      string            `json:"Timestamp"`
	TraceID        string            `json:"TraceId"`
	SpanID         string            `json:"SpanId"`
	SeverityText   string            `json:"SeverityText"`
	SeverityNumber uint8             `json:"SeverityNumber"`
	ServiceName    string            `json:"ServiceName"`
	Body           string            `json:"Body"`
	ScopeName      string            `json:"ScopeName"`
	Resource       map[string]string `json:"ResourceAttributes"`
	Attributes     map[string]string `json:"LogAttributes"`
}

// parseCHTime reads a DateTime64(9) rendered in UTC.
func parseCHTime(s string) (time.Time, error) {
	t, err := time.ParseInLocation("2006-01-02 15:04:05.999999999", s, time.UTC)
	if err != nil {
		return time.Time{}, fmt.Errorf("stored time %q: %w", s, err)
	}
	return t, nil
}

func (r logRow) record() (opensearch.LogRecord, error) {
	ts, err := parseCHTime(r.Timestamp)
	if err != nil {
		return opensearch.LogRecord{}, err
	}
	return opensearch.LogRecord{Timestamp: ts, TraceID: r.TraceID, SpanID: r.SpanID, SeverityText: r.SeverityText,
		SeverityNumber: r.SeverityNumber, ServiceName: r.ServiceName, Body: r.Body, ScopeName: r.ScopeName,
		ResourceAttributes: nonNilMap(r.Resource), LogAttributes: nonNilMap(r.Attributes)}, nil
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

const spanColumns = "Timestamp, TraceId, SpanId, ParentSpanId, TraceState, SpanName, SpanKind, ServiceName, ResourceAttributes, ScopeName, ScopeVersion, SpanAttributes, Duration, StatusCode, StatusMessage, " +
	"`Events.Timestamp` AS EventsTimestamp, `Events.Name` AS EventsName, `Events.Attributes` AS EventsAttributes, " +
	"`Links.TraceId` AS LinksTraceId, `Links.SpanId` AS LinksSpanId, `Links.TraceState` AS LinksTraceState, `Links.Attributes` AS LinksAttributes"

type spanRow struct {
	Timestamp        string              `json:"Timestamp"`
	TraceID          string              `json:"TraceId"`
	SpanID           string              `json:"SpanId"`
	ParentSpanID     string              `json:"ParentSpanId"`
	TraceState       string              `json:"TraceState"`
	Name             string              `json:"SpanName"`
	Kind             string              `json:"SpanKind"`
	ServiceName      string              `json:"ServiceName"`
	Resource         map[string]string   `json:"ResourceAttributes"`
	ScopeName        string              `json:"ScopeName"`
	ScopeVersion     string              `json:"ScopeVersion"`
	Attributes       map[string]string   `json:"SpanAttributes"`
	Duration         uint64              `json:"Duration"`
	StatusCode       string              `json:"StatusCode"`
	StatusMessage    string              `json:"StatusMessage"`
	EventsTimestamp  []string            `json:"EventsTimestamp"`
	EventsName       []string            `json:"EventsName"`
	EventsAttributes []map[string]string `json:"EventsAttributes"`
	LinksTraceID     []string            `json:"LinksTraceId"`
	LinksSpanID      []string            `json:"LinksSpanId"`
	LinksTraceState  []string            `json:"LinksTraceState"`
	LinksAttributes  []map[string]string `json:"LinksAttributes"`
}

func (r spanRow) record() (opensearch.SpanRecord, error) {
	start, err := parseCHTime(r.Timestamp)
	if err != nil {
		return opensearch.SpanRecord{}, err
	}
	rec := opensearch.SpanRecord{TraceID: r.TraceID, SpanID: r.SpanID, ParentSpanID: r.ParentSpanID, Name: r.Name, Kind: r.Kind,
		Start: start, End: start.Add(time.Duration(r.Duration)), StatusCode: r.StatusCode, StatusMessage: r.StatusMessage,
		ServiceName: r.ServiceName, Attributes: nonNilMap(r.Attributes), Resource: nonNilMap(r.Resource),
		ScopeName: r.ScopeName, ScopeVersion: r.ScopeVersion, TraceState: r.TraceState}
	for i := range r.EventsName {
		ev := opensearch.SpanEvent{Name: r.EventsName[i]}
		if i < len(r.EventsTimestamp) {
			if ev.Time, err = parseCHTime(r.EventsTimestamp[i]); err != nil {
				return rec, err
			}
		}
		if i < len(r.EventsAttributes) {
			ev.Attributes = nonNilMap(r.EventsAttributes[i])
		}
		rec.Events = append(rec.Events, ev)
	}
	for i := range r.LinksTraceID {
		ln := opensearch.SpanLink{TraceID: r.LinksTraceID[i]}
		if i < len(r.LinksSpanID) {
			ln.SpanID = r.LinksSpanID[i]
		}
		if i < len(r.LinksTraceState) {
			ln.TraceState = r.LinksTraceState[i]
		}
		if i < len(r.LinksAttributes) {
			ln.Attributes = nonNilMap(r.LinksAttributes[i])
		}
		rec.Links = append(rec.Links, ln)
	}
	return rec, nil
}

// Stored is one stored row as a record: Log for logs and events, Span for
// traces.
type Stored struct {
	Log  opensearch.LogRecord
	Span opensearch.SpanRecord
}

// EachStored calls f for every row of signal s in [start, end), oldest
// first.
func EachStored(ctx context.Context, st store.Store, db string, s Signal, start, end time.Time, f func(Stored) error) error {
	cols := logColumns
	if s == Traces {
		cols = spanColumns
	}
	q := "SELECT " + cols + " FROM " + store.QuoteIdent(db) + "." + table(s) +
		" WHERE Timestamp >= {start:DateTime64(9)} AND Timestamp < {end:DateTime64(9)} AND " + rowFilter(s) + " ORDER BY Timestamp"
	return store.Each(ctx, st, q, store.Params{"start": chTime(start), "end": chTime(end)}, func(rows store.Rows) error {
		if s == Traces {
			var r spanRow
			if err := rows.Scan(&r); err != nil {
				return err
			}
			rec, err := r.record()
			if err != nil {
				return err
			}
			return f(Stored{Span: rec})
		}
		var r logRow
		if err := rows.Scan(&r); err != nil {
			return err
		}
		rec, err := r.record()
		if err != nil {
			return err
		}
		return f(Stored{Log: rec})
	})
}
