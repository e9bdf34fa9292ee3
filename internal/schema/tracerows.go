package schema

import (
	"time"

	"github.com/openchoreo/obsplane/internal/store"
)

// TraceRows are otel_traces rows by column, in the contrib exporter's order
// and types. Like LogRows, every writer of otel_traces (the gateway's
// exporter, the OpenSearch backfill) fills one, so the insert layout stands
// in one place. M is the attribute map's Go type.
type TraceRows[M any] struct {
	Timestamp          []time.Time
	TraceID            []string
	SpanID             []string
	ParentSpanID       []string
	TraceState         []string
	SpanName           []string
	SpanKind           []string
	ServiceName        []string
	ResourceAttributes []M
	ScopeName          []string
	ScopeVersion       []string
	SpanAttributes     []M
	Duration           []uint64
	StatusCode         []string
	StatusMessage      []string
	EventsTimestamp    [][]time.Time
	EventsName         [][]string
	EventsAttributes   [][]M
	LinksTraceID       [][]string
	LinksSpanID        [][]string
	LinksTraceState    [][]string
	LinksAttributes    [][]M
}

// TraceRow is one row of TraceRows. Events and links are parallel slices,
// as the Nested columns hold them.
type TraceRow[M any] struct {
	Timestamp                                  time.Time
	TraceID, SpanID, ParentSpanID, TraceState  string
	SpanName, SpanKind, ServiceName            string
	ResourceAttributes                         M
	ScopeName, ScopeVersion                    string
	SpanAttributes                             M
	Duration                                   uint64
	StatusCode, StatusMessage                  string
	EventsTimestamp                            []time.Time
	EventsName                                 []string
	EventsAttributes                           []M
	LinksTraceID, LinksSpanID, LinksTraceState []string
	LinksAttributes                            []M
}

// NewTraceRows returns TraceRows with room for n rows.
func NewTraceRows[M any](n int) *TraceRows[M] {
	s := func() []string { return make([]string, 0, n) }
	m := func() []M { return make([]M, 0, n) }
	ss := func() [][]string { return make([][]string, 0, n) }
	return &TraceRows[M]{
		Timestamp: make([]time.Time, 0, n), TraceID: s(), SpanID: s(), ParentSpanID: s(), TraceState: s(),
		SpanName: s(), SpanKind: s(), ServiceName: s(), ResourceAttributes: m(), ScopeName: s(), ScopeVersion: s(),
		SpanAttributes: m(), Duration: make([]uint64, 0, n), StatusCode: s(), StatusMessage: s(),
		EventsTimestamp: make([][]time.Time, 0, n), EventsName: ss(), EventsAttributes: make([][]M, 0, n),
		LinksTraceID: ss(), LinksSpanID: ss(), LinksTraceState: ss(), LinksAttributes: make([][]M, 0, n),
	}
}

// Len is the number of rows.
func (c *TraceRows[M]) Len() int { return len(c.Timestamp) }

// Append adds r. Nil event and link slices become empty arrays.
func (c *TraceRows[M]) Append(r TraceRow[M]) {
	c.Timestamp = append(c.Timestamp, r.Timestamp)
	c.TraceID = append(c.TraceID, r.TraceID)
	c.SpanID = append(c.SpanID, r.SpanID)
	c.ParentSpanID = append(c.ParentSpanID, r.ParentSpanID)
	c.TraceState = append(c.TraceState, r.TraceState)
	c.SpanName = append(c.SpanName, r.SpanName)
	c.SpanKind = append(c.SpanKind, r.SpanKind)
	c.ServiceName = append(c.ServiceName, r.ServiceName)
	c.ResourceAttributes = append(c.ResourceAttributes, r.ResourceAttributes)
	c.ScopeName = append(c.ScopeName, r.ScopeName)
	c.ScopeVersion = append(c.ScopeVersion, r.ScopeVersion)
	c.SpanAttributes = append(c.SpanAttributes, r.SpanAttributes)
	c.Duration = append(c.Duration, r.Duration)
	c.StatusCode = append(c.StatusCode, r.StatusCode)
	c.StatusMessage = append(c.StatusMessage, r.StatusMessage)
	c.EventsTimestamp = append(c.EventsTimestamp, nonNilSlice(r.EventsTimestamp))
	c.EventsName = append(c.EventsName, nonNilSlice(r.EventsName))
	c.EventsAttributes = append(c.EventsAttributes, nonNilSlice(r.EventsAttributes))
	c.LinksTraceID = append(c.LinksTraceID, nonNilSlice(r.LinksTraceID))
	c.LinksSpanID = append(c.LinksSpanID, nonNilSlice(r.LinksSpanID))
	c.LinksTraceState = append(c.LinksTraceState, nonNilSlice(r.LinksTraceState))
	c.LinksAttributes = append(c.LinksAttributes, nonNilSlice(r.LinksAttributes))
}

func nonNilSlice[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Batch is the insert of the rows into database.table.
func (c *TraceRows[M]) Batch(database, table string) *store.Batch {
	return &store.Batch{
		Database: database,
		Table:    table,
		Rows:     len(c.Timestamp),
		Columns: []store.Column{
			{Name: "Timestamp", Type: "DateTime64(9)", Values: c.Timestamp},
			{Name: "TraceId", Type: "String", Values: c.TraceID},
			{Name: "SpanId", Type: "String", Values: c.SpanID},
			{Name: "ParentSpanId", Type: "String", Values: c.ParentSpanID},
			{Name: "TraceState", Type: "String", Values: c.TraceState},
			{Name: "SpanName", Type: "LowCardinality(String)", Values: c.SpanName},
			{Name: "SpanKind", Type: "LowCardinality(String)", Values: c.SpanKind},
			{Name: "ServiceName", Type: "LowCardinality(String)", Values: c.ServiceName},
			{Name: "ResourceAttributes", Type: MapType, Values: c.ResourceAttributes},
			{Name: "ScopeName", Type: "String", Values: c.ScopeName},
			{Name: "ScopeVersion", Type: "String", Values: c.ScopeVersion},
			{Name: "SpanAttributes", Type: MapType, Values: c.SpanAttributes},
			{Name: "Duration", Type: "UInt64", Values: c.Duration},
			{Name: "StatusCode", Type: "LowCardinality(String)", Values: c.StatusCode},
			{Name: "StatusMessage", Type: "String", Values: c.StatusMessage},
			{Name: "Events.Timestamp", Type: "Array(DateTime64(9))", Values: c.EventsTimestamp},
			{Name: "Events.Name", Type: "Array(LowCardinality(String))", Values: c.EventsName},
			{Name: "Events.Attributes", Type: "Array(" + MapType + ")", Values: c.EventsAttributes},
			{Name: "Links.TraceId", Type: "Array(String)", Values: c.LinksTraceID},
			{Name: "Links.SpanId", Type: "Array(String)", Values: c.LinksSpanID},
			{Name: "Links.TraceState", Type: "Array(String)", Values: c.LinksTraceState},
			{Name: "Links.Attributes", Type: "Array(" + MapType + ")", Values: c.LinksAttributes},
		},
	}
}
