// Package alerts stores OpenChoreo log alert rules in ClickHouse, evaluates
// them on a schedule and calls the configured webhook when one fires.
//
// A rule (the logs adapter contract's AlertRuleRequest) counts the log lines
// of one component (namespace, project, environment and component uid) whose
// text contains the rule's query, case-insensitively, over the last
// `window`, every `interval`, and compares the count with `threshold` by
// `operator`. This is what OpenChoreo's OpenSearch module asks an OpenSearch
// monitor to do. When the condition holds, the webhook gets the payload the
// OpenChoreo Observer's /api/v1alpha1/alerts/webhook takes
// ({"ruleName","ruleNamespace","alertValue","alertTimestamp"}); while it
// keeps holding, the webhook is called again at most once per Throttle
// (60 minutes, as the OpenSearch monitors are set up).
//
// Rules live in <database>.obsplane_alert_rules (one row per version; the
// newest wins, deletes are tombstones) and the evaluation state in
// <database>.obsplane_alert_state, both created by EnsureTables if absent;
// the statements are the embedded templates of sql/rules.sql. A rule's count
// is a read of the read model (readmodel.Logs.CountLogs) scoped to the
// rule's namespace. The HTTP endpoints are the logs adapter's
// (internal/api/logsadapter).
package alerts

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/openchoreo/obsplane/internal/readmodel"
	"github.com/openchoreo/obsplane/internal/store"
)

//go:embed sql/*.sql
var sqlFiles embed.FS

var templates = store.MustTemplates(sqlFiles, "sql/*.sql", nil)

// Operators of the contract, with their comparison.
var Operators = map[string]func(v, t float64) bool{
	"gt":  func(v, t float64) bool { return v > t },
	"gte": func(v, t float64) bool { return v >= t },
	"lt":  func(v, t float64) bool { return v < t },
	"lte": func(v, t float64) bool { return v <= t },
	"eq":  func(v, t float64) bool { return v == t },
	"neq": func(v, t float64) bool { return v != t },
}

// Rule is a stored alert rule.
type Rule struct {
	Name           string
	Namespace      string
	ProjectUID     string
	EnvironmentUID string
	ComponentUID   string
	Query          string
	Enabled        bool
	Window         string
	Interval       string
	Operator       string
	Threshold      float64
	BackendID      string
	UpdatedAt      time.Time
}

// State is a rule's last evaluation.
type State struct {
	// State is "firing", "ok", "pending" (not evaluated yet), "disabled" or
	// "error".
	State       string    `json:"state"`
	EvaluatedAt time.Time `json:"lastEvaluatedAt,omitzero"`
	Value       float64   `json:"lastValue"`
	LastFiredAt time.Time `json:"lastFiredAt,omitzero"`
	LastError   string    `json:"lastError,omitempty"`
}

// Limits on rule fields.
const (
	MaxName         = 253
	MaxQuery        = 1024
	MaxWindow       = 24 * time.Hour
	MinInterval     = time.Minute
	MaxInterval     = 24 * time.Hour
	DefaultThrottle = 60 * time.Minute
)

