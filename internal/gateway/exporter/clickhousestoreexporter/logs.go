package clickhousestoreexporter

import (
	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/openchoreo/obsplane/internal/schema"
	"github.com/openchoreo/obsplane/internal/store"
)

// logsBatch maps logs to otel_logs rows with the values the contrib
// clickhouse exporter v0.161.0 writes: Timestamp falls back to the observed
// time, unset trace/span ids are "", ServiceName is resource service.name,
// Body and every attribute value are Value.AsString, EventName included.
func logsBatch(database, table string, ld plog.Logs) *store.Batch {
	rows := schema.NewLogRows[column.IterableOrderedMap](ld.LogRecordCount())
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
				rows.Append(schema.LogRow[column.IterableOrderedMap]{
					Timestamp: t.AsTime(), TraceID: traceIDOrEmpty(r.TraceID()), SpanID: spanIDOrEmpty(r.SpanID()),
					TraceFlags: uint8(r.Flags()), SeverityText: r.SeverityText(), SeverityNumber: uint8(r.SeverityNumber()),
					ServiceName: service, Body: r.Body().AsString(), ResourceSchemaURL: rl.SchemaUrl(), ResourceAttributes: ra,
					ScopeSchemaURL: sl.SchemaUrl(), ScopeName: scope.Name(), ScopeVersion: scope.Version(), ScopeAttributes: sa,
					LogAttributes: toMap(r.Attributes()), EventName: r.EventName(),
				})
			}
		}
	}
	return rows.Batch(database, table)
}
