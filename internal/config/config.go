// Package config holds obsplane's effective configuration: defaults, then the
// YAML file (--config), then OBSPLANE_* environment variables, then flags.
//
// Every setting has one key. The key is the flag name (--http-addr), the
// environment variable is OBSPLANE_ plus the key upper-cased with dashes as
// underscores (OBSPLANE_HTTP_ADDR), and the YAML path is the dotted path in
// the Key table below (listen.http).
package config

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// Off disables a listener when given as its address.
const Off = "off"

// Config is the effective configuration of one obsplane process.
type Config struct {
	DataDir       string `yaml:"data"`
	ChdbLib       string `yaml:"chdbLib"`
	ClickHouseDSN string `yaml:"clickhouseDSN"`
	Components    string `yaml:"components"`
	Auth          string `yaml:"auth"`
	JWKSURL       string `yaml:"jwksURL"`
	AdapterAuth   string `yaml:"adapterAuth"`
	// AlertWebhookURL receives fired alerts; ObserverURL is the fallback
	// (its /api/v1alpha1/alerts/webhook, as OpenChoreo's module does).
	AlertWebhookURL string `yaml:"alertWebhookURL"`
	ObserverURL     string `yaml:"observerURL"`
	LogLevel        string `yaml:"logLevel"`
	LogFormat       string `yaml:"logFormat"`

	Listen struct {
		HTTP           string `yaml:"http"`
		LogsAdapter    string `yaml:"logsAdapter"`
		TracingAdapter string `yaml:"tracingAdapter"`
		OTLPGRPC       string `yaml:"otlpGRPC"`
		OTLPHTTP       string `yaml:"otlpHTTP"`
		Forward        string `yaml:"forward"`
		RemoteWrite    string `yaml:"remoteWrite"`
		MetricsAdapter string `yaml:"metricsAdapter"`
		ClickHouseHTTP string `yaml:"clickhouseHTTP"`
	} `yaml:"listen"`

	Retention struct {
		Hot         string `yaml:"hot"`
		Warm        string `yaml:"warm"`
		Cold        string `yaml:"cold"`
		DeleteAfter string `yaml:"deleteAfter"`
	} `yaml:"retention"`

	// OpenSearch is the store being migrated from (OpenChoreo's current
	// logs backend): read by the router, written by dual write.
	OpenSearch struct {
		URL string `yaml:"url"`
	} `yaml:"opensearch"`

	// Observer and Migration use the whitepaper's values.yaml keys.
	Observer struct {
		Telemetry struct {
			Backend  string `yaml:"backend"`
			DualRead string `yaml:"dualRead"`
		} `yaml:"telemetry"`
	} `yaml:"observer"`
	Migration struct {
		ShadowWrite struct {
			Enabled string `yaml:"enabled"`
		} `yaml:"shadowWrite"`
	} `yaml:"migration"`

	Gateway struct {
		// Config is a collector config file that replaces the built-in
		// pipeline (obsplane gateway --config).
		Config string `yaml:"config"`
	} `yaml:"gateway"`
}

// key ties one setting to its flag, environment variable and YAML field.
type key struct {
	name    string
	field   func(*Config) *string
	def     string
	usage   string
	secret  bool
	listens bool
}

