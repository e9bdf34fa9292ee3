package server

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/openchoreo/obsplane/internal/chhttp"
	"github.com/openchoreo/obsplane/internal/config"
	"github.com/openchoreo/obsplane/internal/store"
	"github.com/openchoreo/obsplane/internal/store/chdb"
)

// ClickHouseHTTPConfig is the interface's configuration from cfg.
func ClickHouseHTTPConfig(cfg *config.Config) (chhttp.Config, error) {
	c := chhttp.DefaultConfig()
	h := cfg.ClickHouseHTTP
	c.Addr = cfg.Listen.ClickHouseHTTP
	users, err := chhttp.ParseUsers(h.Users)
	if err != nil {
		return c, err
	}
	c.Users = users
	c.MaxBodyBytes = int64(h.MaxBody)
	c.ReadTimeout, c.WriteTimeout, c.IdleTimeout = h.ReadTimeout, h.WriteTimeout, h.IdleTimeout
	c.MaxConcurrentQueries, c.MaxSessions = h.MaxQueries, h.MaxSessions
	c.SessionTimeout, c.MaxSessionTimeout = h.SessionTimeout, h.MaxSessionTimeout
	c.CORS = h.CORS
	c.TLSCert, c.TLSKey = h.TLSCert, h.TLSKey
	return c, c.Validate()
}

// clickHouseHTTP is the ClickHouse HTTP interface as a listener, or nil
// when it is off or the store is not the embedded engine (a ClickHouse
// server serves its own).
func clickHouseHTTP(cfg *config.Config, st store.Store, log *slog.Logger, reg prometheus.Registerer) (*component, error) {
	if cfg.Listen.ClickHouseHTTP == config.Off {
		return nil, nil
	}
	emb, ok := st.(*chdb.Store)
	if !ok {
		log.Info("ClickHouse HTTP interface not served: the store is a ClickHouse server", "addr", cfg.Listen.ClickHouseHTTP)
		return nil, nil
	}
	c, err := ClickHouseHTTPConfig(cfg)
	if err != nil {
		return nil, err
	}
	h, err := chhttp.New(c, emb, log, reg)
	if err != nil {
		return nil, err
	}
	return &component{"clickhouse-http", h.Run}, nil
}
