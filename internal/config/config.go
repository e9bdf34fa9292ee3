// Package config holds obsplane's effective configuration: defaults, then the
// YAML file (--config), then OBSPLANE_* environment variables, then flags.
//
// Every setting is one row of the keys table below: its flag name
// (--http-addr), its YAML path (listen.http), its typed field in Config, its
// default and its help text. The environment variable is OBSPLANE_ plus the
// flag name upper-cased with dashes as underscores (OBSPLANE_HTTP_ADDR).
// Values are parsed by the field's type whatever their source: booleans
// (true/false), durations (90s, 15m, 168h), integers, fractions (0.05) and
// byte sizes (2GiB, 512MiB, or plain bytes). Adding a setting is one row in
// keys and one field in Config; flag, variable, YAML key and `obsplane config
// print` follow from the row.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// Off disables a listener when given as its address.
const Off = "off"

// Config is the effective configuration of one obsplane process.
type Config struct {
	DataDir string
	ChdbLib string
	// BackupDir is where the running embedded store may write backups
	// (obsplane backup --server); empty means DataDir/backups.
	BackupDir     string
	ClickHouseDSN string
	// Database holds every table obsplane writes and reads.
	Database    string
	Components  string
	Auth        string
	JWKSURL     string
	AdapterAuth string
	// JWT checks beyond the signature: iss and aud when set, and how the
	// key set is fetched (see auth.JWKSOptions).
	JWT struct {
		Issuer string
		// Audience is comma-separated; a token must carry one of them.
		Audience         string
		JWKSRefresh      time.Duration
		JWKSMinInterval  time.Duration
		JWKSFetchTimeout time.Duration
		JWKSWait         time.Duration
	}
	// AlertWebhookURL receives fired alerts; ObserverURL is the fallback
	// (its /api/v1alpha1/alerts/webhook, as OpenChoreo's module does).
	AlertWebhookURL string
	ObserverURL     string
	LogLevel        string
	LogFormat       string

	Listen struct {
		HTTP           string
		LogsAdapter    string
		TracingAdapter string
		OTLPGRPC       string
		OTLPHTTP       string
		Forward        string
		RemoteWrite    string
		MetricsAdapter string
		ClickHouseHTTP string
		// Limits of every HTTP listener (server.ListenLimits).
		ReadHeaderTimeout time.Duration
		ReadTimeout       time.Duration
		WriteTimeout      time.Duration
		IdleTimeout       time.Duration
		MaxConns          int
		MaxResponseBytes  ByteSize
	}

	// Metrics tunes the metrics adapter's PromQL-equivalent queries.
	Metrics struct {
		// RateWindow is the range of OpenChoreo's rate() selectors.
		RateWindow time.Duration
		// Lookback is how far back an instant value is looked for
		// (Prometheus's --query.lookback-delta).
		Lookback time.Duration
		// MaxPoints is the most steps one series may have.
		MaxPoints int
	}

	Retention struct {
		Hot, Warm, Cold, DeleteAfter time.Duration
	}

	// SchemaStatementTimeout bounds one statement of a schema migration;
	// those that move stored rows to a new layout run as long as the copy.
	SchemaStatementTimeout time.Duration

	// Query bounds every user query. The engine enforces the last three
	// (max_execution_time, max_result_rows, max_memory_usage).
	Query struct {
		MaxRange         time.Duration
		MaxResultRows    int
		MaxExecutionTime time.Duration
		MaxMemory        ByteSize
	}

	// Alerts tunes the alert rule scheduler.
	Alerts struct {
		// Tick is how often the scheduler looks for rules that are due.
		Tick time.Duration
		// Throttle is the least time between two notifications of a rule
		// that keeps firing.
		Throttle time.Duration
	}

	// Console tunes the migration console and GET /api/v1/migration.
	Console struct {
		// PollInterval is how often the console page refreshes.
		PollInterval time.Duration
		// AuditLimit is how many use_clickhouse audit rows a response
		// carries (the rollout audit and the automatic rollbacks in it).
		AuditLimit int
	}

	// OpenSearch is the store being migrated from (OpenChoreo's current
	// logs backend): read by the router, written by dual write.
	OpenSearch struct {
		URL string
	}

	// Observer and Migration use the Helm values keys of the migration
	// plan (docs/DESIGN.md, Migration from OpenSearch).
	Observer struct {
		Telemetry struct {
			Backend  string
			DualRead bool
		}
	}
	Migration struct {
		ShadowWrite struct {
			Enabled bool
		}
		// MetricsTimeout bounds the read of the migration's state at each
		// scrape of /metrics (obsplane_migration_*).
		MetricsTimeout time.Duration
		// Validation is the whitepaper's validation job
		// (migration.validation.*): `obsplane migrate validate`.
		Validation struct {
			DurationSeconds        int
			SampleIntervalSeconds  int
			MaxDriftPercent        float64
			MaxOverallDriftPercent float64
			// Window is the rolling window whose counts are compared;
			// Settle the newest time left out because ingestion has not
			// settled there yet.
			Window, Settle time.Duration
		}
	}

	// Router holds the dual-read bounds and the automatic rollback
	// thresholds (see internal/router).
	Router struct {
		DualReadConcurrency int
		DualReadTimeout     time.Duration
		MismatchSamples     int
		FlagRefresh         time.Duration
		Rollback            struct {
			Enabled             bool
			CheckInterval       time.Duration
			EvalWindow          time.Duration
			MinRequests         int
			ErrorRate           float64
			ErrorRateFor        time.Duration
			LatencyFactor       float64
			LatencyFor          time.Duration
			BaselineWindow      time.Duration
			BaselineP95         time.Duration
			UnreachableChecks   int
			PingTimeout         time.Duration
			Inconsistency       float64
			InconsistencyWindow time.Duration
			MinComparisons      int
		}
		// Hybrid is the whitepaper's hybrid mode (section 2.3): the store
		// primary, OpenSearch answering the listed reads over its last
		// OpenSearchDays days.
		Hybrid struct {
			Enabled        bool
			OpenSearchDays int
			// Ops is comma-separated (logs.query,traces.query,...).
			Ops string
		}
	}

	// ClickHouseHTTP configures ClickHouse's HTTP interface over the
	// embedded store (its address is Listen.ClickHouseHTTP).
	ClickHouseHTTP struct {
		Users                                  string
		MaxBody, ResponseBuffer                ByteSize
		ReadTimeout, WriteTimeout, IdleTimeout time.Duration
		MaxQueries, MaxSessions                int
		SessionTimeout, MaxSessionTimeout      time.Duration
		CORS                                   bool
		TLSCert, TLSKey                        string
	}

	Gateway struct {
		// Config is a collector config file that replaces the built-in
		// pipeline (obsplane gateway --config).
		Config string
		// OTLP receivers' credentials (docs/SECURITY.md).
		OTLPBearerTokenFile string
		OTLPTLSCertFile     string
		OTLPTLSKeyFile      string
		OTLPTLSClientCAFile string
		// TrustedTenantLabels derives tenant labels only from trusted
		// Kubernetes metadata.
		TrustedTenantLabels bool
	}
}

