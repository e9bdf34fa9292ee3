package router

import (
	"strings"
	"testing"
	"time"

	"github.com/openchoreo/obsplane/internal/router/flags"
)

// TestClickStackPrimaryFlag: the cutover's switch sends every read to
// ClickHouse whatever the rollout says, and turning it off gives the
// rollout back its say; a second process's change reaches the router on a
// refresh.
func TestClickStackPrimaryFlag(t *testing.T) {
	h := newHarness(t, nil, nil)
	ctx := ctxT(t)
	ch, os := backend("ch", Result{}, nil), backend("os", Result{}, nil)
	u := userOut(50)
	h.setRollout(t, 50)
	if got := h.r.Primary(u); got != OpenSearch {
		t.Fatalf("user outside 50%%: %s, want opensearch", got)
	}
	for _, name := range []string{flags.UseClickHouse, flags.ShadowWrite, flags.ClickStackPrimary} {
		if _, ok := h.fl.Get(name); !ok {
			t.Errorf("flag %s is not defined: PATCH /api/v1/flags/%s would answer 404", name, name)
		}
	}
	if f, _ := h.fl.Get(flags.ClickStackPrimary); f.Enabled {
		t.Fatal("clickstack_primary is on by default")
	}

	// Another process (migrate cutover) switches the primary.
	other, err := NewFlags(st, h.r.cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	on := true
	if _, _, err := other.Update(ctx, flags.ClickStackPrimary, flags.Change{Enabled: &on}, "cutover", "ramp reached 100"); err != nil {
		t.Fatal(err)
	}
	if got := h.r.Primary(u); got != OpenSearch {
		t.Fatalf("before the refresh: %s", got)
	}
	if err := h.fl.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	for _, user := range []string{u, userOut(99), userIn(1)} {
		if v, _ := h.r.Do(ctx, user, "logs.query", ch, os); v != "ch" {
			t.Fatalf("clickstack_primary on: %s answered by %v, want ch", user, v)
		}
	}
	off := false
	if _, _, err := h.fl.Update(ctx, flags.ClickStackPrimary, flags.Change{Enabled: &off}, "rollback", "back to OpenSearch"); err != nil {
		t.Fatal(err)
	}
	if v, _ := h.r.Do(ctx, u, "logs.query", ch, os); v != "os" {
		t.Fatalf("clickstack_primary off: answered by %v, want os (the rollout rules again)", v)
	}
	if v, _ := h.r.Do(ctx, userIn(50), "logs.query", ch, os); v != "ch" {
		t.Fatalf("clickstack_primary off: a user in the rollout answered by %v, want ch", v)
	}
}

// TestShadowWriteDefault: --shadow-write seeds the flag (dual write on
// from the start); a stored value wins over it.
func TestShadowWriteDefault(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.ShadowWriteDefault = true }, nil)
	if f, _ := h.fl.Get(flags.ShadowWrite); !f.Enabled {
		t.Fatal("ShadowWriteDefault did not seed shadow_write on")
	}
	off := false
	if _, _, err := h.fl.Update(ctxT(t), flags.ShadowWrite, flags.Change{Enabled: &off}, "test", "off"); err != nil {
		t.Fatal(err)
	}
	again, err := NewFlags(st, h.r.cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := again.Refresh(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if f, _ := again.Get(flags.ShadowWrite); f.Enabled {
		t.Fatal("a restarted process with --shadow-write ignored the stored off")
	}
}

// TestHybridRouting: in hybrid mode OpenSearch answers the listed reads
// whose range starts within its last Days days, ClickHouse the rest, and
// the rollout flags have no say.
func TestHybridRouting(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Hybrid = HybridConfig{Enabled: true, Days: 7, Ops: []string{"logs.query", "traces.query"}}
	}, nil)
	ctx := ctxT(t)
	now := h.clock.Now()
	ch, os := backend("ch", Result{}, nil), backend("os", Result{}, nil)
	h.setRollout(t, 100) // ignored in hybrid mode
	day := 24 * time.Hour
	for _, c := range []struct {
		name, op string
		rng      Range
		want     string
	}{
		{"last hour", "logs.query", Range{now.Add(-time.Hour), now}, "os"},
		{"exactly 7 days", "logs.query", Range{now.Add(-7 * day), now}, "os"},
		{"open end", "traces.query", Range{now.Add(-2 * day), time.Time{}}, "os"},
		{"starts 8 days back", "logs.query", Range{now.Add(-8 * day), now}, "ch"},
		{"old range", "logs.query", Range{now.Add(-30 * day), now.Add(-20 * day)}, "ch"},
		{"op not listed", "spans.query", Range{now.Add(-time.Hour), now}, "ch"},
		{"no range (by id)", "logs.query", Range{}, "ch"},
		{"inverted range", "logs.query", Range{now.Add(-time.Hour), now.Add(-2 * time.Hour)}, "ch"},
	} {
		if v, err := h.r.DoRange(ctx, userIn(100), c.op, c.rng, ch, os); err != nil || v != c.want {
			t.Errorf("%s: answered by %v (%v), want %s", c.name, v, err, c.want)
		}
	}
	// Without OpenSearch, ClickHouse answers even recent reads.
	if v, _ := h.r.DoRange(ctx, "u", "logs.query", Range{now.Add(-time.Hour), now}, ch, nil); v != "ch" {
		t.Errorf("no OpenSearch: answered by %v", v)
	}
	// As the clock moves, a fixed range leaves OpenSearch's window.
	h.clock.Advance(8 * day)
	if v, _ := h.r.DoRange(ctx, "u", "logs.query", Range{now.Add(-time.Hour), now}, ch, os); v != "ch" {
		t.Errorf("a week later: answered by %v, want ch", v)
	}
}

func TestHybridConfigValidate(t *testing.T) {
	for _, c := range []struct {
		h    HybridConfig
		want string
	}{
		{HybridConfig{Enabled: true, Days: 0, Ops: []string{"logs.query"}}, "openSearchDays=0"},
		{HybridConfig{Enabled: true, Days: 7}, "hybrid.ops is empty"},
		{HybridConfig{Enabled: true, Days: 7, Ops: []string{"logs.query", "logs.serch"}}, `unknown op "logs.serch"`},
	} {
		cfg := DefaultConfig()
		cfg.Hybrid = c.h
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error naming %q", c.h, err, c.want)
		}
	}
	cfg := DefaultConfig()
	cfg.Hybrid = HybridConfig{Enabled: false, Days: 0} // off: not checked
	if err := cfg.Validate(); err != nil {
		t.Errorf("hybrid off: %v", err)
	}
}
