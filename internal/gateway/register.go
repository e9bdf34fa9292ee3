package gateway

import (
	"context"
	"fmt"
	"os"

	"github.com/openchoreo/obsplane/internal/config"
	"github.com/openchoreo/obsplane/internal/server"
	"github.com/openchoreo/obsplane/internal/version"
)

func init() { server.Register(hook) }

// hook runs the gateway in serve when the gateway component is on: the
// built-in pipeline on the configured listeners, or the collector config
// file named by --gateway-config (obsplane gateway --config FILE).
func hook(_ context.Context, env *server.Env) ([]server.Component, error) {
	cfg := env.Config
	if !cfg.Has("gateway") {
		return nil, nil
	}
	s := Settings{Store: env.Store, Registerer: env.Registry, Version: version.Version}
	if cfg.Gateway.Config != "" {
		if _, err := os.Stat(cfg.Gateway.Config); err != nil {
			return nil, fmt.Errorf("--gateway-config: %w", err)
		}
		s.ConfigFile = cfg.Gateway.Config
	} else {
		yaml, err := DefaultConfig(paramsFor(cfg))
		if err != nil {
			return nil, err
		}
		s.ConfigYAML = yaml
	}
	return []server.Component{{Name: "gateway", Run: func(ctx context.Context) error { return Run(ctx, s) }}}, nil
}

// paramsFor maps serve's config onto the default pipeline.
func paramsFor(cfg *config.Config) Params {
	return Params{
		OTLPGRPCAddr: cfg.Listen.OTLPGRPC,
		OTLPHTTPAddr: cfg.Listen.OTLPHTTP,
		ForwardAddr:  cfg.Listen.Forward,
		DataDir:      cfg.DataDir,
	}
}
