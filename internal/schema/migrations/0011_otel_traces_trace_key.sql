-- otel_traces sorted by (toStartOfHour(Timestamp), TraceId, Timestamp): a
-- trace's spans sit side by side, so trace by id reads the granule that
-- holds them (the primary key finds the trace id in each hour of the
-- window otel_traces_trace_id_ts gives) instead of testing the bloom
-- filter of every granule of the day and reading a granule per service the
-- trace crossed; time-range reads (latency, errors, trace search) still
-- read only the hours they ask for. The bloom filter on TraceId stays, for
-- lookups without a window. docs/BENCHMARKS.md has the measurements.
--
-- As for otel_logs in migration 10, the rows move to a new table that then
-- takes otel_traces' name; every step can run again after a crash at any
-- point, and writers must be stopped while it runs. The views that fill
-- otel_traces_trace_id_ts and otel_traces_edges follow the name, so they
-- fire on the new table; the copy goes to the new table under its own
-- name, which no view watches, so those tables get no second copy.
{{if on_cluster}}DROP TABLE IF EXISTS {{public "otel_traces_v11"}} {{on_cluster}} SYNC;{{end}}

DROP TABLE IF EXISTS {{local "otel_traces_v11"}} {{on_cluster}}{{if on_cluster}} SYNC{{end}};

CREATE TABLE {{local "otel_traces_v11"}} {{on_cluster}} AS {{local "otel_traces"}}
ENGINE = {{engine "MergeTree"}}
PARTITION BY toDate(Timestamp)
ORDER BY (toStartOfHour(Timestamp), TraceId, Timestamp)
{{ttl "toDateTime(Timestamp)"}}
{{settings}};

{{distributed "otel_traces_v11"}};

INSERT INTO {{public "otel_traces_v11"}} SELECT * FROM {{public "otel_traces"}}{{if on_cluster}} SETTINGS distributed_foreground_insert = 1{{end}};

EXCHANGE TABLES {{local "otel_traces"}} AND {{local "otel_traces_v11"}} {{on_cluster}};

{{if on_cluster}}DROP TABLE IF EXISTS {{public "otel_traces_v11"}} {{on_cluster}} SYNC;{{end}}

DROP TABLE IF EXISTS {{local "otel_traces_v11"}} {{on_cluster}}{{if on_cluster}} SYNC{{end}};