// keys is every setting. Keep the YAML paths stable: they are what users'
// files say (observer.telemetry.* and migration.* are the migration plan's
// values keys, docs/DESIGN.md).
var keys = []key{
	setting("data", "data", "./data", func(c *Config) *string { return &c.DataDir }, "data directory: embedded store, queues, checkpoints"),
	setting("backup-dir", "backupDir", "", func(c *Config) *string { return &c.BackupDir }, "where a running embedded store may write backups (obsplane backup --server); default <data>/backups"),
	setting("chdb-lib", "chdbLib", DefaultChdbLib(), func(c *Config) *string { return &c.ChdbLib }, "path of libchdb.so (scripts/install-chdb.sh installs it)"),
	setting("clickhouse-dsn", "clickhouseDSN", "", func(c *Config) *string { return &c.ClickHouseDSN }, "use a ClickHouse server instead of the embedded engine: clickhouse://user:pass@host:9000/otel or http://host:8123", secret),
	setting("database", "database", "otel", func(c *Config) *string { return &c.Database }, "ClickHouse database of the telemetry and obsplane's own tables"),
	setting("components", "components", "all", func(c *Config) *string { return &c.Components }, "what this process runs: all, gateway, query (comma-separated)"),
	setting("auth", "auth", "none", func(c *Config) *string { return &c.Auth }, "API authentication: jwt or none"),
	setting("jwks-url", "jwksURL", "", func(c *Config) *string { return &c.JWKSURL }, "JWKS URL for --auth=jwt"),
	setting("jwt-issuer", "jwt.issuer", "", func(c *Config) *string { return &c.JWT.Issuer }, "required iss of JWTs (--auth=jwt, --adapter-auth=jwt); empty accepts any issuer, which serve warns about"),
	setting("jwt-audience", "jwt.audience", "", func(c *Config) *string { return &c.JWT.Audience }, "accepted aud values of JWTs, comma-separated (a token must carry one); empty accepts any audience, which serve warns about"),
	setting("jwks-refresh", "jwt.jwksRefresh", 5*time.Minute, func(c *Config) *time.Duration { return &c.JWT.JWKSRefresh }, "refetch the JWKS at least this often (sooner when its Cache-Control says so); a key the JWKS stops listing is refused within this", positive),
	setting("jwks-min-interval", "jwt.jwksMinInterval", 10*time.Second, func(c *Config) *time.Duration { return &c.JWT.JWKSMinInterval }, "at most one JWKS fetch per this interval (unknown kids, failed fetches)", positive),
	setting("jwks-fetch-timeout", "jwt.jwksFetchTimeout", 10*time.Second, func(c *Config) *time.Duration { return &c.JWT.JWKSFetchTimeout }, "time limit of one JWKS fetch", positive),
	setting("jwks-wait", "jwt.jwksWait", 2*time.Second, func(c *Config) *time.Duration { return &c.JWT.JWKSWait }, "longest a request waits for a JWKS fetch it needs (a kid not in the held set); requests with a known kid never wait", positive),
	setting("adapter-auth", "adapterAuth", "none", func(c *Config) *string { return &c.AdapterAuth }, "auth on the OpenChoreo adapter ports: none (the Observer authorizes its callers, as with upstream adapters; keep the ports private) or jwt"),
	setting("alert-webhook-url", "alertWebhookURL", "", func(c *Config) *string { return &c.AlertWebhookURL }, "where fired alert rules are posted", secret),
	setting("observer-url", "observerURL", "", func(c *Config) *string { return &c.ObserverURL }, "OpenChoreo Observer base URL; alerts go to its /api/v1alpha1/alerts/webhook when --alert-webhook-url is empty", secret),
	setting("log-level", "logLevel", "info", func(c *Config) *string { return &c.LogLevel }, "debug, info, warn, error"),
	setting("log-format", "logFormat", "text", func(c *Config) *string { return &c.LogFormat }, "text or json"),

	setting("http-addr", "listen.http", ":8080", func(c *Config) *string { return &c.Listen.HTTP }, "obsplane API, /metrics, /healthz, /readyz (off to disable)", listens),
	setting("logs-adapter-addr", "listen.logsAdapter", ":9098", func(c *Config) *string { return &c.Listen.LogsAdapter }, "OpenChoreo logs adapter API (off to disable)", listens),
	setting("tracing-adapter-addr", "listen.tracingAdapter", ":9100", func(c *Config) *string { return &c.Listen.TracingAdapter }, "OpenChoreo tracing adapter API (off to disable)", listens),
	setting("metrics-adapter-addr", "listen.metricsAdapter", ":9099", func(c *Config) *string { return &c.Listen.MetricsAdapter }, "OpenChoreo metrics adapter API (off to disable)", listens),
	setting("remote-write-addr", "listen.remoteWrite", ":9201", func(c *Config) *string { return &c.Listen.RemoteWrite }, "Prometheus remote write 1.0 receiver, path /api/v1/write (off to disable)", listens),
	setting("otlp-grpc-addr", "listen.otlpGRPC", ":4317", func(c *Config) *string { return &c.Listen.OTLPGRPC }, "OTLP gRPC receiver (off to disable)", listens),
	setting("otlp-http-addr", "listen.otlpHTTP", ":4318", func(c *Config) *string { return &c.Listen.OTLPHTTP }, "OTLP HTTP receiver (off to disable)", listens),
	setting("forward-addr", "listen.forward", ":24224", func(c *Config) *string { return &c.Listen.Forward }, "Fluent forward receiver (off to disable)", listens),
	setting("clickhouse-http-addr", "listen.clickhouseHTTP", "127.0.0.1:8123", func(c *Config) *string { return &c.Listen.ClickHouseHTTP }, "ClickHouse HTTP interface over the embedded store, for Grafana, HyperDX and clickhouse-go (off to disable; not served with --clickhouse-dsn)", listens),
	setting("clickhouse-http-users", "clickhouseHTTP.users", "", func(c *Config) *string { return &c.ClickHouseHTTP.Users }, "users of the ClickHouse HTTP interface: name:password[:readonly=1|2][:max_execution_time=S][:max_memory_usage=B][:max_result_rows=N],... (URL-escape ':' and ','); empty allows only user default without a password, on a loopback address", secret),
	setting("clickhouse-http-max-body", "clickhouseHTTP.maxBody", ByteSize(1<<30), func(c *Config) *ByteSize { return &c.ClickHouseHTTP.MaxBody }, "largest request body of the ClickHouse HTTP interface, compressed and decompressed, e.g. 1GiB", positive),
	setting("clickhouse-http-response-buffer", "clickhouseHTTP.responseBuffer", ByteSize(1<<20), func(c *Config) *ByteSize { return &c.ClickHouseHTTP.ResponseBuffer }, "ClickHouse HTTP interface: how much of an answer is held before the headers (and X-ClickHouse-Summary) are sent; the most a request's buffer_size may ask", positive),
	setting("clickhouse-http-read-timeout", "clickhouseHTTP.readTimeout", 5*time.Minute, func(c *Config) *time.Duration { return &c.ClickHouseHTTP.ReadTimeout }, "ClickHouse HTTP interface: time a client may stall while sending a request body", positive),
	setting("clickhouse-http-write-timeout", "clickhouseHTTP.writeTimeout", time.Hour, func(c *Config) *time.Duration { return &c.ClickHouseHTTP.WriteTimeout }, "ClickHouse HTTP interface: time to write a response", positive),
	setting("clickhouse-http-idle-timeout", "clickhouseHTTP.idleTimeout", 2*time.Minute, func(c *Config) *time.Duration { return &c.ClickHouseHTTP.IdleTimeout }, "ClickHouse HTTP interface: idle time of a kept-alive connection", positive),
	setting("clickhouse-http-max-queries", "clickhouseHTTP.maxQueries", 64, func(c *Config) *int { return &c.ClickHouseHTTP.MaxQueries }, "ClickHouse HTTP interface: queries running at once", positive),
	setting("clickhouse-http-max-sessions", "clickhouseHTTP.maxSessions", 256, func(c *Config) *int { return &c.ClickHouseHTTP.MaxSessions }, "ClickHouse HTTP interface: sessions (session_id) open at once", positive),
	setting("clickhouse-http-session-timeout", "clickhouseHTTP.sessionTimeout", 60*time.Second, func(c *Config) *time.Duration { return &c.ClickHouseHTTP.SessionTimeout }, "ClickHouse HTTP interface: idle time after which a session closes, unless its session_timeout says otherwise", positive),
	setting("clickhouse-http-max-session-timeout", "clickhouseHTTP.maxSessionTimeout", time.Hour, func(c *Config) *time.Duration { return &c.ClickHouseHTTP.MaxSessionTimeout }, "ClickHouse HTTP interface: largest session_timeout a client may ask", positive),
	setting("clickhouse-http-cors", "clickhouseHTTP.cors", false, func(c *Config) *bool { return &c.ClickHouseHTTP.CORS }, "ClickHouse HTTP interface: answer browsers' CORS preflight and allow any origin (as add_http_cors_header=1)"),
	setting("clickhouse-http-tls-cert", "clickhouseHTTP.tlsCert", "", func(c *Config) *string { return &c.ClickHouseHTTP.TLSCert }, "ClickHouse HTTP interface: serve HTTPS with this certificate (PEM file)"),
	setting("clickhouse-http-tls-key", "clickhouseHTTP.tlsKey", "", func(c *Config) *string { return &c.ClickHouseHTTP.TLSKey }, "ClickHouse HTTP interface: key of --clickhouse-http-tls-cert (PEM file)"),

	setting("listen-read-header-timeout", "listen.readHeaderTimeout", 10*time.Second, func(c *Config) *time.Duration { return &c.Listen.ReadHeaderTimeout }, "HTTP listeners (API and adapter ports): time limit for a request's headers", positive),
	setting("listen-read-timeout", "listen.readTimeout", 30*time.Second, func(c *Config) *time.Duration { return &c.Listen.ReadTimeout }, "HTTP listeners: time limit for reading a whole request, headers and body; a slower body is cut off", positive),
	setting("listen-write-timeout", "listen.writeTimeout", 60*time.Second, func(c *Config) *time.Duration { return &c.Listen.WriteTimeout }, "HTTP listeners: longest one write of an answer may block on a client that does not read", positive),
	setting("listen-idle-timeout", "listen.idleTimeout", 120*time.Second, func(c *Config) *time.Duration { return &c.Listen.IdleTimeout }, "HTTP listeners: how long an idle keep-alive connection stays open", positive),
	setting("listen-max-conns", "listen.maxConns", 1024, func(c *Config) *int { return &c.Listen.MaxConns }, "HTTP listeners: open connections per listener; further clients wait to be accepted", positive),
	setting("listen-max-response-bytes", "listen.maxResponseBytes", ByteSize(1<<30), func(c *Config) *ByteSize { return &c.Listen.MaxResponseBytes }, "HTTP listeners: largest answer body, e.g. 1GiB; an answer past it is cut and its connection closed", positive),

	setting("retention-hot", "retention.hot", 168*time.Hour, func(c *Config) *time.Duration { return &c.Retention.Hot }, "age at which rows move TO VOLUME 'hot' (only with a storage policy)", positive),
	setting("retention-warm", "retention.warm", 720*time.Hour, func(c *Config) *time.Duration { return &c.Retention.Warm }, "age at which rows move TO VOLUME 'warm' (only with a storage policy)", positive),
	setting("retention-cold", "retention.cold", 2160*time.Hour, func(c *Config) *time.Duration { return &c.Retention.Cold }, "age at which rows move TO VOLUME 'cold' (only with a storage policy)", positive),
	setting("retention-delete", "retention.deleteAfter", 9504*time.Hour, func(c *Config) *time.Duration { return &c.Retention.DeleteAfter }, "delete rows older than this (13 months)", positive),

	setting("query-max-range", "query.maxRange", 30*24*time.Hour, func(c *Config) *time.Duration { return &c.Query.MaxRange }, "widest time range one query may cover", positive),
	setting("query-max-rows", "query.maxResultRows", 100000, func(c *Config) *int { return &c.Query.MaxResultRows }, "most rows one query may return (the engine's max_result_rows)", positive),
	setting("query-max-execution-time", "query.maxExecutionTime", 30*time.Second, func(c *Config) *time.Duration { return &c.Query.MaxExecutionTime }, "longest one query may run (the engine's max_execution_time, whole seconds)", positive),
	setting("schema-statement-timeout", "schemaStatementTimeout", 24*time.Hour, func(c *Config) *time.Duration { return &c.SchemaStatementTimeout }, "longest one schema migration statement may run (migrations that change a sort key copy every stored row)", positive),
	setting("query-max-memory", "query.maxMemory", ByteSize(2<<30), func(c *Config) *ByteSize { return &c.Query.MaxMemory }, "most memory one query may use (the engine's max_memory_usage), e.g. 2GiB", positive),

	setting("metrics-rate-window", "metrics.rateWindow", 2*time.Minute, func(c *Config) *time.Duration { return &c.Metrics.RateWindow }, "range of the metrics adapter's rate() (OpenChoreo's module uses 2m)", positive),
	setting("metrics-lookback", "metrics.lookback", 5*time.Minute, func(c *Config) *time.Duration { return &c.Metrics.Lookback }, "how far back the metrics adapter looks for a gauge's value (Prometheus's --query.lookback-delta)", positive),
	setting("metrics-max-points", "metrics.maxPoints", 11000, func(c *Config) *int { return &c.Metrics.MaxPoints }, "most points one metrics adapter series may have; a smaller step is refused", positive),

	setting("alert-tick", "alerts.tick", 15*time.Second, func(c *Config) *time.Duration { return &c.Alerts.Tick }, "how often the alert scheduler looks for rules that are due", positive),
	setting("alert-throttle", "alerts.throttle", 60*time.Minute, func(c *Config) *time.Duration { return &c.Alerts.Throttle }, "least time between two notifications of a rule that keeps firing", positive),
	setting("console-poll-interval", "console.pollInterval", 3*time.Second, func(c *Config) *time.Duration { return &c.Console.PollInterval }, "how often the migration console (/console) refreshes from /api/v1/migration", positive),
	setting("console-audit-limit", "console.auditLimit", 200, func(c *Config) *int { return &c.Console.AuditLimit }, "use_clickhouse audit rows GET /api/v1/migration returns (rollout audit, automatic rollbacks)", positive),

	setting("opensearch-url", "opensearch.url", "", func(c *Config) *string { return &c.OpenSearch.URL }, "OpenSearch being migrated from, e.g. http://opensearch:9200 (credentials in the URL are masked in config print)", secret),
	setting("backend", "observer.telemetry.backend", "clickstack", func(c *Config) *string { return &c.Observer.Telemetry.Backend }, "primary read backend (observer.telemetry.backend): clickstack or opensearch"),
	setting("dual-read", "observer.telemetry.dualRead", false, func(c *Config) *bool { return &c.Observer.Telemetry.DualRead }, "also read the other backend and compare (observer.telemetry.dualRead)"),
	setting("shadow-write", "migration.shadowWrite.enabled", false, func(c *Config) *bool { return &c.Migration.ShadowWrite.Enabled }, "dual write logs to OpenSearch in OpenChoreo's index layout (migration.shadowWrite.enabled); needs --opensearch-url"),

	setting("migration-metrics-timeout", "migration.metricsTimeout", 10*time.Second, func(c *Config) *time.Duration { return &c.Migration.MetricsTimeout }, "time limit of reading the migration's state from the store at each /metrics scrape (obsplane_migration_*)", positive),

	setting("validation-duration-seconds", "migration.validation.durationSeconds", 3600, func(c *Config) *int { return &c.Migration.Validation.DurationSeconds }, "how long `migrate validate` samples (its --duration)", nonNegativeInt),
	setting("validation-sample-interval-seconds", "migration.validation.sampleIntervalSeconds", 60, func(c *Config) *int { return &c.Migration.Validation.SampleIntervalSeconds }, "seconds between two validation samples (--sample-interval)", positive),
	setting("validation-max-drift-percent", "migration.validation.maxDriftPercent", 1.0, func(c *Config) *float64 { return &c.Migration.Validation.MaxDriftPercent }, "a sample whose count drift exceeds this many percent counts against the validation (--max-drift-percent)", nonNegativeFloat),
	setting("validation-max-overall-drift-percent", "migration.validation.maxOverallDriftPercent", 5.0, func(c *Config) *float64 { return &c.Migration.Validation.MaxOverallDriftPercent }, "the validation fails when more than this many percent of its samples exceed the drift (--max-overall-drift-percent)", nonNegativeFloat),
	setting("validation-window", "migration.validation.window", 5*time.Minute, func(c *Config) *time.Duration { return &c.Migration.Validation.Window }, "rolling window whose counts a validation sample compares (--window)", positive),
	setting("validation-settle", "migration.validation.settle", 30*time.Second, func(c *Config) *time.Duration { return &c.Migration.Validation.Settle }, "newest time a sample leaves out because ingestion has not settled there (--settle)", nonNegative),

	setting("dual-read-concurrency", "router.dualReadConcurrency", 8, func(c *Config) *int { return &c.Router.DualReadConcurrency }, "most dual reads in flight; a read that finds them all busy is not compared", positive),
	setting("dual-read-timeout", "router.dualReadTimeout", 30*time.Second, func(c *Config) *time.Duration { return &c.Router.DualReadTimeout }, "longest one background dual read may run", positive),
	setting("mismatch-samples", "router.mismatchSamples", 200, func(c *Config) *int { return &c.Router.MismatchSamples }, "dual-read mismatch samples kept for /api/v1/router/mismatches", positive),
	setting("flag-refresh", "router.flagRefresh", 10*time.Second, func(c *Config) *time.Duration { return &c.Router.FlagRefresh }, "how often rollout flags are reloaded from the store", positive),
	setting("rollback", "router.rollback.enabled", true, func(c *Config) *bool { return &c.Router.Rollback.Enabled }, "roll the use_clickhouse rollout back to 0 automatically when a trigger holds"),
	setting("rollback-check-interval", "router.rollback.checkInterval", 15*time.Second, func(c *Config) *time.Duration { return &c.Router.Rollback.CheckInterval }, "how often the rollback triggers are evaluated and the store pinged", positive),
	setting("rollback-eval-window", "router.rollback.evalWindow", time.Minute, func(c *Config) *time.Duration { return &c.Router.Rollback.EvalWindow }, "trailing window each check measures ClickHouse error rate and P95 over", positive),
	setting("rollback-min-requests", "router.rollback.minRequests", 20, func(c *Config) *int { return &c.Router.Rollback.MinRequests }, "fewest ClickHouse reads in the window that make an error rate or P95 worth judging", positive),
	setting("rollback-error-rate", "router.rollback.errorRate", 0.05, func(c *Config) *float64 { return &c.Router.Rollback.ErrorRate }, "ClickHouse error rate (a fraction) that fires the error_rate trigger"),
	setting("rollback-error-rate-for", "router.rollback.errorRateFor", 5*time.Minute, func(c *Config) *time.Duration { return &c.Router.Rollback.ErrorRateFor }, "how long the error rate must stay above the threshold", nonNegative),
	setting("rollback-latency-factor", "router.rollback.latencyFactor", 3.0, func(c *Config) *float64 { return &c.Router.Rollback.LatencyFactor }, "ClickHouse P95 over this many times the OpenSearch baseline P95 fires the latency trigger"),
	setting("rollback-latency-for", "router.rollback.latencyFor", 10*time.Minute, func(c *Config) *time.Duration { return &c.Router.Rollback.LatencyFor }, "how long the P95 must stay above the threshold", nonNegative),
	setting("rollback-baseline-window", "router.rollback.baselineWindow", time.Hour, func(c *Config) *time.Duration { return &c.Router.Rollback.BaselineWindow }, "trailing window the OpenSearch P95 baseline is measured over", positive),
	setting("rollback-baseline-p95", "router.rollback.baselineP95", time.Duration(0), func(c *Config) *time.Duration { return &c.Router.Rollback.BaselineP95 }, "baseline P95 used while OpenSearch has too few reads to measure one (0: none)", nonNegative),
	setting("rollback-unreachable-checks", "router.rollback.unreachableChecks", 3, func(c *Config) *int { return &c.Router.Rollback.UnreachableChecks }, "consecutive failed store pings that fire the unreachable trigger", positive),
	setting("rollback-ping-timeout", "router.rollback.pingTimeout", 5*time.Second, func(c *Config) *time.Duration { return &c.Router.Rollback.PingTimeout }, "bound of each store ping", positive),
	setting("rollback-inconsistency", "router.rollback.inconsistency", 0.01, func(c *Config) *float64 { return &c.Router.Rollback.Inconsistency }, "share of dual-read comparisons that disagree (a fraction) that fires the inconsistency trigger"),
	setting("rollback-inconsistency-window", "router.rollback.inconsistencyWindow", 15*time.Minute, func(c *Config) *time.Duration { return &c.Router.Rollback.InconsistencyWindow }, "trailing window the inconsistency share is measured over", positive),
	setting("rollback-min-comparisons", "router.rollback.minComparisons", 100, func(c *Config) *int { return &c.Router.Rollback.MinComparisons }, "fewest dual-read comparisons in the window that make an inconsistency share worth judging", positive),

	setting("hybrid", "router.hybrid.enabled", false, func(c *Config) *bool { return &c.Router.Hybrid.Enabled }, "hybrid mode: the store is the primary and OpenSearch answers the --hybrid-ops reads whose time range lies within its last --hybrid-opensearch-days days; needs --opensearch-url"),
	setting("hybrid-opensearch-days", "router.hybrid.openSearchDays", 7, func(c *Config) *int { return &c.Router.Hybrid.OpenSearchDays }, "hybrid mode: days OpenSearch keeps (reads starting earlier go to the store)", positive),
	setting("hybrid-ops", "router.hybrid.ops", "logs.query,events.query,api.logs,traces.query,spans.query", func(c *Config) *string { return &c.Router.Hybrid.Ops }, "hybrid mode: comma-separated reads OpenSearch may answer: logs.query, events.query, api.logs, traces.query, spans.query, span.get"),

	setting("gateway-config", "gateway.config", "", func(c *Config) *string { return &c.Gateway.Config }, "collector config file replacing the built-in pipeline"),
	setting("otlp-bearer-token-file", "gateway.otlpBearerTokenFile", "", func(c *Config) *string { return &c.Gateway.OTLPBearerTokenFile }, "OTLP receivers require \"Authorization: Bearer <token>\" with the token in this file (reread when it changes)"),
	setting("otlp-tls-cert-file", "gateway.otlpTLSCertFile", "", func(c *Config) *string { return &c.Gateway.OTLPTLSCertFile }, "OTLP receivers serve TLS with this certificate (PEM); needs --otlp-tls-key-file"),
	setting("otlp-tls-key-file", "gateway.otlpTLSKeyFile", "", func(c *Config) *string { return &c.Gateway.OTLPTLSKeyFile }, "private key (PEM) of --otlp-tls-cert-file"),
	setting("otlp-tls-client-ca-file", "gateway.otlpTLSClientCAFile", "", func(c *Config) *string { return &c.Gateway.OTLPTLSClientCAFile }, "OTLP receivers require client certificates signed by this CA (mTLS); needs the TLS certificate and key"),
	setting("trusted-tenant-labels", "gateway.trustedTenantLabels", false, func(c *Config) *bool { return &c.Gateway.TrustedTenantLabels }, "derive OpenChoreo tenant labels only from trusted Kubernetes metadata (Fluent Bit's kubernetes record on forward, an authenticated collector's k8sattributes pod labels on OTLP) and drop those a sender set; OTLP then needs a bearer token or client certificates"),
}

