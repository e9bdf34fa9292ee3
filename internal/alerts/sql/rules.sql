{{/* Alert rules and their evaluation state, beside the telemetry in the
configured database. A rule is named within its namespace: the key is
(Namespace, Name). ReplacingMergeTree keeps the newest Version of each key;
reads use FINAL so they never see an old version; a delete is a tombstone
(Deleted = 1). .Q.Tables names the pair (the logs adapter's rules and the
metrics adapter's live in tables of their own, as each upstream module
keeps its own). Metric is a metric rule's source.metric, empty for a log
rule. The logs adapter's tables of releases that keyed rules by Name alone
(.Q.Legacy) are copied over once, by copy_legacy_*. Rendered with
store.Stmt: .DB, .Bind. */}}

{{define "create_database"}}CREATE DATABASE IF NOT EXISTS {{.DB}}{{end}}

{{define "create_rules"}}CREATE TABLE IF NOT EXISTS {{.DB}}.{{.Q.Tables.Rules}} (
		Name String,
		Namespace String,
		ProjectUID String,
		EnvironmentUID String,
		ComponentUID String,
		Query String,
		Enabled UInt8,
		Window String,
		Interval String,
		Operator LowCardinality(String),
		Threshold Float64,
		BackendID String,
		UpdatedAt DateTime64(3, 'UTC'),
		UpdatedBy String,
		Version UInt64,
		Deleted UInt8 DEFAULT 0,
		Metric LowCardinality(String) DEFAULT ''
	) ENGINE = ReplacingMergeTree(Version, Deleted) ORDER BY (Namespace, Name){{end}}

{{/* Tables created before rules had a metric. */}}
{{define "add_metric"}}ALTER TABLE {{.DB}}.{{.Q.Tables.Rules}} ADD COLUMN IF NOT EXISTS Metric LowCardinality(String) DEFAULT ''{{end}}

{{define "create_state"}}CREATE TABLE IF NOT EXISTS {{.DB}}.{{.Q.Tables.State}} (
		Namespace String,
		Name String,
		State LowCardinality(String),
		EvaluatedAt DateTime64(3, 'UTC'),
		Value Float64,
		LastFiredAt DateTime64(3, 'UTC'),
		LastError String,
		Version UInt64
	) ENGINE = ReplacingMergeTree(Version) ORDER BY (Namespace, Name){{end}}

{{define "legacy_tables"}}SELECT count() AS n FROM system.tables
	WHERE database = {{.Bind "db" "String" .Q.DB}} AND name IN ({{.Bind "lr" "String" .Q.Legacy.Rules}}, {{.Bind "ls" "String" .Q.Legacy.State}}){{end}}

{{define "copy_legacy_rules"}}INSERT INTO {{.DB}}.{{.Q.Tables.Rules}} (Name, Namespace, ProjectUID, EnvironmentUID, ComponentUID, Query, Enabled,
	Window, Interval, Operator, Threshold, BackendID, UpdatedAt, UpdatedBy, Version, Deleted)
	SELECT Name, Namespace, ProjectUID, EnvironmentUID, ComponentUID, Query, Enabled, Window, Interval, Operator, Threshold, BackendID,
	UpdatedAt, UpdatedBy, Version, Deleted FROM {{.DB}}.{{.Q.Legacy.Rules}} FINAL
	WHERE Deleted = 0 AND (Namespace, Name) NOT IN (SELECT Namespace, Name FROM {{.DB}}.{{.Q.Tables.Rules}}){{end}}

{{define "copy_legacy_state"}}INSERT INTO {{.DB}}.{{.Q.Tables.State}} (Namespace, Name, State, EvaluatedAt, Value, LastFiredAt, LastError, Version)
	SELECT r.Namespace, s.Name, s.State, s.EvaluatedAt, s.Value, s.LastFiredAt, s.LastError, s.Version
	FROM {{.DB}}.{{.Q.Legacy.State}} AS s FINAL
	INNER JOIN (SELECT Name, Namespace FROM {{.DB}}.{{.Q.Legacy.Rules}} FINAL WHERE Deleted = 0) AS r ON r.Name = s.Name
	WHERE (r.Namespace, s.Name) NOT IN (SELECT Namespace, Name FROM {{.DB}}.{{.Q.Tables.State}}){{end}}

{{define "rules"}}SELECT Name, Namespace, ProjectUID, EnvironmentUID, ComponentUID, Query, Metric, Enabled, Window, Interval, Operator, Threshold, BackendID,
	toString(UpdatedAt) AS UpdatedAt FROM {{.DB}}.{{.Q.Tables.Rules}} FINAL WHERE Deleted = 0
	{{- with .Q.Name}} AND Name = {{$.Bind "name" "String" .}}{{end}}
	{{- with .Q.Namespace}} AND Namespace = {{$.Bind "ns" "String" .}}{{end}} ORDER BY Namespace, Name{{end}}

{{define "write_rule"}}INSERT INTO {{.DB}}.{{.Q.Tables.Rules}} (Name, Namespace, ProjectUID, EnvironmentUID, ComponentUID, Query, Metric, Enabled,
	Window, Interval, Operator, Threshold, BackendID, UpdatedAt, UpdatedBy, Version, Deleted)
	VALUES ({{.Bind "name" "String" .Q.Rule.Name}}, {{.Bind "ns" "String" .Q.Rule.Namespace}}, {{.Bind "p" "String" .Q.Rule.ProjectUID}},
	{{.Bind "e" "String" .Q.Rule.EnvironmentUID}}, {{.Bind "c" "String" .Q.Rule.ComponentUID}}, {{.Bind "q" "String" .Q.Rule.Query}},
	{{.Bind "metric" "String" .Q.Rule.Metric}}, {{.Bind "en" "UInt8" .Q.Rule.Enabled}}, {{.Bind "w" "String" .Q.Rule.Window}}, {{.Bind "i" "String" .Q.Rule.Interval}},
	{{.Bind "op" "String" .Q.Rule.Operator}}, {{.Bind "t" "Float64" .Q.Rule.Threshold}}, {{.Bind "bid" "String" .Q.Rule.BackendID}},
	{{.Bind "at" "DateTime64(3, 'UTC')" .Q.At}}, {{.Bind "by" "String" .Q.By}}, {{.Bind "v" "UInt64" .Q.Version}}, {{.Bind "d" "UInt8" .Q.Deleted}}){{end}}

{{define "states"}}SELECT Namespace, Name, State, toString(EvaluatedAt) AS EvaluatedAt, Value,
	toString(LastFiredAt) AS LastFiredAt, LastError FROM {{.DB}}.{{.Q.Tables.State}} FINAL{{end}}

{{define "write_state"}}INSERT INTO {{.DB}}.{{.Q.Tables.State}} (Namespace, Name, State, EvaluatedAt, Value, LastFiredAt, LastError, Version)
	VALUES ({{.Bind "ns" "String" .Q.Namespace}}, {{.Bind "n" "String" .Q.Name}}, {{.Bind "s" "String" .Q.State.State}}, {{.Bind "at" "DateTime64(3, 'UTC')" .Q.At}},
	{{.Bind "v" "Float64" .Q.State.Value}}, {{.Bind "f" "DateTime64(3, 'UTC')" .Q.Fired}}, {{.Bind "e" "String" .Q.State.LastError}},
	{{.Bind "ver" "UInt64" .Q.Version}}){{end}}
