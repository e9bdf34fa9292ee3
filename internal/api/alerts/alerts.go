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
// Rules live in otel.obsplane_alert_rules (one row per version; the newest
// wins, deletes are tombstones) and the evaluation state in
// otel.obsplane_alert_state, both created here if absent.
package alerts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/openchoreo/obsplane/internal/api/httpx"
	"github.com/openchoreo/obsplane/internal/store"
)

// Default tables of the logs adapter's rules; the metrics adapter's rules
// live in their own pair (rule names are unique per adapter, as each
// upstream module keeps its own).
const (
	DefaultRulesTable = "obsplane_alert_rules"
	DefaultStateTable = "obsplane_alert_state"
)

// DDL creates the rule and state tables. ReplacingMergeTree keeps the newest
// Version of each Name; reads use FINAL so they never see an old version.
// Metric is the metrics adapter's source.metric (empty for log rules).
func DDL(rules, state string) []string {
	return []string{`CREATE TABLE IF NOT EXISTS otel.` + rules + ` (
		Name String,
		Namespace String,
		ProjectUID String,
		EnvironmentUID String,
		ComponentUID String,
		Query String,
		Enabled UInt8,
		Window String,
		Interval String,
		Operator LowCardinality(String),
		Threshold Float64,
		BackendID String,
		UpdatedAt DateTime64(3, 'UTC'),
		UpdatedBy String,
		Version UInt64,
		Deleted UInt8 DEFAULT 0,
		Metric LowCardinality(String) DEFAULT ''
	) ENGINE = ReplacingMergeTree(Version, Deleted) ORDER BY Name`,
		// Tables created before rules had a metric.
		`ALTER TABLE otel.` + rules + ` ADD COLUMN IF NOT EXISTS Metric LowCardinality(String) DEFAULT ''`,
		`CREATE TABLE IF NOT EXISTS otel.` + state + ` (
		Name String,
		State LowCardinality(String),
		EvaluatedAt DateTime64(3, 'UTC'),
		Value Float64,
		LastFiredAt DateTime64(3, 'UTC'),
		LastError String,
		Version UInt64
	) ENGINE = ReplacingMergeTree(Version) ORDER BY Name`,
	}
}

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
	// Metric is the metric a metrics adapter rule watches (cpu_usage,
	// memory_usage, budget); empty for a log rule.
	Metric    string
	Enabled   bool
	Window    string
	Interval  string
	Operator  string
	Threshold float64
	BackendID string
	UpdatedAt time.Time
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
// the enum.
func (r *Rule) Validate() error {
	if r.Name == "" || len(r.Name) > MaxName {
		return httpx.BadRequest("metadata.name must be 1 to %d characters", MaxName)
	}
	if r.Namespace == "" || len(r.Namespace) > MaxName {
		return httpx.BadRequest("metadata.namespace must be 1 to %d characters", MaxName)
	}
	for n, v := range map[string]string{"projectUid": r.ProjectUID, "environmentUid": r.EnvironmentUID, "componentUid": r.ComponentUID} {
		if _, err := uuid.Parse(v); err != nil || len(v) != 36 {
			return httpx.BadRequest("metadata.%s %q is not a UUID", n, httpx.Truncate(v, 64))
		}
	}
	if len(r.Query) > MaxQuery {
		return httpx.BadRequest("source.query is %d bytes long; the maximum is %d", len(r.Query), MaxQuery)
	}
	w, err := time.ParseDuration(r.Window)
	if err != nil || w <= 0 || (w%time.Minute != 0) || w > MaxWindow {
		return httpx.BadRequest("condition.window %q must be a positive whole number of minutes or hours, at most %s (e.g. 5m, 1h)", httpx.Truncate(r.Window, 32), MaxWindow)
	}
	iv, err := time.ParseDuration(r.Interval)
	if err != nil || iv < MinInterval || iv%time.Minute != 0 || iv > MaxInterval {
		return httpx.BadRequest("condition.interval %q must be a positive whole number of minutes, at most %s (e.g. 1m)", httpx.Truncate(r.Interval, 32), MaxInterval)
	}
	if _, ok := Operators[r.Operator]; !ok {
		return httpx.BadRequest("condition.operator %q is not one of gt, gte, lt, lte, eq, neq", httpx.Truncate(r.Operator, 32))
	}
	switch r.Metric {
	case "", "cpu_usage", "memory_usage", "budget":
	default:
		return httpx.BadRequest("source.metric %q is not one of cpu_usage, memory_usage, budget", httpx.Truncate(r.Metric, 32))
	}
	return nil
}

