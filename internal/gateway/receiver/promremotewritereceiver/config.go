package promremotewritereceiver

import (
	"errors"
	"fmt"
	"strings"

	"go.opentelemetry.io/collector/config/confighttp"
)

// Config configures the receiver. The HTTP server settings (endpoint, TLS,
// auth, max_request_body_size, which also bounds the body after snappy
// decompression) are the collector's confighttp.
type Config struct {
	confighttp.ServerConfig `mapstructure:",squash"`

	// Path is where remote write requests are posted; Prometheus's own
	// receiver uses /api/v1/write, so a remote_write url copied from a
	// Prometheus setup works unchanged.
	Path string `mapstructure:"path"`

	// MaxSeriesPerRequest bounds the time series of one request, so a
	// request cannot make the receiver build an unbounded number of
	// resources. Prometheus sends at most max_samples_per_send (2,000 by
	// default) per request.
	MaxSeriesPerRequest int `mapstructure:"max_series_per_request"`

	// MetadataCacheSize bounds how many metric families' HELP and UNIT
	// (sent by Prometheus in separate metadata requests) are remembered.
	MetadataCacheSize int `mapstructure:"metadata_cache_size"`
}

const (
	defaultPath                = "/api/v1/write"
	defaultMaxSeriesPerRequest = 100000
	defaultMetadataCacheSize   = 10000
)

func createDefaultConfigStruct() *Config {
	s := confighttp.NewDefaultServerConfig()
	s.NetAddr.Endpoint = "localhost:9201"
	return &Config{
		ServerConfig:        s,
		Path:                defaultPath,
		MaxSeriesPerRequest: defaultMaxSeriesPerRequest,
		MetadataCacheSize:   defaultMetadataCacheSize,
	}
}

// Validate reports settings the receiver cannot run with.
func (c *Config) Validate() error {
	var errs []error
	if !strings.HasPrefix(c.Path, "/") {
		errs = append(errs, fmt.Errorf("path %q must start with /", c.Path))
	}
	if c.MaxSeriesPerRequest <= 0 {
		errs = append(errs, errors.New("max_series_per_request must be positive"))
	}
	if c.MetadataCacheSize < 0 {
		errs = append(errs, errors.New("metadata_cache_size must not be negative"))
	}
	if c.MaxRequestBodySize < 0 {
		errs = append(errs, errors.New("max_request_body_size must not be negative"))
	}
	return errors.Join(errs...)
}
