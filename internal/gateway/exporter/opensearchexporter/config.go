package opensearchexporter

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
)

// Config configures the dual-write exporter.
//
// Enabled is migration.shadowWrite.enabled: off by default, and off means
// the exporter accepts logs and writes nothing (no connection, no queue), so
// a pipeline may list it in every phase of a migration and turning dual
// write on or off flips only this key.
type Config struct {
	TimeoutConfig exporterhelper.TimeoutConfig                             `mapstructure:",squash"`
	BackOffConfig configretry.BackOffConfig                                `mapstructure:"retry_on_failure"`
	QueueConfig   configoptional.Optional[exporterhelper.QueueBatchConfig] `mapstructure:"sending_queue"`

	// Enabled turns dual write on (migration.shadowWrite.enabled).
	Enabled bool `mapstructure:"enabled"`

	// Endpoints are OpenSearch URLs (http(s)://host:port, credentials in
	// the user info allowed); the first is used. Endpoint is the one-URL
	// spelling. The reference config (internal/gateway/testdata) uses
	// endpoints.
	Endpoints []string `mapstructure:"endpoints"`
	Endpoint  string   `mapstructure:"endpoint"`
	// Username and Password, when set, win over the URL's user info.
	Username           string              `mapstructure:"username"`
	Password           configopaque.String `mapstructure:"password"`
	InsecureSkipVerify bool                `mapstructure:"insecure_skip_verify"`

	// Index is the daily index's prefix: documents go to
	// <index>-<UTC date in IndexDateFormat>. Default "container-logs", what
	// OpenChoreo's Fluent Bit writes and its logs module reads; "kubernetes"
	// with IndexDateFormat "2006.01.02" is the pre-Dec-2025 layout.
	Index string `mapstructure:"index"`
	// IndexDateFormat is a Go time layout; default "2006-01-02".
	IndexDateFormat string `mapstructure:"index_date_format"`

	// TracesIndex is the daily traces index's prefix: spans go to
	// <traces_index>-<UTC date of the span's start in
	// TracesIndexDateFormat>. Default "otel-traces" with "2006-01-02", what
	// OpenChoreo's collector writes (traces_index, yyyy-MM-dd) and its
	// tracing module reads.
	TracesIndex           string `mapstructure:"traces_index"`
	TracesIndexDateFormat string `mapstructure:"traces_index_date_format"`
	// EventsIndex is the prefix of the daily index of Kubernetes events
	// (log records with a k8s.event.reason attribute), dated like traces.
	// Default "k8s-events", what the logs module reads.
	EventsIndex string `mapstructure:"events_index"`

	// EnsureTemplates installs OpenChoreo's index templates before the
	// first write, so a daily index the exporter creates gets the mapping
	// the Observer's queries need (log as wildcard, labels as keyword).
	// On by default.
	EnsureTemplates bool `mapstructure:"ensure_templates"`

	// BulkMaxAttempts bounds the tries of a rejected (429/5xx) document
	// within one push; the exporter's retry_on_failure takes over after.
	BulkMaxAttempts int `mapstructure:"bulk_max_attempts"`
}

const (
	defaultIndex        = "container-logs"
	defaultTracesIndex  = "otel-traces"
	defaultEventsIndex  = "k8s-events"
	defaultDateFormat   = "2006-01-02"
	defaultQueueSize    = 5000
	defaultNumConsumers = 2
	defaultTimeout      = 30 * time.Second
	defaultBulkAttempts = 3
)