// Manager stores and evaluates rules.
type Manager struct {
	Store store.Store
	Log   *slog.Logger
	// WebhookURL receives fired alerts; empty disables delivery (the state
	// still shows "firing").
	WebhookURL string
	Client     *http.Client
	Throttle   time.Duration
	// Tick is how often the scheduler looks for due rules.
	Tick   time.Duration
	Limits httpx.Limits
	Now    func() time.Time
	// RulesTable and StateTable name the tables in database otel
	// (DefaultRulesTable, DefaultStateTable when empty).
	RulesTable, StateTable string
	// Evaluate, when set, computes a rule's value at a time and whether
	// the rule's condition holds (the metrics adapter's rules); otherwise
	// the value is Count's and the condition its operator and threshold.
	Evaluate func(ctx context.Context, r *Rule, at time.Time) (value float64, holds bool, err error)

	mu      sync.Mutex // serializes writes, so create/update/delete see each other
	version atomic.Uint64
}

func (m *Manager) rules() string {
	if m.RulesTable != "" {
		return m.RulesTable
	}
	return DefaultRulesTable
}

func (m *Manager) state() string {
	if m.StateTable != "" {
		return m.StateTable
	}
	return DefaultStateTable
}

func (m *Manager) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

func (m *Manager) settings() []store.Setting {
	l := m.Limits
	if l == (httpx.Limits{}) {
		l = httpx.DefaultLimits
	}
	s := l.Settings()
	// readonly would refuse the state writes; reads here are ours, not
	// users', so only the resource limits apply.
	return s[:3]
}

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
	if err := m.Store.Exec(ctx, "CREATE DATABASE IF NOT EXISTS otel", nil); err != nil {
		return fmt.Errorf("alerts: create database: %w", err)
	}
	for _, q := range DDL(m.rules(), m.state()) {
		if err := m.Store.Exec(ctx, q, nil); err != nil {
			return fmt.Errorf("alerts: create tables: %w", err)
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
	Metric         string  `json:"Metric"`
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
		ComponentUID: r.ComponentUID, Query: r.Query, Metric: r.Metric, Enabled: r.Enabled != 0, Window: r.Window, Interval: r.Interval,
		Operator: r.Operator, Threshold: r.Threshold, BackendID: r.BackendID, UpdatedAt: httpx.ParseCHTime(r.UpdatedAt)}
}

const ruleCols = `Name, Namespace, ProjectUID, EnvironmentUID, ComponentUID, Query, Metric, Enabled, Window, Interval, Operator, Threshold, BackendID, toString(UpdatedAt) AS UpdatedAt`

