package migrationapi

import "time"

// Status is the migration state machine's status as the API serves it (the
// fields of state.Status, contract section 2, in camelCase JSON). The API
// owns this shape so the page and scripts reading it do not change when the
// state package's Go types do.
type Status struct {
	Phase             string          `json:"phase"`
	Since             time.Time       `json:"since,omitzero"`
	Pending           *Transition     `json:"pending"`
	Transitions       []Transition    `json:"transitions"`
	Backfill          []IndexProgress `json:"backfill"`
	Validations       []Validation    `json:"validations"`
	RolloutPercent    int             `json:"rolloutPercent"`
	ShadowWrite       bool            `json:"shadowWrite"`
	ClickStackPrimary bool            `json:"clickstackPrimary"`
}

// Transition is one audited phase change, newest first in Status.
type Transition struct {
	Seq    uint64            `json:"seq"`
	From   string            `json:"from"`
	To     string            `json:"to"`
	Actor  string            `json:"actor"`
	Reason string            `json:"reason"`
	At     time.Time         `json:"at"`
	Status string            `json:"status"`
	Detail map[string]string `json:"detail,omitempty"`
}

// IndexProgress is the backfill's progress on one index.
type IndexProgress struct {
	Index    string `json:"index"`
	Signal   string `json:"signal"`
	Docs     int64  `json:"docs"`
	DocsDone int64  `json:"docsDone"`
	Done     bool   `json:"done"`
}

// Validation is one validation run's result, newest first in Status.
type Validation struct {
	At           time.Time          `json:"at"`
	Passed       bool               `json:"passed"`
	DriftPercent float64            `json:"driftPercent"`
	PerNamespace map[string]float64 `json:"perNamespace,omitempty"`
}

// normalized returns s with empty lists as [] rather than null, so the page
// never tells "none" from "missing".
func (s Status) normalized() Status {
	if s.Transitions == nil {
		s.Transitions = []Transition{}
	}
	if s.Backfill == nil {
		s.Backfill = []IndexProgress{}
	}
	if s.Validations == nil {
		s.Validations = []Validation{}
	}
	return s
}
