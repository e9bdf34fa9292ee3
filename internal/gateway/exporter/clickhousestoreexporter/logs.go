package clickhousestoreexporter

import (
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/openchoreo/obsplane/internal/store"
)

// logsBatch maps logs to otel_logs rows with the values the contrib
// clickhouse exporter v0.161.0 writes: Timestamp falls back to the observed
// time, unset trace/span ids are "", ServiceName is resource service.name,
// Body and every attribute value are Value.AsString, EventName included.
func logsBatch(database, table string, ld plog.Logs) *store.Batch {
	n := ld.LogRecordCount()
	var (
		ts                                 = make([]time.Time, 0, n)
		traceID, spanID                    = make([]string, 0, n), make([]string, 0, n)
		flags, sevNum                      = make([]uint8, 0, n), make([]uint8, 0, n)
		sevText, svc, body                 = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		resURL, scopeURL                   = make([]string, 0, n), make([]string, 0, n)
		scopeName, scopeVersion, eventName = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		resAttrs, scopeAttrs, logAttrs     = make([]column.IterableOrderedMap, 0, n), make([]column.IterableOrderedMap, 0, n), make([]column.IterableOrderedMap, 0, n)
	)
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		res := rl.Resource().Attributes()
		service := serviceName(res)
		ra := toMap(res) // shared by the resource's rows; encoders only read it
		for j := 0; j < rl.ScopeLogs().Len(); j++ {
			sl := rl.ScopeLogs().At(j)
			scope := sl.Scope()
			sa := toMap(scope.Attributes())
			recs := sl.LogRecords()
			for k := 0; k < recs.Len(); k++ {
				r := recs.At(k)
				t := r.Timestamp()
				if t == 0 {
					t = r.ObservedTimestamp()
				}
				ts = append(ts, t.AsTime())
				traceID = append(traceID, traceIDOrEmpty(r.TraceID()))
				spanID = append(spanID, spanIDOrEmpty(r.SpanID()))
				flags = append(flags, uint8(r.Flags()))
				sevText = append(sevText, r.SeverityText())
				sevNum = append(sevNum, uint8(r.SeverityNumber()))
				svc = append(svc, service)
				body = append(body, r.Body().AsString())
				resURL = append(resURL, rl.SchemaUrl())
				resAttrs = append(resAttrs, ra)
				scopeURL = append(scopeURL, sl.SchemaUrl())
				scopeName = append(scopeName, scope.Name())
				scopeVersion = append(scopeVersion, scope.Version())
				scopeAttrs = append(scopeAttrs, sa)
				logAttrs = append(logAttrs, toMap(r.Attributes()))
				eventName = append(eventName, r.EventName())
			}
		}
	}
	return &store.Batch{
		Database: database,
		Table:    table,
		Rows:     len(ts),
		Columns: []store.Column{
			{Name: "Timestamp", Type: "DateTime64(9)", Values: ts},
			{Name: "TraceId", Type: "String", Values: traceID},
			{Name: "SpanId", Type: "String", Values: spanID},
			{Name: "TraceFlags", Type: "UInt8", Values: flags},
			{Name: "SeverityText", Type: "LowCardinality(String)", Values: sevText},
			{Name: "SeverityNumber", Type: "UInt8", Values: sevNum},
			{Name: "ServiceName", Type: "LowCardinality(String)", Values: svc},
			{Name: "Body", Type: "String", Values: body},
			{Name: "ResourceSchemaUrl", Type: "LowCardinality(String)", Values: resURL},
			{Name: "ResourceAttributes", Type: mapType, Values: resAttrs},
			{Name: "ScopeSchemaUrl", Type: "LowCardinality(String)", Values: scopeURL},
			{Name: "ScopeName", Type: "String", Values: scopeName},
			{Name: "ScopeVersion", Type: "LowCardinality(String)", Values: scopeVersion},
			{Name: "ScopeAttributes", Type: mapType, Values: scopeAttrs},
			{Name: "LogAttributes", Type: mapType, Values: logAttrs},
			{Name: "EventName", Type: "String", Values: eventName},
		},
	}
}

const mapType = "Map(LowCardinality(String), String)"