var keys = []key{
	{name: "data", field: func(c *Config) *string { return &c.DataDir }, def: "./data", usage: "data directory: embedded store, queues, checkpoints"},
	{name: "chdb-lib", field: func(c *Config) *string { return &c.ChdbLib }, def: DefaultChdbLib(), usage: "path of libchdb.so (scripts/install-chdb.sh installs it)"},
	{name: "clickhouse-dsn", field: func(c *Config) *string { return &c.ClickHouseDSN }, usage: "use a ClickHouse server instead of the embedded engine: clickhouse://user:pass@host:9000/otel or http://host:8123", secret: true},
	{name: "components", field: func(c *Config) *string { return &c.Components }, def: "all", usage: "what this process runs: all, gateway, query (comma-separated)"},
	{name: "auth", field: func(c *Config) *string { return &c.Auth }, def: "none", usage: "API authentication: jwt or none"},
	{name: "jwks-url", field: func(c *Config) *string { return &c.JWKSURL }, usage: "JWKS URL for --auth=jwt"},
	{name: "adapter-auth", field: func(c *Config) *string { return &c.AdapterAuth }, def: "none", usage: "auth on the OpenChoreo adapter ports: none (the Observer authorizes its callers, as with upstream adapters; keep the ports private) or jwt"},
	{name: "alert-webhook-url", field: func(c *Config) *string { return &c.AlertWebhookURL }, usage: "where fired alert rules are posted"},
	{name: "observer-url", field: func(c *Config) *string { return &c.ObserverURL }, usage: "OpenChoreo Observer base URL; alerts go to its /api/v1alpha1/alerts/webhook when --alert-webhook-url is empty"},
	{name: "log-level", field: func(c *Config) *string { return &c.LogLevel }, def: "info", usage: "debug, info, warn, error"},
	{name: "log-format", field: func(c *Config) *string { return &c.LogFormat }, def: "text", usage: "text or json"},
	{name: "http-addr", field: func(c *Config) *string { return &c.Listen.HTTP }, def: ":8080", usage: "obsplane API, /metrics, /healthz, /readyz (off to disable)", listens: true},
	{name: "logs-adapter-addr", field: func(c *Config) *string { return &c.Listen.LogsAdapter }, def: ":9098", usage: "OpenChoreo logs adapter API (off to disable)", listens: true},
	{name: "tracing-adapter-addr", field: func(c *Config) *string { return &c.Listen.TracingAdapter }, def: ":9100", usage: "OpenChoreo tracing adapter API (off to disable)", listens: true},
	{name: "metrics-adapter-addr", field: func(c *Config) *string { return &c.Listen.MetricsAdapter }, def: ":9099", usage: "OpenChoreo metrics adapter API (off to disable)", listens: true},
	{name: "remote-write-addr", field: func(c *Config) *string { return &c.Listen.RemoteWrite }, def: ":9201", usage: "Prometheus remote write 1.0 receiver, path /api/v1/write (off to disable)", listens: true},
	{name: "otlp-grpc-addr", field: func(c *Config) *string { return &c.Listen.OTLPGRPC }, def: ":4317", usage: "OTLP gRPC receiver (off to disable)", listens: true},
	{name: "otlp-http-addr", field: func(c *Config) *string { return &c.Listen.OTLPHTTP }, def: ":4318", usage: "OTLP HTTP receiver (off to disable)", listens: true},
	{name: "forward-addr", field: func(c *Config) *string { return &c.Listen.Forward }, def: ":24224", usage: "Fluent forward receiver (off to disable)", listens: true},
	{name: "clickhouse-http-addr", field: func(c *Config) *string { return &c.Listen.ClickHouseHTTP }, def: "127.0.0.1:8123", usage: "ClickHouse HTTP interface over the embedded store (SPEC 4.3; reserved, not served yet)", listens: true},
	{name: "retention-hot", field: func(c *Config) *string { return &c.Retention.Hot }, def: "168h", usage: "age at which rows move TO VOLUME 'hot' (only with a storage policy)"},
	{name: "retention-warm", field: func(c *Config) *string { return &c.Retention.Warm }, def: "720h", usage: "age at which rows move TO VOLUME 'warm' (only with a storage policy)"},
	{name: "retention-cold", field: func(c *Config) *string { return &c.Retention.Cold }, def: "2160h", usage: "age at which rows move TO VOLUME 'cold' (only with a storage policy)"},
	{name: "retention-delete", field: func(c *Config) *string { return &c.Retention.DeleteAfter }, def: "9504h", usage: "delete rows older than this (13 months)"},
	{name: "opensearch-url", field: func(c *Config) *string { return &c.OpenSearch.URL }, usage: "OpenSearch being migrated from, e.g. http://opensearch:9200 (credentials in the URL are masked in config print)", secret: true},
	{name: "backend", field: func(c *Config) *string { return &c.Observer.Telemetry.Backend }, def: "clickstack", usage: "primary read backend (observer.telemetry.backend): clickstack or opensearch"},
	{name: "dual-read", field: func(c *Config) *string { return &c.Observer.Telemetry.DualRead }, def: "false", usage: "also read the other backend and compare (observer.telemetry.dualRead)"},
	{name: "shadow-write", field: func(c *Config) *string { return &c.Migration.ShadowWrite.Enabled }, def: "false", usage: "dual write logs to OpenSearch in OpenChoreo's index layout (migration.shadowWrite.enabled); needs --opensearch-url"},
	{name: "gateway-config", field: func(c *Config) *string { return &c.Gateway.Config }, usage: "collector config file replacing the built-in pipeline"},
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
		*k.field(c) = k.def
	}
	return c
}