// DefaultChdbLib is where scripts/install-chdb.sh puts the library, unless
// CHDB_LIB says otherwise.
func DefaultChdbLib() string {
	if p := os.Getenv("CHDB_LIB"); p != "" {
		return p
	}
	cache := os.Getenv("OBSPLANE_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "obsplane")
	}
	return filepath.Join(cache, "chdb", "26.5.3", "libchdb.so")
}

// Default returns the built-in configuration.
func Default() *Config {
	c := &Config{}
	for _, k := range keys {
		k.setDefault(c)
	}
	return c
}

// RegisterFlags adds one flag per setting to fs.
func RegisterFlags(fs *pflag.FlagSet) {
	fs.String("config", "", "YAML config file")
	d := Default()
	for _, k := range keys {
		fs.Var(k.value(d), k.name, k.usage)
		if k.isBool {
			fs.Lookup(k.name).NoOptDefVal = "true"
		}
	}
}

// Load builds the effective config: defaults, the file named by --config,
// OBSPLANE_* variables, then the flags the user set.
func Load(fs *pflag.FlagSet) (*Config, error) {
	c := Default()
	if f := fs.Lookup("config"); f != nil && f.Value.String() != "" {
		if err := c.loadFile(f.Value.String()); err != nil {
			return nil, err
		}
	}
	for _, k := range keys {
		if v, ok := os.LookupEnv(EnvName(k.name)); ok {
			if err := k.value(c).Set(v); err != nil {
				return nil, fmt.Errorf("%s=%q: %w", EnvName(k.name), v, err)
			}
		}
	}
	for _, k := range keys {
		if f := fs.Lookup(k.name); f != nil && f.Changed {
			if err := k.value(c).Set(f.Value.String()); err != nil {
				return nil, fmt.Errorf("--%s=%q: %w", k.name, f.Value.String(), err)
			}
		}
	}
	return c, c.Validate()
}

