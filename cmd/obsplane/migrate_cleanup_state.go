package main

import (
	"errors"

	"github.com/openchoreo/obsplane/internal/migrate/cleanup"
)

// phaseSource reads the migration's phase for the cleanup from the state
// machine in the store.
func phaseSource(env *migrateEnvironment) (cleanup.PhaseSource, error) {
	_ = env
	return nil, errors.New("the migration state machine (internal/migrate/state) is not in this build yet")
}
