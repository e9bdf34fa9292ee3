package main

import (
	"time"

	"github.com/openchoreo/obsplane/internal/migrate/cleanup"
	"github.com/openchoreo/obsplane/internal/migrate/state"
)

// phaseSource is the state machine the cleanup reads the phase from (the
// rollout flags are not needed for that).
func phaseSource(env *migrateEnvironment, lease time.Duration) (cleanup.PhaseSource, error) {
	return state.New(env.st, env.cfg.Database, nil, state.Options{LockLease: lease, Log: env.log})
}
