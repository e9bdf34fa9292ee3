package server

import (
	"log/slog"
	"strconv"

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
	c.MaxBodyBytes, _ = strconv.ParseInt(h.MaxBodyBytes, 10, 64)
	c.ReadTimeout = config.Duration(h.ReadTimeout)
	c.WriteTimeout = config.Duration(h.WriteTimeout)
	c.IdleTimeout = config.Duration(h.IdleTimeout)
	c.MaxConcurrentQueries, _ = strconv.Atoi(h.MaxQueries)
	c.MaxSessions, _ = strconv.Atoi(h.MaxSessions)
	c.SessionTimeout = config.Duration(h.SessionTimeout)
	c.MaxSessionTimeout = config.Duration(h.MaxSessionTimeout)
	c.CORS = h.CORS == "true"
	c.TLSCert, c.TLSKey = h.TLSCert, h.TLSKey
	return c, c.Validate()
}

// clickHouseHTTP is the ClickHouse HTTP interface as a component, or nil
// when it is off or the store is not the embedded engine (a ClickHouse
// server serves its own).
func clickHouseHTTP(cfg *config.Config, st store.Store, log *slog.Logger, reg prometheus.Registerer) (*Component, error) {
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
	return &Component{Name: "clickhouse-http", Run: h.Run}, nil
}