// EnvName is the environment variable that sets key.
func EnvName(key string) string {
	return "OBSPLANE_" + strings.ToUpper(strings.ReplaceAll(key, "-", "_"))
}

// Validate checks every setting and names the first one that is wrong.
func (c *Config) Validate() error {
	for _, k := range keys {
		if err := k.check(c); err != nil {
			return fmt.Errorf("--%s=%s: %w", k.name, k.value(c).String(), err)
		}
	}
	for _, m := range []struct{ name, v string }{{"auth", c.Auth}, {"adapter-auth", c.AdapterAuth}} {
		switch m.v {
		case "none":
		case "jwt":
			if c.JWKSURL == "" {
				return fmt.Errorf("--%s=jwt needs --jwks-url", m.name)
			}
		default:
			return fmt.Errorf("--%s=%q: want jwt or none", m.name, m.v)
		}
	}
	if c.JWKSURL != "" {
		if u, err := url.Parse(c.JWKSURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("--jwks-url=%q: want an http(s) URL", c.JWKSURL)
		}
	}
	g := c.Gateway
	if (g.OTLPTLSCertFile == "") != (g.OTLPTLSKeyFile == "") {
		return errors.New("--otlp-tls-cert-file and --otlp-tls-key-file go together")
	}
	if g.OTLPTLSClientCAFile != "" && g.OTLPTLSCertFile == "" {
		return errors.New("--otlp-tls-client-ca-file needs --otlp-tls-cert-file and --otlp-tls-key-file (client certificates need TLS)")
	}
	otlpOn := c.Listen.OTLPGRPC != Off || c.Listen.OTLPHTTP != Off
	if g.TrustedTenantLabels && otlpOn && g.OTLPBearerTokenFile == "" && g.OTLPTLSClientCAFile == "" && g.Config == "" {
		return errors.New("--trusted-tenant-labels believes the pod labels OTLP senders carry, so OTLP must accept only your collector agents: set --otlp-bearer-token-file or --otlp-tls-client-ca-file, or turn OTLP off (--otlp-grpc-addr=off --otlp-http-addr=off)")
	}
	switch c.Observer.Telemetry.Backend {
	case "clickstack", "opensearch":
	default:
		return fmt.Errorf("--backend=%q: want clickstack or opensearch", c.Observer.Telemetry.Backend)
	}
	needOS := c.Observer.Telemetry.Backend == "opensearch" || c.Observer.Telemetry.DualRead || c.Migration.ShadowWrite.Enabled || c.Router.Hybrid.Enabled
	if needOS && c.OpenSearch.URL == "" {
		return errors.New("--backend=opensearch, --dual-read, --shadow-write and --hybrid need --opensearch-url")
	}
	for _, comp := range strings.Split(c.Components, ",") {
		switch strings.TrimSpace(comp) {
		case "all", "gateway", "query":
		default:
			return fmt.Errorf("--components: unknown component %q (want all, gateway, query)", comp)
		}
	}
	if c.ClickHouseDSN != "" {
		if _, err := ParseDSN(c.ClickHouseDSN); err != nil {
			return err
		}
	} else if c.DataDir == "" {
		return errors.New("--data is empty")
	}
	if !identRE(c.Database) {
		return fmt.Errorf("--database=%q: use letters, digits and underscores, not starting with a digit", c.Database)
	}
	if c.Query.MaxExecutionTime%time.Second != 0 {
		return fmt.Errorf("--query-max-execution-time=%s: want whole seconds (the engine's max_execution_time)", c.Query.MaxExecutionTime)
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"rollback-error-rate", c.Router.Rollback.ErrorRate}, {"rollback-inconsistency", c.Router.Rollback.Inconsistency}} {
		if f.v <= 0 || f.v >= 1 {
			return fmt.Errorf("--%s=%g: want a fraction between 0 and 1, e.g. 0.05 for 5%%", f.name, f.v)
		}
	}
	if c.Router.Rollback.LatencyFactor <= 1 {
		return fmt.Errorf("--rollback-latency-factor=%g: want more than 1", c.Router.Rollback.LatencyFactor)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("--log-level=%q: want debug, info, warn or error", c.LogLevel)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return fmt.Errorf("--log-format=%q: want text or json", c.LogFormat)
	}
	return nil
}

