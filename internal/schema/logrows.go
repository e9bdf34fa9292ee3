package schema

import (
	"time"

	"github.com/openchoreo/obsplane/internal/store"
)

// MapType is the ClickHouse type of every attribute map in the ClickStack
// tables.
const MapType = "Map(LowCardinality(String), String)"

// LogRows are otel_logs rows by column: every column the contrib exporter
// writes, in its order, with the schema's types. The tenant columns are left
// out because the table materializes them from ResourceAttributes.
//
// M is the attribute map's Go type: map[string]string, or clickhouse-go's
// column.IterableOrderedMap where the writer keeps the collector's order.
// Every writer of otel_logs (the gateway's exporter, the OpenSearch backfill,
// the benchmarks) fills one of these, so the insert layout stands in one
// place.
type LogRows[M any] struct {
	Timestamp          []time.Time
	TraceID            []string
	SpanID             []string
	TraceFlags         []uint8
	SeverityText       []string
	SeverityNumber     []uint8
	ServiceName        []string
	Body               []string
	ResourceSchemaURL  []string
	ResourceAttributes []M
	ScopeSchemaURL     []string
	ScopeName          []string
	ScopeVersion       []string
	ScopeAttributes    []M
	LogAttributes      []M
	EventName          []string
}

// NewLogRows returns LogRows with room for n rows.
func NewLogRows[M any](n int) *LogRows[M] {
	s := func() []string { return make([]string, 0, n) }
	m := func() []M { return make([]M, 0, n) }
	return &LogRows[M]{
		Timestamp: make([]time.Time, 0, n), TraceID: s(), SpanID: s(), TraceFlags: make([]uint8, 0, n),
		SeverityText: s(), SeverityNumber: make([]uint8, 0, n), ServiceName: s(), Body: s(),
		ResourceSchemaURL: s(), ResourceAttributes: m(), ScopeSchemaURL: s(), ScopeName: s(), ScopeVersion: s(),
		ScopeAttributes: m(), LogAttributes: m(), EventName: s(),
	}
}

// LogRow is one row of LogRows.
type LogRow[M any] struct {
	Timestamp          time.Time
	TraceID, SpanID    string
	TraceFlags         uint8
	SeverityText       string
	SeverityNumber     uint8
	ServiceName, Body  string
	ResourceSchemaURL  string
	ResourceAttributes M
	ScopeSchemaURL     string
	ScopeName          string
	ScopeVersion       string
	ScopeAttributes    M
	LogAttributes      M
	EventName          string
}

// Append adds r.
func (c *LogRows[M]) Append(r LogRow[M]) {
	c.Timestamp = append(c.Timestamp, r.Timestamp)
	c.TraceID = append(c.TraceID, r.TraceID)
	c.SpanID = append(c.SpanID, r.SpanID)
	c.TraceFlags = append(c.TraceFlags, r.TraceFlags)
	c.SeverityText = append(c.SeverityText, r.SeverityText)
	c.SeverityNumber = append(c.SeverityNumber, r.SeverityNumber)
	c.ServiceName = append(c.ServiceName, r.ServiceName)
	c.Body = append(c.Body, r.Body)
	c.ResourceSchemaURL = append(c.ResourceSchemaURL, r.ResourceSchemaURL)
	c.ResourceAttributes = append(c.ResourceAttributes, r.ResourceAttributes)
	c.ScopeSchemaURL = append(c.ScopeSchemaURL, r.ScopeSchemaURL)
	c.ScopeName = append(c.ScopeName, r.ScopeName)
	c.ScopeVersion = append(c.ScopeVersion, r.ScopeVersion)
	c.ScopeAttributes = append(c.ScopeAttributes, r.ScopeAttributes)
	c.LogAttributes = append(c.LogAttributes, r.LogAttributes)
	c.EventName = append(c.EventName, r.EventName)
}

// Batch is the insert of the rows into database.table.
func (c *LogRows[M]) Batch(database, table string) *store.Batch {
	return &store.Batch{
		Database: database,
		Table:    table,
		Rows:     len(c.Timestamp),
		Columns: []store.Column{
			{Name: "Timestamp", Type: "DateTime64(9)", Values: c.Timestamp},
			{Name: "TraceId", Type: "String", Values: c.TraceID},
			{Name: "SpanId", Type: "String", Values: c.SpanID},
			{Name: "TraceFlags", Type: "UInt8", Values: c.TraceFlags},
			{Name: "SeverityText", Type: "LowCardinality(String)", Values: c.SeverityText},
			{Name: "SeverityNumber", Type: "UInt8", Values: c.SeverityNumber},
			{Name: "ServiceName", Type: "LowCardinality(String)", Values: c.ServiceName},
			{Name: "Body", Type: "String", Values: c.Body},
			{Name: "ResourceSchemaUrl", Type: "LowCardinality(String)", Values: c.ResourceSchemaURL},
			{Name: "ResourceAttributes", Type: MapType, Values: c.ResourceAttributes},
			{Name: "ScopeSchemaUrl", Type: "LowCardinality(String)", Values: c.ScopeSchemaURL},
			{Name: "ScopeName", Type: "String", Values: c.ScopeName},
			{Name: "ScopeVersion", Type: "LowCardinality(String)", Values: c.ScopeVersion},
			{Name: "ScopeAttributes", Type: MapType, Values: c.ScopeAttributes},
			{Name: "LogAttributes", Type: MapType, Values: c.LogAttributes},
			{Name: "EventName", Type: "String", Values: c.EventName},
		},
	}
}