func createDefaultConfigStruct() *Config {
	q := exporterhelper.NewDefaultQueueConfig()
	q.QueueSize = defaultQueueSize
	q.NumConsumers = defaultNumConsumers
	// Never block: the logs pipeline fans out to ClickHouse and to this
	// exporter, and a blocked shadow would stall the primary path. A full
	// queue drops what the shadow cannot take (counted in
	// obsplane_gateway_dualwrite_records_total{outcome="dropped"}; those
	// records are in ClickHouse only).
	q.BlockOnOverflow = false
	retry := configretry.NewDefaultBackOffConfig()
	// Keep retrying an OpenSearch outage for as long as it lasts: the queue
	// (persistent with storage set) holds what waits.
	retry.MaxElapsedTime = 0
	timeout := exporterhelper.NewDefaultTimeoutConfig()
	timeout.Timeout = defaultTimeout
	return &Config{
		TimeoutConfig:         timeout,
		BackOffConfig:         retry,
		QueueConfig:           configoptional.Some(q),
		Index:                 defaultIndex,
		IndexDateFormat:       defaultDateFormat,
		TracesIndex:           defaultTracesIndex,
		TracesIndexDateFormat: defaultDateFormat,
		EventsIndex:           defaultEventsIndex,
		EnsureTemplates:       true,
		BulkMaxAttempts:       defaultBulkAttempts,
	}
}

// URL returns the OpenSearch URL the exporter writes to.
func (c *Config) URL() string {
	if c.Endpoint != "" {
		return c.Endpoint
	}
	if len(c.Endpoints) > 0 {
		return c.Endpoints[0]
	}
	return ""
}

// Validate checks an enabled exporter's settings. A disabled one is valid
// whatever it says, so a half-filled migration block does not stop the
// gateway from starting.
func (c *Config) Validate() error {
	if !c.Enabled {
		return nil
	}
	var errs []error
	u := c.URL()
	if u == "" {
		errs = append(errs, errors.New("enabled needs endpoint (or endpoints)"))
	} else if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		errs = append(errs, fmt.Errorf("endpoint %q must be http(s)://host:port", u))
	}
	if c.Endpoint != "" && len(c.Endpoints) > 0 {
		errs = append(errs, errors.New("set endpoint or endpoints, not both"))
	}
	if len(c.Endpoints) > 1 {
		errs = append(errs, errors.New("endpoints lists more than one URL; one is supported (put a load balancer or the cluster's service in front)"))
	}
	for _, ix := range []struct{ key, prefix, keyFormat, format string }{
		{"index", c.Index, "index_date_format", c.IndexDateFormat},
		{"traces_index", c.TracesIndex, "traces_index_date_format", c.TracesIndexDateFormat},
		{"events_index", c.EventsIndex, "traces_index_date_format", c.TracesIndexDateFormat},
	} {
		if ix.prefix == "" || strings.ContainsAny(ix.prefix, `*?"<>|\/, #:`) || strings.ToLower(ix.prefix) != ix.prefix {
			errs = append(errs, fmt.Errorf("%s %q is not a valid lower-case OpenSearch index prefix", ix.key, ix.prefix))
		}
		if ix.format == "" || time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC).Format(ix.format) == ix.format {
			errs = append(errs, fmt.Errorf("%s %q is not a Go date layout (e.g. 2006-01-02)", ix.keyFormat, ix.format))
		}
	}
	if !c.QueueConfig.HasValue() {
		errs = append(errs, errors.New("sending_queue must be enabled: without it an OpenSearch outage would block the logs pipeline, ClickHouse included"))
	} else {
		q := c.QueueConfig.Get()
		if q.BlockOnOverflow {
			errs = append(errs, errors.New("sending_queue.block_on_overflow must be false: a full OpenSearch queue must not block the ClickHouse path"))
		}
		if q.WaitForResult {
			errs = append(errs, errors.New("sending_queue.wait_for_result must be false: the pipeline must not wait for OpenSearch"))
		}
	}
	if c.TimeoutConfig.Timeout < 0 {
		errs = append(errs, errors.New("timeout must not be negative"))
	}
	if c.BulkMaxAttempts < 1 {
		errs = append(errs, errors.New("bulk_max_attempts must be at least 1"))
	}
	return errors.Join(errs...)
}