// list reads the live rules, all or the one called name.
func (m *Manager) list(ctx context.Context, name *string) ([]Rule, error) {
	q := "SELECT " + ruleCols + " FROM otel." + m.rules() + " FINAL WHERE Deleted = 0"
	p := store.Params{}
	if name != nil {
		q += " AND Name = {name:String}"
		p["name"] = *name
	}
	q += " ORDER BY Name"
	rows, err := m.Store.Query(ctx, q, p, m.settings()...)
	if err != nil {
		return nil, fmt.Errorf("alerts: read rules: %w", err)
	}
	defer rows.Close()
	var out []Rule
	for rows.Next() {
		var r ruleRow
		if err := rows.Scan(&r); err != nil {
			return nil, fmt.Errorf("alerts: decode rule: %w", err)
		}
		out = append(out, r.rule())
	}
	return out, rows.Err()
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
	q := `INSERT INTO otel.` + m.rules() + ` (Name, Namespace, ProjectUID, EnvironmentUID, ComponentUID, Query, Metric, Enabled,
		Window, Interval, Operator, Threshold, BackendID, UpdatedAt, UpdatedBy, Version, Deleted)
		VALUES ({name:String}, {ns:String}, {p:String}, {e:String}, {c:String}, {q:String}, {metric:String}, {en:UInt8},
		{w:String}, {i:String}, {op:String}, {t:Float64}, {bid:String}, {at:DateTime64(3, 'UTC')}, {by:String}, {v:UInt64}, {d:UInt8})`
	en, d := "0", "0"
	if r.Enabled {
		en = "1"
	}
	if deleted {
		d = "1"
	}
	p := store.Params{"name": r.Name, "ns": r.Namespace, "p": r.ProjectUID, "e": r.EnvironmentUID, "c": r.ComponentUID,
		"q": r.Query, "metric": r.Metric, "en": en, "w": r.Window, "i": r.Interval, "op": r.Operator,
		"t": strconv.FormatFloat(r.Threshold, 'g', -1, 64), "bid": r.BackendID,
		"at": r.UpdatedAt.UTC().Format("2006-01-02 15:04:05.000"), "by": by,
		"v": strconv.FormatUint(m.nextVersion(), 10), "d": d}
	if err := m.Store.Exec(ctx, q, p); err != nil {
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
	rows, err := m.Store.Query(ctx, `SELECT Name, State, toString(EvaluatedAt) AS EvaluatedAt, Value,
		toString(LastFiredAt) AS LastFiredAt, LastError FROM otel.`+m.state()+` FINAL`, nil, m.settings()...)
	if err != nil {
		return nil, fmt.Errorf("alerts: read state: %w", err)
	}
	defer rows.Close()
	out := map[string]State{}
	for rows.Next() {
		var r struct {
			Name, State, EvaluatedAt, LastFiredAt, LastError string
			Value                                            float64
		}
		if err := rows.Scan(&r); err != nil {
			return nil, fmt.Errorf("alerts: decode state: %w", err)
		}
		st := State{State: r.State, EvaluatedAt: httpx.ParseCHTime(r.EvaluatedAt), Value: r.Value, LastError: r.LastError}
		if t := httpx.ParseCHTime(r.LastFiredAt); t.Unix() > 0 {
			st.LastFiredAt = t
		}
		out[r.Name] = st
	}
	return out, rows.Err()
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
		fired = st.LastFiredAt.UTC().Format("2006-01-02 15:04:05.000")
	}
	return m.Store.Exec(ctx, `INSERT INTO otel.`+m.state()+` (Name, State, EvaluatedAt, Value, LastFiredAt, LastError, Version)
		VALUES ({n:String}, {s:String}, {at:DateTime64(3, 'UTC')}, {v:Float64}, {f:DateTime64(3, 'UTC')}, {e:String}, {ver:UInt64})`,
		store.Params{"n": name, "s": st.State, "at": st.EvaluatedAt.UTC().Format("2006-01-02 15:04:05.000"),
			"v": strconv.FormatFloat(st.Value, 'g', -1, 64), "f": fired, "e": st.LastError,
			"ver": strconv.FormatUint(m.nextVersion(), 10)})
}

// Count runs a rule's query: matching lines in (at-window, at].
func (m *Manager) Count(ctx context.Context, r *Rule, at time.Time) (float64, error) {
	w, err := time.ParseDuration(r.Window)
	if err != nil {
		return 0, err
	}
	q := `SELECT count() AS n FROM otel.otel_logs
		WHERE OpenChoreoNamespace = {ns:String} AND OpenChoreoProjectUID = {p:String}
		AND OpenChoreoEnvironmentUID = {e:String} AND OpenChoreoComponentUID = {c:String}
		AND Timestamp > {from:DateTime64(9, 'UTC')} AND Timestamp <= {to:DateTime64(9, 'UTC')}`
	p := store.Params{"ns": r.Namespace, "p": r.ProjectUID, "e": r.EnvironmentUID, "c": r.ComponentUID,
		"from": httpx.TimeParam(at.Add(-w)), "to": httpx.TimeParam(at)}
	if r.Query != "" {
		q += " AND positionCaseInsensitiveUTF8(Body, {q:String}) > 0"
		p["q"] = r.Query
	}
	rows, err := m.Store.Query(ctx, q, p, m.settings()...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var n struct {
		N float64 `json:"n"`
	}
	for rows.Next() {
		if err := rows.Scan(&n); err != nil {
			return 0, err
		}
	}
	return n.N, rows.Err()
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
	var v float64
	var holds bool
	var err error
	if m.Evaluate != nil {
		v, holds, err = m.Evaluate(ctx, r, now)
	} else if v, err = m.Count(ctx, r, now); err == nil {
		holds = Operators[r.Operator](v, r.Threshold)
	}
	st.EvaluatedAt = now
	if err != nil {
		st.State, st.LastError = "error", err.Error()
		_ = m.saveState(ctx, r.Name, st)
		return fmt.Errorf("alerts: evaluate %q: %w", r.Name, err)
	}
	st.Value, st.LastError = v, ""
	if !holds {
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
