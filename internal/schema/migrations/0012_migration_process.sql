-- The migration as one process (package migrate/state, docs/MIGRATE.md,
-- "The migration process"): where it stands, how it got there, and the
-- validation results the cutover is guarded by.

-- Every phase transition, append only. A transition writes a "started" row
-- before its side effects and a "done" or "aborted" row with the same Seq
-- after them, so a process killed in between leaves a started row alone:
-- the next command sees it as pending and continues or rolls it back. The
-- phase is the To of the newest done transition (Off when there is none).
-- Seq is taken under the store lock "migration", so it is unique.
CREATE TABLE IF NOT EXISTS {{local "obsplane_migration_transitions"}} {{on_cluster}} (
    Seq UInt64,
    Status LowCardinality(String),
    FromPhase LowCardinality(String),
    ToPhase LowCardinality(String),
    Actor String,
    Reason String,
    Detail Map(String, String),
    Host String,
    At DateTime64(3)
) ENGINE = {{engine "MergeTree"}}
ORDER BY (Seq, At);

{{distributed "obsplane_migration_transitions"}};

-- One row per `migrate validate` run: passed or not, the largest drift of
-- any sample (overall or of a namespace), and each namespace's largest
-- drift when the run compared per namespace. The cutover refuses unless the
-- newest row passed and is recent enough; the console charts DriftPercent.
CREATE TABLE IF NOT EXISTS {{local "obsplane_migration_validations"}} {{on_cluster}} (
    RunID String,
    At DateTime64(3),
    Passed UInt8,
    DriftPercent Float64,
    DriftRatePercent Float64,
    Samples UInt32,
    PerNamespace Map(String, Float64),
    Phase LowCardinality(String),
    Actor String
) ENGINE = {{engine "MergeTree"}}
ORDER BY At;

{{distributed "obsplane_migration_validations"}};

-- The documents an index held when its backfill started, beside each slice
-- checkpoint, so progress per index (DocsDone of Docs) can be read from the
-- store alone. 0 in rows written before this column existed.
ALTER TABLE {{local "obsplane_backfill_checkpoints"}} {{on_cluster}}
    ADD COLUMN IF NOT EXISTS Docs UInt64 DEFAULT 0;

{{if cluster}}ALTER TABLE {{public "obsplane_backfill_checkpoints"}} {{on_cluster}} ADD COLUMN IF NOT EXISTS Docs UInt64 DEFAULT 0;{{end}}
