-- otel_logs sorted tenant first: (OpenChoreoNamespace, OpenChoreoComponent,
-- Timestamp). A namespace's or a component's newest lines are then one
-- contiguous run read backwards from its end, instead of a few rows in
-- every granule of the day; and lines of one component sit together, so
-- Body and the attribute maps compress better. The indexes change with it:
--
--   * the log body has one token index, a bloom filter per granule on
--     lower(Body) (what search reads: hasToken(lower(Body), ...)), in place
--     of two text indexes on Body and lower(Body), which took more space
--     than every column together;
--   * the bloom filters on resource and scope attribute keys and values
--     go: resource filters read the materialized columns (tenant columns,
--     pod, namespace), and scope attributes are not searched;
--   * the bloom filters on the namespace and component columns go: the
--     sort key serves them;
--   * ResourceAttributes is compressed with ZSTD(3): 22% smaller than
--     ZSTD(1) on the benchmark's logs, where the Body column gained nothing
--     from it;
--   * a projection keeps line counts per minute, tenant, service and level,
--     so counts and group-bys over whole minutes (what the query compiler
--     emits for time bounds on a minute) read it instead of every line; a
--     lightweight DELETE (an operator erasing a tenant's lines) rebuilds it
--     for the parts it touches, where the engine's default would refuse the
--     DELETE.
--
-- docs/BENCHMARKS.md has the measurements (sizes, insert rate, granules
-- read per query). Every column stays as the exporter creates it.
--
-- A sort key cannot be altered in place, so the rows move to a new table,
-- which then takes otel_logs' name. Every step can run again after a crash
-- at any point: a leftover otel_logs_v10 is dropped first (it is either a
-- partial copy or, after the exchange, the old layout whose rows otel_logs
-- already holds), and otel_logs is whole at every moment. Writers must be
-- stopped while it runs (obsplane serve applies migrations before it
-- starts the gateway); rows written to otel_logs during the copy would be
-- left behind. On a cluster the drops are SYNC, so a rerun can create the
-- replicated table again at the same Keeper path; a single node drops the
-- old table's files in the background (the embedded engine would wait for
-- its other connections' references to the exchanged table forever).
{{if on_cluster}}DROP TABLE IF EXISTS {{public "otel_logs_v10"}} {{on_cluster}} SYNC;{{end}}

DROP TABLE IF EXISTS {{local "otel_logs_v10"}} {{on_cluster}}{{if on_cluster}} SYNC{{end}};

CREATE TABLE {{local "otel_logs_v10"}} {{on_cluster}} AS {{local "otel_logs"}}
ENGINE = {{engine "MergeTree"}}
PARTITION BY toDate(Timestamp)
ORDER BY (OpenChoreoNamespace, OpenChoreoComponent, Timestamp)
{{ttl "toDateTime(Timestamp)"}}
{{settings}};

{{distributed "otel_logs_v10"}};

-- A rerun after the exchange copies the new layout, which has what the
-- statements below add; dropping first makes them add it once.
ALTER TABLE {{local "otel_logs_v10"}} {{on_cluster}}
    DROP INDEX IF EXISTS idx_body,
    DROP INDEX IF EXISTS idx_lower_body,
    DROP INDEX IF EXISTS idx_res_attr_key,
    DROP INDEX IF EXISTS idx_res_attr_value,
    DROP INDEX IF EXISTS idx_scope_attr_key,
    DROP INDEX IF EXISTS idx_scope_attr_value,
    DROP INDEX IF EXISTS idx_oc_namespace,
    DROP INDEX IF EXISTS idx_oc_component,
    DROP PROJECTION IF EXISTS p_minute_counts;

ALTER TABLE {{local "otel_logs_v10"}} {{on_cluster}}
    MODIFY COLUMN ResourceAttributes CODEC(ZSTD(3));

-- 64 KiB of bloom filter per granule of 8,192 lines: about 1% false
-- positives for one token at the token counts of container logs.
ALTER TABLE {{local "otel_logs_v10"}} {{on_cluster}}
    ADD INDEX idx_lower_body lower(Body) TYPE tokenbf_v1(65536, 3, 0) GRANULARITY 1;

ALTER TABLE {{local "otel_logs_v10"}} {{on_cluster}}
    ADD PROJECTION p_minute_counts (
        SELECT toStartOfMinute(Timestamp), OpenChoreoNamespace, OpenChoreoProject, OpenChoreoComponent,
            OpenChoreoEnvironment, ServiceName, SeverityText, count()
        GROUP BY toStartOfMinute(Timestamp), OpenChoreoNamespace, OpenChoreoProject, OpenChoreoComponent,
            OpenChoreoEnvironment, ServiceName, SeverityText
    );

ALTER TABLE {{local "otel_logs_v10"}} {{on_cluster}}
    MODIFY SETTING lightweight_mutation_projection_mode = 'rebuild';

-- The copy reads otel_logs through the public name, so on a cluster every
-- shard's rows are copied once (and spread again); the insert completes on
-- the shards before the statement returns.
INSERT INTO {{public "otel_logs_v10"}} SELECT * FROM {{public "otel_logs"}}{{if on_cluster}} SETTINGS distributed_foreground_insert = 1{{end}};

EXCHANGE TABLES {{local "otel_logs"}} AND {{local "otel_logs_v10"}} {{on_cluster}};

{{if on_cluster}}DROP TABLE IF EXISTS {{public "otel_logs_v10"}} {{on_cluster}} SYNC;{{end}}

DROP TABLE IF EXISTS {{local "otel_logs_v10"}} {{on_cluster}}{{if on_cluster}} SYNC{{end}};
