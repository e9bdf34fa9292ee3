-- obsplane's own small state: rollout flags and their audit trail (router),
-- and the migration toolkit's phase and checkpoints. They live beside the
-- telemetry so a backup of the database carries them too. None has a TTL:
-- an audit trail and a migration's history are kept until someone drops them.

-- One row per flag; the newest UpdatedAt wins, and Deleted = 1 removes it.
-- Readers use FINAL (or argMax by UpdatedAt).
CREATE TABLE IF NOT EXISTS {{local "obsplane_flags"}} {{on_cluster}} (
    Name String,
    Value String,
    UpdatedAt DateTime64(3) DEFAULT now64(3),
    UpdatedBy String,
    Deleted UInt8 DEFAULT 0
) ENGINE = {{engine "ReplacingMergeTree" "UpdatedAt" "Deleted"}}
ORDER BY Name;

{{distributed "obsplane_flags"}};

-- Every flag change, append only.
CREATE TABLE IF NOT EXISTS {{local "obsplane_flag_audit"}} {{on_cluster}} (
    At DateTime64(3) DEFAULT now64(3),
    Name String,
    OldValue String,
    NewValue String,
    Actor String,
    Reason String
) ENGINE = {{engine "MergeTree"}}
ORDER BY (Name, At);

{{distributed "obsplane_flag_audit"}};

-- One row per migration job key (phase, backfill checkpoint, ...); the
-- newest UpdatedAt wins. State is the job's own JSON.
CREATE TABLE IF NOT EXISTS {{local "obsplane_migration_state"}} {{on_cluster}} (
    Key String,
    Phase LowCardinality(String),
    State String,
    UpdatedAt DateTime64(3) DEFAULT now64(3),
    UpdatedBy String
) ENGINE = {{engine "ReplacingMergeTree" "UpdatedAt"}}
ORDER BY Key;

{{distributed "obsplane_migration_state"}};
