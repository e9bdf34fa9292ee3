{{/* Alert rules and their evaluation state, beside the telemetry in the
configured database. ReplacingMergeTree keeps the newest Version of each
Name; reads use FINAL so they never see an old version; a delete is a
tombstone (Deleted = 1). Rendered with store.Stmt: .DB, .Bind. */}}

{{define "create_database"}}CREATE DATABASE IF NOT EXISTS {{.DB}}{{end}}

{{define "create_rules"}}CREATE TABLE IF NOT EXISTS {{.DB}}.obsplane_alert_rules (
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
		Deleted UInt8 DEFAULT 0
	) ENGINE = ReplacingMergeTree(Version, Deleted) ORDER BY Name{{end}}

{{define "create_state"}}CREATE TABLE IF NOT EXISTS {{.DB}}.obsplane_alert_state (
		Name String,
		State LowCardinality(String),
		EvaluatedAt DateTime64(3, 'UTC'),
		Value Float64,
		LastFiredAt DateTime64(3, 'UTC'),
		LastError String,
		Version UInt64
	) ENGINE = ReplacingMergeTree(Version) ORDER BY Name{{end}}

{{define "rules"}}SELECT Name, Namespace, ProjectUID, EnvironmentUID, ComponentUID, Query, Enabled, Window, Interval, Operator, Threshold, BackendID,
	toString(UpdatedAt) AS UpdatedAt FROM {{.DB}}.obsplane_alert_rules FINAL WHERE Deleted = 0
	{{- with .Q}} AND Name = {{$.Bind "name" "String" .}}{{end}} ORDER BY Name{{end}}

{{define "write_rule"}}INSERT INTO {{.DB}}.obsplane_alert_rules (Name, Namespace, ProjectUID, EnvironmentUID, ComponentUID, Query, Enabled,
	Window, Interval, Operator, Threshold, BackendID, UpdatedAt, UpdatedBy, Version, Deleted)
	VALUES ({{.Bind "name" "String" .Q.Rule.Name}}, {{.Bind "ns" "String" .Q.Rule.Namespace}}, {{.Bind "p" "String" .Q.Rule.ProjectUID}},
	{{.Bind "e" "String" .Q.Rule.EnvironmentUID}}, {{.Bind "c" "String" .Q.Rule.ComponentUID}}, {{.Bind "q" "String" .Q.Rule.Query}},
	{{.Bind "en" "UInt8" .Q.Rule.Enabled}}, {{.Bind "w" "String" .Q.Rule.Window}}, {{.Bind "i" "String" .Q.Rule.Interval}},
	{{.Bind "op" "String" .Q.Rule.Operator}}, {{.Bind "t" "Float64" .Q.Rule.Threshold}}, {{.Bind "bid" "String" .Q.Rule.BackendID}},
	{{.Bind "at" "DateTime64(3, 'UTC')" .Q.At}}, {{.Bind "by" "String" .Q.By}}, {{.Bind "v" "UInt64" .Q.Version}}, {{.Bind "d" "UInt8" .Q.Deleted}}){{end}}

{{define "states"}}SELECT Name, State, toString(EvaluatedAt) AS EvaluatedAt, Value,
	toString(LastFiredAt) AS LastFiredAt, LastError FROM {{.DB}}.obsplane_alert_state FINAL{{end}}

{{define "write_state"}}INSERT INTO {{.DB}}.obsplane_alert_state (Name, State, EvaluatedAt, Value, LastFiredAt, LastError, Version)
	VALUES ({{.Bind "n" "String" .Q.Name}}, {{.Bind "s" "String" .Q.State.State}}, {{.Bind "at" "DateTime64(3, 'UTC')" .Q.At}},
	{{.Bind "v" "Float64" .Q.State.Value}}, {{.Bind "f" "DateTime64(3, 'UTC')" .Q.Fired}}, {{.Bind "e" "String" .Q.State.LastError}},
	{{.Bind "ver" "UInt64" .Q.Version}}){{end}}
