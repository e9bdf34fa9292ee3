-- The migration toolkit's own tables (package migrate): backfill
-- checkpoints, the documents a backfill could not convert, validation
-- results, and the lock that keeps two backfills (or syncbacks) from
-- running at once. docs/MIGRATE.md describes how they make a backfill
-- exactly once.

-- One row per write of a slice's checkpoint; the highest Version of a
-- (Unit, Slice) is its state. Version grows with every write of the slice
-- (documents read * 2 + done), so the newest checkpoint wins even when two
-- writes share a millisecond. A checkpoint is written only after the
-- inserts up to it were acknowledged.
CREATE TABLE IF NOT EXISTS {{local "obsplane_backfill_checkpoints"}} {{on_cluster}} (
    Unit String,
    Signal LowCardinality(String),
    Slice UInt32,
    Slices UInt32,
    PageSize UInt32,
    After Int64,
    Read UInt64,
    Inserted UInt64,
    Rejected UInt64,
    Skipped UInt64,
    Done UInt8,
    Version UInt64,
    RunID String,
    UpdatedAt DateTime64(3) DEFAULT now64(3)
) ENGINE = {{engine "ReplacingMergeTree" "Version"}}
ORDER BY (Unit, Slice);

{{distributed "obsplane_backfill_checkpoints"}};

-- Documents that could not become rows, one row per document (a rerun that
-- meets the same document again replaces its row). Reason is a short
-- category (bad-timestamp, not-an-object, ...); Error the full message;
-- Source the document as OpenSearch returned it.
CREATE TABLE IF NOT EXISTS {{local "obsplane_backfill_rejected"}} {{on_cluster}} (
    IndexName String,
    ID String,
    Signal LowCardinality(String),
    Reason LowCardinality(String),
    Error String,
    Source String,
    RunID String,
    At DateTime64(3) DEFAULT now64(3)
) ENGINE = {{engine "ReplacingMergeTree" "At"}}
ORDER BY (IndexName, ID);

{{distributed "obsplane_backfill_rejected"}};

-- Every validation run's result, for the cutover check and the console.
CREATE TABLE IF NOT EXISTS {{local "obsplane_validations"}} {{on_cluster}} (
    RunID String,
    StartedAt DateTime64(3),
    FinishedAt DateTime64(3),
    Passed UInt8,
    Samples UInt32,
    SamplesOverDrift UInt32,
    DriftRatePercent Float64,
    MaxDriftPercent Float64,
    MaxOverallDriftPercent Float64,
    Report String
) ENGINE = {{engine "MergeTree"}}
ORDER BY StartedAt;

{{distributed "obsplane_validations"}};

-- The lock of a migrate command (backfill, syncback): one acquire row per
-- epoch, inserted with a deduplication token derived from the epoch so of
-- two would-be holders the engine keeps the first; renew rows push
-- ExpiresAt on; a release row frees it. Times are the engine's. On a
-- cluster the rows of two racers may land on different shards; the one
-- read back first (the earliest) holds the lock either way.
CREATE TABLE IF NOT EXISTS {{local "obsplane_migrate_locks"}} {{on_cluster}} (
    Name LowCardinality(String),
    Epoch UInt64,
    Kind LowCardinality(String),
    Holder String,
    Host String,
    PID UInt32,
    At DateTime64(3) DEFAULT now64(3),
    ExpiresAt DateTime64(3)
) ENGINE = {{engine "MergeTree"}}
ORDER BY (Name, Epoch, At)
{{settings}};

{{distributed "obsplane_migrate_locks"}};