// Validate checks a rule as the contract and the OpenSearch module do:
// uids are UUIDs, window a positive whole number of minutes or hours (at
// most a day), interval a positive whole number of minutes, operator one of
// the enum. Its errors are readmodel Invalid errors naming the field.
func (r *Rule) Validate() error {
	if r.Name == "" || len(r.Name) > MaxName {
		return readmodel.Invalid("metadata.name must be 1 to %d characters", MaxName)
	}
	if r.Namespace == "" || len(r.Namespace) > MaxName {
		return readmodel.Invalid("metadata.namespace must be 1 to %d characters", MaxName)
	}
	for n, v := range map[string]string{"projectUid": r.ProjectUID, "environmentUid": r.EnvironmentUID, "componentUid": r.ComponentUID} {
		if _, err := uuid.Parse(v); err != nil || len(v) != 36 {
			return readmodel.Invalid("metadata.%s %q is not a UUID", n, truncate(v, 64))
		}
	}
	if len(r.Query) > MaxQuery {
		return readmodel.Invalid("source.query is %d bytes long; the maximum is %d", len(r.Query), MaxQuery)
	}
	w, err := time.ParseDuration(r.Window)
	if err != nil || w <= 0 || (w%time.Minute != 0) || w > MaxWindow {
		return readmodel.Invalid("condition.window %q must be a positive whole number of minutes or hours, at most %s (e.g. 5m, 1h)", truncate(r.Window, 32), MaxWindow)
	}
	iv, err := time.ParseDuration(r.Interval)
	if err != nil || iv < MinInterval || iv%time.Minute != 0 || iv > MaxInterval {
		return readmodel.Invalid("condition.interval %q must be a positive whole number of minutes, at most %s (e.g. 1m)", truncate(r.Interval, 32), MaxInterval)
	}
	if _, ok := Operators[r.Operator]; !ok {
		return readmodel.Invalid("condition.operator %q is not one of gt, gte, lt, lte, eq, neq", truncate(r.Operator, 32))
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// Manager stores and evaluates rules.
type Manager struct {
	Store store.Store
	// Database holds the rule and state tables; empty means otel.
	Database string
	// Reads counts a rule's lines.
	Reads readmodel.Logs
	Log   *slog.Logger
	// WebhookURL receives fired alerts; empty disables delivery (the state
	// still shows "firing").
	WebhookURL string
	Client     *http.Client
	Throttle   time.Duration
	// Tick is how often the scheduler looks for due rules.
	Tick time.Duration
	Now  func() time.Time

	mu      sync.Mutex // serializes writes, so create/update/delete see each other
	version atomic.Uint64
}

func (m *Manager) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// stmt starts a statement on the manager's database.
func (m *Manager) stmt(q any) *store.Stmt {
	db := m.Database
	if db == "" {
		db = "otel"
	}
	return store.NewStmt(db, q)
}

// exec renders and runs a statement that returns no rows.
func (m *Manager) exec(ctx context.Context, name string, q any) error {
	s := m.stmt(q)
	sql, err := templates.Render(name, s)
	if err != nil {
		return err
	}
	return m.Store.Exec(ctx, sql, s.Params)
}

// ms renders t for a DateTime64(3) parameter.
func ms(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000") }

// nextVersion is strictly increasing within the process and follows the
// clock across restarts.
func (m *Manager) nextVersion() uint64 {
	for {
		old := m.version.Load()
		v := uint64(time.Now().UnixNano())
		if v <= old {
			v = old + 1
		}
		if m.version.CompareAndSwap(old, v) {
			return v
		}
	}
}

// EnsureTables creates the tables if they are missing.
func (m *Manager) EnsureTables(ctx context.Context) error {
	for _, name := range []string{"create_database", "create_rules", "create_state"} {
		if err := m.exec(ctx, name, nil); err != nil {
			return fmt.Errorf("alerts: %s: %w", name, err)
		}
	}
	return nil
}

// ErrNotFound and ErrExists are the 404 and 409 cases.
var (
	ErrNotFound = errors.New("alert rule not found")
	ErrExists   = errors.New("alert rule already exists")
)

type ruleRow struct {
	Name           string  `json:"Name"`
	Namespace      string  `json:"Namespace"`
	ProjectUID     string  `json:"ProjectUID"`
	EnvironmentUID string  `json:"EnvironmentUID"`
	ComponentUID   string  `json:"ComponentUID"`
	Query          string  `json:"Query"`
	Enabled        int     `json:"Enabled"`
	Window         string  `json:"Window"`
	Interval       string  `json:"Interval"`
	Operator       string  `json:"Operator"`
	Threshold      float64 `json:"Threshold"`
	BackendID      string  `json:"BackendID"`
	UpdatedAt      string  `json:"UpdatedAt"`
}

func (r ruleRow) rule() Rule {
	return Rule{Name: r.Name, Namespace: r.Namespace, ProjectUID: r.ProjectUID, EnvironmentUID: r.EnvironmentUID,
		ComponentUID: r.ComponentUID, Query: r.Query, Enabled: r.Enabled != 0, Window: r.Window, Interval: r.Interval,
		Operator: r.Operator, Threshold: r.Threshold, BackendID: r.BackendID, UpdatedAt: store.ParseTime(r.UpdatedAt)}
}

// list reads the live rules, all or the one called name.
func (m *Manager) list(ctx context.Context, name *string) ([]Rule, error) {
	one := "" // rule names are never empty: "" reads them all
	if name != nil {
		one = *name
	}
	rows, err := read[ruleRow](ctx, m, "rules", one)
	if err != nil {
		return nil, err
	}
	out := make([]Rule, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.rule())
	}
	return out, nil
}

// read renders the named statement and decodes its rows.
func read[R any](ctx context.Context, m *Manager, name string, q any) ([]R, error) {
	s := m.stmt(q)
	sql, err := templates.Render(name, s)
	if err != nil {
		return nil, err
	}
	rows, err := store.ScanAll[R](ctx, m.Store, sql, s.Params)
	if err != nil {
		return nil, fmt.Errorf("alerts: %s: %w", name, err)
	}
	return rows, nil
}

// List returns every live rule.
func (m *Manager) List(ctx context.Context) ([]Rule, error) { return m.list(ctx, nil) }

// Get returns the rule called name.
func (m *Manager) Get(ctx context.Context, name string) (*Rule, error) {
	rs, err := m.list(ctx, &name)
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		return nil, ErrNotFound
	}
	return &rs[0], nil
}

func (m *Manager) write(ctx context.Context, r *Rule, deleted bool, by string) error {
	q := struct {
		Rule    *Rule
		At, By  string
		Version uint64
		Deleted bool
	}{r, ms(r.UpdatedAt), by, m.nextVersion(), deleted}
	if err := m.exec(ctx, "write_rule", q); err != nil {
		return fmt.Errorf("alerts: write rule %q: %w", r.Name, err)
	}
	return nil
}

// Create stores a new rule; ErrExists if one with the name is live.
func (m *Manager) Create(ctx context.Context, r Rule, by string) (*Rule, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.Get(ctx, r.Name); err == nil {
		return nil, ErrExists
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	r.BackendID = uuid.NewString()
	r.UpdatedAt = m.now().UTC().Truncate(time.Millisecond)
	if err := m.write(ctx, &r, false, by); err != nil {
		return nil, err
	}
	return &r, nil
}

// Update replaces a live rule; the second result says whether anything
// changed.
func (m *Manager) Update(ctx context.Context, r Rule, by string) (*Rule, bool, error) {
	if err := r.Validate(); err != nil {
		return nil, false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old, err := m.Get(ctx, r.Name)
	if err != nil {
		return nil, false, err
	}
	r.BackendID = old.BackendID
	r.UpdatedAt = old.UpdatedAt
	if r == *old {
		return old, false, nil
	}
	r.UpdatedAt = m.now().UTC().Truncate(time.Millisecond)
	if err := m.write(ctx, &r, false, by); err != nil {
		return nil, false, err
	}
	return &r, true, nil
}

// Delete tombstones a live rule.
func (m *Manager) Delete(ctx context.Context, name, by string) (*Rule, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	old, err := m.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	old.UpdatedAt = m.now().UTC().Truncate(time.Millisecond)
	if err := m.write(ctx, old, true, by); err != nil {
		return nil, err
	}
	return old, nil
}

// States returns the evaluation state of every rule that has one.
func (m *Manager) States(ctx context.Context) (map[string]State, error) {
	rows, err := read[struct {
		Name, State, EvaluatedAt, LastFiredAt, LastError string
		Value                                            float64
	}](ctx, m, "states", nil)
	if err != nil {
		return nil, err
	}
	out := map[string]State{}
	for _, r := range rows {
		st := State{State: r.State, EvaluatedAt: store.ParseTime(r.EvaluatedAt), Value: r.Value, LastError: r.LastError}
		if t := store.ParseTime(r.LastFiredAt); t.Unix() > 0 {
			st.LastFiredAt = t
		}
		out[r.Name] = st
	}
	return out, nil
}

// StateOf is the state shown for rule r given the stored states.
func StateOf(r *Rule, states map[string]State) State {
	st, ok := states[r.Name]
	switch {
	case !r.Enabled:
		st.State = "disabled"
	case !ok || st.EvaluatedAt.Before(r.UpdatedAt):
		// Not evaluated since it was (re)defined.
		st.State = "pending"
	}
	return st
}

func (m *Manager) saveState(ctx context.Context, name string, st State) error {
	fired := "1970-01-01 00:00:00.000"
	if !st.LastFiredAt.IsZero() {
		fired = ms(st.LastFiredAt)
	}
	return m.exec(ctx, "write_state", struct {
		Name      string
		State     State
		At, Fired string
		Version   uint64
	}{name, st, ms(st.EvaluatedAt), fired, m.nextVersion()})
}

// Count runs a rule's query: its component's lines in (at-window, at]
// containing the query text, read within the rule's namespace.
func (m *Manager) Count(ctx context.Context, r *Rule, at time.Time) (float64, error) {
	w, err := time.ParseDuration(r.Window)
	if err != nil {
		return 0, err
	}
	n, err := m.Reads.CountLogs(ctx, readmodel.Tenancy{Subject: "alert-rule " + r.Name, Namespaces: []string{r.Namespace}},
		readmodel.LogCount{Namespace: r.Namespace, ProjectUID: r.ProjectUID, EnvironmentUID: r.EnvironmentUID,
			ComponentUID: r.ComponentUID, Phrase: r.Query, From: at.Add(-w), To: at})
	return float64(n), err
}

// EvaluateDue evaluates every enabled rule whose interval has passed since
// its last evaluation, fires webhooks, and records the new states.
func (m *Manager) EvaluateDue(ctx context.Context) error {
	rules, err := m.List(ctx)
	if err != nil {
		return err
	}
	states, err := m.States(ctx)
	if err != nil {
		return err
	}
	now := m.now().UTC()
	var errs []error
	for i := range rules {
		r := &rules[i]
		if !r.Enabled {
			continue
		}
		st := states[r.Name]
		iv, _ := time.ParseDuration(r.Interval)
		if !st.EvaluatedAt.IsZero() && !st.EvaluatedAt.Before(r.UpdatedAt) && now.Sub(st.EvaluatedAt) < iv {
			continue
		}
		if err := m.evaluate(ctx, r, st, now); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (m *Manager) evaluate(ctx context.Context, r *Rule, st State, now time.Time) error {
	v, err := m.Count(ctx, r, now)
	st.EvaluatedAt = now
	if err != nil {
		st.State, st.LastError = "error", err.Error()
		_ = m.saveState(ctx, r.Name, st)
		return fmt.Errorf("alerts: evaluate %q: %w", r.Name, err)
	}
	st.Value, st.LastError = v, ""
	if !Operators[r.Operator](v, r.Threshold) {
		st.State = "ok"
		return m.saveState(ctx, r.Name, st)
	}
	throttle := m.Throttle
	if throttle == 0 {
		throttle = DefaultThrottle
	}
	if st.State != "firing" || st.LastFiredAt.IsZero() || now.Sub(st.LastFiredAt) >= throttle {
		if err := m.notify(ctx, r, v, now); err != nil {
			// Delivery failed: stay un-fired so the next evaluation retries.
			st.State, st.LastError = "error", err.Error()
			_ = m.saveState(ctx, r.Name, st)
			return err
		}
		st.LastFiredAt = now
	}
	st.State = "firing"
	return m.saveState(ctx, r.Name, st)
}

// WebhookPayload is what the Observer's alert webhook takes.
type WebhookPayload struct {
	RuleName       string  `json:"ruleName"`
	RuleNamespace  string  `json:"ruleNamespace"`
	AlertValue     float64 `json:"alertValue"`
	AlertTimestamp string  `json:"alertTimestamp"`
}

func (m *Manager) notify(ctx context.Context, r *Rule, v float64, at time.Time) error {
	if m.WebhookURL == "" {
		return nil
	}
	return Post(ctx, m.client(), m.WebhookURL, WebhookPayload{RuleName: r.Name, RuleNamespace: r.Namespace,
		AlertValue: v, AlertTimestamp: at.UTC().Format(time.RFC3339)})
}

func (m *Manager) client() *http.Client {
	if m.Client != nil {
		return m.Client
	}
	return &http.Client{Timeout: 10 * time.Second}
}

// Post sends payload as JSON and wants a 2xx.
func Post(ctx context.Context, c *http.Client, url string, payload any) error {
	b, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("alerts: webhook %s: %w", url, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("alerts: webhook: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("alerts: webhook %s answered %s", url, resp.Status)
	}
	return nil
}

// Forward relays a webhook body received by the adapter to the Observer.
func (m *Manager) Forward(ctx context.Context, p WebhookPayload) error {
	if m.WebhookURL == "" {
		return nil
	}
	return Post(ctx, m.client(), m.WebhookURL, p)
}

// Run evaluates due rules every Tick until ctx ends.
func (m *Manager) Run(ctx context.Context) error {
	tick := m.Tick
	if tick == 0 {
		tick = 15 * time.Second
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			ectx, cancel := context.WithTimeout(ctx, tick*4)
			if err := m.EvaluateDue(ectx); err != nil && ctx.Err() == nil && m.Log != nil {
				m.Log.Warn("alert evaluation", "err", err)
			}
			cancel()
		}
	}
}
