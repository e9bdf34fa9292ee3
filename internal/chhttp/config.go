// Package chhttp serves ClickHouse's HTTP interface over the embedded store,
// so that clickhouse-go (HTTP protocol), clickhouse-js (HyperDX), Grafana's
// ClickHouse datasource and clickhouse-connect talk to one obsplane as to a
// ClickHouse server.
//
// Every request runs on an engine connection of its own (a fresh one, or
// the one its HTTP session keeps), set up as the user's profile says; the
// engine enforces read-only users through its readonly setting and the
// user's limits through max_execution_time, max_memory_usage and
// max_result_rows. The interface itself only handles HTTP: users,
// parameters, bodies, compression, framing, sessions and errors.
package chhttp

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// User is one account of the interface.
type User struct {
	Name     string
	Password string
	// Readonly is ClickHouse's readonly level for the user: 0 may write and
	// change settings, 1 only reads and changes no setting, 2 only reads
	// but may change settings (what Grafana and HyperDX need, since they
	// send settings with every query).
	Readonly int
	// Limits, 0 for none: seconds, bytes, rows.
	MaxExecutionTime int
	MaxMemoryUsage   int64
	MaxResultRows    int64
}

// Config is the interface's configuration.
type Config struct {
	Addr string
	// Users; none means the "default" user without a password, which is
	// only allowed on a loopback address.
	Users []User
	// MaxBodyBytes bounds a request body, compressed and decompressed.
	MaxBodyBytes int64
	// ReadTimeout bounds each wait for more of a request's body (a client
	// that stalls), WriteTimeout a response, IdleTimeout a kept-alive
	// connection between requests.
	ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// MaxConcurrentQueries bounds queries running at once (each holds an
	// engine connection); more get TOO_MANY_SIMULTANEOUS_QUERIES.
	MaxConcurrentQueries int
	// Sessions: at most MaxSessions open, each closed after its timeout
	// (session_timeout, default SessionTimeout, at most MaxSessionTimeout)
	// of idleness.
	MaxSessions                       int
	SessionTimeout, MaxSessionTimeout time.Duration
	// CORS answers browsers' preflight requests and adds
	// Access-Control-Allow-Origin to every response, as
	// add_http_cors_header=1 does per request.
	CORS bool
	// TLS serves HTTPS with this certificate and key.
	TLSCert, TLSKey string
	// DisplayName is X-ClickHouse-Server-Display-Name (the host name when empty).
	DisplayName string
}

// DefaultConfig returns the defaults the flags document.
func DefaultConfig() Config {
	return Config{
		Addr:                 "127.0.0.1:8123",
		MaxBodyBytes:         1 << 30,
		ReadTimeout:          5 * time.Minute,
		WriteTimeout:         time.Hour,
		IdleTimeout:          2 * time.Minute,
		MaxConcurrentQueries: 64,
		MaxSessions:          256,
		SessionTimeout:       60 * time.Second,
		MaxSessionTimeout:    time.Hour,
	}
}

// Validate reports a configuration that cannot work or is unsafe.
func (c Config) Validate() error {
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return fmt.Errorf("clickhouse-http-addr %q: %w", c.Addr, err)
	}
	if len(c.Users) == 0 && !isLoopback(host) {
		return fmt.Errorf("clickhouse-http-addr %q is not a loopback address: configure users (--clickhouse-http-users) before serving it to the network", c.Addr)
	}
	seen := map[string]bool{}
	for _, u := range c.Users {
		if u.Name == "" {
			return errors.New("clickhouse-http-users: a user without a name")
		}
		if seen[u.Name] {
			return fmt.Errorf("clickhouse-http-users: user %q twice", u.Name)
		}
		seen[u.Name] = true
		if u.Readonly < 0 || u.Readonly > 2 {
			return fmt.Errorf("clickhouse-http-users: user %q: readonly=%d, want 0, 1 or 2", u.Name, u.Readonly)
		}
		if u.MaxExecutionTime < 0 || u.MaxMemoryUsage < 0 || u.MaxResultRows < 0 {
			return fmt.Errorf("clickhouse-http-users: user %q: negative limit", u.Name)
		}
	}
	if c.MaxBodyBytes <= 0 || c.MaxConcurrentQueries <= 0 || c.MaxSessions < 0 {
		return errors.New("clickhouse-http: body limit and concurrent queries must be positive, sessions not negative")
	}
	if c.ReadTimeout <= 0 || c.WriteTimeout <= 0 || c.IdleTimeout <= 0 || c.SessionTimeout <= 0 || c.MaxSessionTimeout < c.SessionTimeout {
		return errors.New("clickhouse-http: timeouts must be positive and the session timeout at most the maximum")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("clickhouse-http: TLS needs both a certificate and a key")
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ParseUsers reads the users flag: entries separated by commas, each
// name:password followed by :key=value options (readonly,
// max_execution_time, max_memory_usage, max_result_rows). Name and password
// are URL-unescaped, so %3A and %2C stand for ':' and ','.
//
//	default:s3cret,grafana:pw:readonly=2:max_execution_time=60
func ParseUsers(s string) ([]User, error) {
	var out []User
	for _, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		parts := strings.Split(entry, ":")
		if len(parts) < 2 {
			return nil, fmt.Errorf("clickhouse-http-users: entry %q: want name:password[:option=value...]", redactEntry(entry))
		}
		name, err := url.PathUnescape(parts[0])
		if err != nil {
			return nil, fmt.Errorf("clickhouse-http-users: user name %q: %w", parts[0], err)
		}
		pw, err := url.PathUnescape(parts[1])
		if err != nil {
			return nil, fmt.Errorf("clickhouse-http-users: user %q: password is not URL-escaped text", name)
		}
		u := User{Name: name, Password: pw}
		for _, opt := range parts[2:] {
			k, v, ok := strings.Cut(opt, "=")
			if !ok {
				return nil, fmt.Errorf("clickhouse-http-users: user %q: option %q is not key=value", name, opt)
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("clickhouse-http-users: user %q: %s=%q is not a number", name, k, v)
			}
			switch k {
			case "readonly":
				u.Readonly = int(n)
			case "max_execution_time":
				u.MaxExecutionTime = int(n)
			case "max_memory_usage":
				u.MaxMemoryUsage = n
			case "max_result_rows":
				u.MaxResultRows = n
			default:
				return nil, fmt.Errorf("clickhouse-http-users: user %q: unknown option %q (readonly, max_execution_time, max_memory_usage, max_result_rows)", name, k)
			}
		}
		out = append(out, u)
	}
	return out, nil
}

func redactEntry(e string) string {
	if i := strings.IndexByte(e, ':'); i >= 0 {
		return e[:i] + ":***"
	}
	return e
}