// identRE reports whether s is a plain SQL identifier, the only database
// names the schema and the read model accept.
func identRE(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '_', ch >= 'a' && ch <= 'z', ch >= 'A' && ch <= 'Z':
		case ch >= '0' && ch <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// Has reports whether this process runs component ("gateway" or "query").
func (c *Config) Has(component string) bool {
	for _, comp := range strings.Split(c.Components, ",") {
		comp = strings.TrimSpace(comp)
		if comp == "all" || comp == component {
			return true
		}
	}
	return false
}

// ParseDSN checks a --clickhouse-dsn and returns it parsed. Only the
// clickhouse:// (native) and http(s):// schemes are accepted.
func ParseDSN(dsn string) (*url.URL, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, fmt.Errorf("--clickhouse-dsn: %w", maskErr(err, dsn))
	}
	switch u.Scheme {
	case "clickhouse", "tcp", "http", "https":
	default:
		return nil, fmt.Errorf("--clickhouse-dsn %s: scheme %q not supported (want clickhouse://host:9000/db or http://host:8123)", Mask(dsn), u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("--clickhouse-dsn %s: no host", Mask(dsn))
	}
	return u, nil
}

func maskErr(err error, dsn string) error {
	return errors.New(strings.ReplaceAll(err.Error(), dsn, Mask(dsn)))
}

// Mask hides the password of a DSN or URL.
func Mask(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		if i := strings.Index(dsn, "@"); i > 0 {
			return "***" + dsn[i:]
		}
		return dsn
	}
	if pw, ok := u.User.Password(); ok && pw != "" {
		return strings.Replace(dsn, ":"+pw+"@", ":***@", 1)
	}
	return dsn
}

// Print writes the effective configuration as `flag-name: value` lines in
// the order of the keys table, with each one's YAML path and secrets masked.
func (c *Config) Print() string {
	var b strings.Builder
	for _, k := range keys {
		v := k.value(c).String()
		if k.secret && v != "" {
			v = Mask(v)
		}
		fmt.Fprintf(&b, "%s: %q  # %s\n", k.name, v, k.path)
	}
	return b.String()
}

// checkListen validates a listener address.
func checkListen(v string) error {
	if v == Off {
		return nil
	}
	if _, _, err := net.SplitHostPort(v); err != nil {
		return fmt.Errorf("want host:port or %q", Off)
	}
	return nil
}
