package migrationapi

import "github.com/openchoreo/obsplane/internal/migrate/state"

// Status is the state machine's status; the API serves its JSON as is.
type Status = state.Status

// normalized returns s with empty lists as [] rather than null, so the page
// never tells "none" from "missing".
func normalized(s Status) Status {
	if s.Transitions == nil {
		s.Transitions = []state.Transition{}
	}
	if s.Backfill == nil {
		s.Backfill = []state.IndexProgress{}
	}
	if s.Validations == nil {
		s.Validations = []state.Validation{}
	}
	return s
}
