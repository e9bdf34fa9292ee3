-- Service topology: one narrow row per span with its own key and its
-- parent's pre-hashed (cityHash64 of trace and span id), so the topology
-- joins two UInt64 columns instead of reading and hashing the trace and
-- span id strings of every span in the range at query time. Side sorts the
-- table so the join reads only the spans ClickStack's service map pairs: a
-- call received (Server, Consumer: 1) under a call made (Client, Producer:
-- 2). Filled by a view on otel_traces; the spans stored before this
-- migration are copied once below.
CREATE TABLE IF NOT EXISTS {{local "otel_traces_edges"}} {{on_cluster}} (
    Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
    Side UInt8 CODEC(ZSTD(1)),
    SpanKey UInt64 CODEC(ZSTD(1)),
    ParentKey UInt64 CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    Duration UInt64 CODEC(ZSTD(1)),
    IsError UInt8 CODEC(ZSTD(1)),
    -- The tenant columns, so the topology is scoped like every query.
    OpenChoreoNamespace LowCardinality(String) CODEC(ZSTD(1)),
    OpenChoreoProject LowCardinality(String) CODEC(ZSTD(1)),
    OpenChoreoProjectUID LowCardinality(String) CODEC(ZSTD(1)),
    OpenChoreoComponent LowCardinality(String) CODEC(ZSTD(1)),
    OpenChoreoComponentUID LowCardinality(String) CODEC(ZSTD(1)),
    OpenChoreoEnvironment LowCardinality(String) CODEC(ZSTD(1)),
    OpenChoreoEnvironmentUID LowCardinality(String) CODEC(ZSTD(1))
) ENGINE = {{engine "MergeTree"}}
PARTITION BY toDate(Timestamp)
ORDER BY (Side, Timestamp)
{{ttl "toDateTime(Timestamp)"}}
{{settings}};

{{distributed "otel_traces_edges"}};

CREATE MATERIALIZED VIEW IF NOT EXISTS {{public "otel_traces_edges_mv"}} {{on_cluster}}
TO {{public "otel_traces_edges"}}
AS SELECT
    Timestamp,
    multiIf(SpanKind IN ('Server', 'Consumer', 'SPAN_KIND_SERVER', 'SPAN_KIND_CONSUMER'), 1,
        SpanKind IN ('Client', 'Producer', 'SPAN_KIND_CLIENT', 'SPAN_KIND_PRODUCER'), 2, 0) AS Side,
    cityHash64(TraceId, SpanId) AS SpanKey,
    if(ParentSpanId = '', 0, cityHash64(TraceId, ParentSpanId)) AS ParentKey,
    ServiceName,
    Duration,
    StatusCode = 'Error' AS IsError,
    OpenChoreoNamespace, OpenChoreoProject, OpenChoreoProjectUID, OpenChoreoComponent,
    OpenChoreoComponentUID, OpenChoreoEnvironment, OpenChoreoEnvironmentUID
FROM {{local "otel_traces"}};

INSERT INTO {{public "otel_traces_edges"}}
SELECT
    Timestamp,
    multiIf(SpanKind IN ('Server', 'Consumer', 'SPAN_KIND_SERVER', 'SPAN_KIND_CONSUMER'), 1,
        SpanKind IN ('Client', 'Producer', 'SPAN_KIND_CLIENT', 'SPAN_KIND_PRODUCER'), 2, 0),
    cityHash64(TraceId, SpanId),
    if(ParentSpanId = '', 0, cityHash64(TraceId, ParentSpanId)),
    ServiceName,
    Duration,
    StatusCode = 'Error',
    OpenChoreoNamespace, OpenChoreoProject, OpenChoreoProjectUID, OpenChoreoComponent,
    OpenChoreoComponentUID, OpenChoreoEnvironment, OpenChoreoEnvironmentUID
FROM {{public "otel_traces"}};
