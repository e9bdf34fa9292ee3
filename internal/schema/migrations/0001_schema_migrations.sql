-- The database and the table that records which migrations ran.
-- Apply reads schema_migrations before it changes anything, so this
-- migration must stay first and must never change.
CREATE DATABASE IF NOT EXISTS {{db}} {{on_cluster}};

CREATE TABLE IF NOT EXISTS {{local "schema_migrations"}} {{on_cluster}} (
    Version UInt32,
    Name String,
    Checksum String,
    AppliedAt DateTime64(3) DEFAULT now64(3)
) ENGINE = {{engine "ReplacingMergeTree" "AppliedAt"}}
ORDER BY Version;

{{distributed "schema_migrations"}};
