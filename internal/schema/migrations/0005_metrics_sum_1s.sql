-- Per-second aggregates of otel_metrics_sum (whitepaper 2.2), so dashboards
-- over long ranges read one row per series and second instead of every
-- point. Rows are keyed by a hash of Attributes because a Map cannot be part
-- of a sort key; Attributes itself rides along. For cumulative counters Max
-- is the counter's value at the end of the second.
CREATE TABLE IF NOT EXISTS {{local "metrics_sum_1s_agg"}} {{on_cluster}} (
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    MetricName LowCardinality(String) CODEC(ZSTD(1)),
    AttributesHash UInt64 CODEC(ZSTD(1)),
    TimeUnix DateTime CODEC(Delta, ZSTD(1)),
    Attributes SimpleAggregateFunction(any, Map(String, String)) CODEC(ZSTD(1)),
    MetricUnit SimpleAggregateFunction(any, String) CODEC(ZSTD(1)),
    Sum SimpleAggregateFunction(sum, Float64) CODEC(ZSTD(1)),
    Count SimpleAggregateFunction(sum, UInt64) CODEC(ZSTD(1)),
    Min SimpleAggregateFunction(min, Float64) CODEC(ZSTD(1)),
    Max SimpleAggregateFunction(max, Float64) CODEC(ZSTD(1))
) ENGINE = {{engine "AggregatingMergeTree"}}
PARTITION BY toDate(TimeUnix)
ORDER BY (ServiceName, MetricName, toStartOfHour(TimeUnix), AttributesHash, TimeUnix)
{{ttl "toDateTime(TimeUnix)"}}
{{settings}};

{{distributed "metrics_sum_1s_agg"}};

-- src qualifies the source columns, which the aggregates' aliases would
-- otherwise shadow.
CREATE MATERIALIZED VIEW IF NOT EXISTS {{public "metrics_sum_1s_mv"}} {{on_cluster}}
TO {{public "metrics_sum_1s_agg"}}
AS SELECT
    ServiceName,
    MetricName,
    cityHash64(src.Attributes) AS AttributesHash,
    TimeUnix,
    any(src.Attributes) AS Attributes,
    any(MetricUnit) AS MetricUnit,
    sum(Value) AS Sum,
    count() AS Count,
    min(Value) AS Min,
    max(Value) AS Max
FROM {{local "otel_metrics_sum"}} AS src
GROUP BY ServiceName, MetricName, AttributesHash, TimeUnix;