// RegisterFlags adds one flag per setting to fs.
func RegisterFlags(fs *pflag.FlagSet) {
	fs.String("config", "", "YAML config file")
	for _, k := range keys {
		fs.String(k.name, k.def, k.usage)
	}
}

// Load builds the effective config: defaults, the file named by --config,
// OBSPLANE_* variables, then the flags the user set.
func Load(fs *pflag.FlagSet) (*Config, error) {
	c := Default()
	if f := fs.Lookup("config"); f != nil && f.Value.String() != "" {
		b, err := os.ReadFile(f.Value.String())
		if err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
		dec := yaml.NewDecoder(strings.NewReader(string(b)))
		dec.KnownFields(true)
		// An empty file decodes to io.EOF: nothing to override.
		if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("config %s: %w", f.Value.String(), err)
		}
	}
	for _, k := range keys {
		if v, ok := os.LookupEnv(EnvName(k.name)); ok {
			*k.field(c) = v
		}
	}
	for _, k := range keys {
		if f := fs.Lookup(k.name); f != nil && f.Changed {
			*k.field(c) = f.Value.String()
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
		if !k.listens {
			continue
		}
		v := *k.field(c)
		if v == Off {
			continue
		}
		if _, _, err := net.SplitHostPort(v); err != nil {
			return fmt.Errorf("--%s=%q: want host:port or %q", k.name, v, Off)
		}
	}
	switch c.Auth {
	case "none":
	case "jwt":
		if c.JWKSURL == "" {
			return errors.New("--auth=jwt needs --jwks-url")
		}
	default:
		return fmt.Errorf("--auth=%q: want jwt or none", c.Auth)
	}
	switch c.AdapterAuth {
	case "none":
	case "jwt":
		if c.JWKSURL == "" {
			return errors.New("--adapter-auth=jwt needs --jwks-url")
		}
	default:
		return fmt.Errorf("--adapter-auth=%q: want jwt or none", c.AdapterAuth)
	}
	switch c.Observer.Telemetry.Backend {
	case "clickstack", "opensearch":
	default:
		return fmt.Errorf("--backend=%q: want clickstack or opensearch", c.Observer.Telemetry.Backend)
	}
	for _, b := range []struct{ name, v string }{{"dual-read", c.Observer.Telemetry.DualRead}, {"shadow-write", c.Migration.ShadowWrite.Enabled}} {
		if b.v != "true" && b.v != "false" {
			return fmt.Errorf("--%s=%q: want true or false", b.name, b.v)
		}
	}
	needOS := c.Observer.Telemetry.Backend == "opensearch" || c.Observer.Telemetry.DualRead == "true" || c.Migration.ShadowWrite.Enabled == "true"
	if needOS && c.OpenSearch.URL == "" {
		return errors.New("--backend=opensearch, --dual-read and --shadow-write need --opensearch-url")
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
	for _, d := range []struct{ name, v string }{{"retention-hot", c.Retention.Hot}, {"retention-warm", c.Retention.Warm}, {"retention-cold", c.Retention.Cold}, {"retention-delete", c.Retention.DeleteAfter}} {
		if dur, err := time.ParseDuration(d.v); err != nil || dur <= 0 {
			return fmt.Errorf("--%s=%q: want a positive duration such as 168h", d.name, d.v)
		}
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

// Duration returns a validated duration setting.
func Duration(s string) time.Duration {
	d, _ := time.ParseDuration(s)
	return d
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

// Mask hides the password of a DSN.
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

// Print writes the effective configuration as YAML-ish key: value lines,
// sorted, with secrets masked.
func (c *Config) Print() string {
	lines := make([]string, 0, len(keys))
	for _, k := range keys {
		v := *k.field(c)
		if k.secret && v != "" {
			v = Mask(v)
		}
		lines = append(lines, fmt.Sprintf("%s: %q", k.name, v))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}
