package flags

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/openchoreo/obsplane/internal/schema"
	"github.com/openchoreo/obsplane/internal/store"
	"github.com/openchoreo/obsplane/internal/store/chdb"
	"github.com/openchoreo/obsplane/internal/store/chdb/chdbtest"
	"github.com/openchoreo/obsplane/internal/store/remote"
)

var st *chdb.Store

func TestMain(m *testing.M) { chdbtest.Main(m, &st) }

// freshDB applies the schema into a database of the test's own, so tests
// never see each other's flags.
var dbSeq struct {
	sync.Mutex
	n int
}

func freshDB(t *testing.T) string {
	t.Helper()
	dbSeq.Lock()
	dbSeq.n++
	db := fmt.Sprintf("flags_test_%d", dbSeq.n)
	dbSeq.Unlock()
	if _, err := schema.Apply(ctxT(t), st, schema.Options{Database: db}); err != nil {
		t.Fatalf("schema.Apply(%s): %v", db, err)
	}
	return db
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

var defs = []Definition{{Name: UseClickHouse, Description: "reads from ClickHouse", Enabled: true, Percentage: 0}}

func newService(t *testing.T, s store.Store, db string) *Service {
	t.Helper()
	svc, err := New(s, db, defs, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func pct(n int) *int { return &n }

// TestBucketShare buckets 100,000 users at the plan's rollout steps (docs/DESIGN.md):
// the share on the flag is within one point of the setting, and a user once
// in stays in as the percentage rises.
func TestBucketShare(t *testing.T) {
	const users = 100000
	ids := make([]string, users)
	for i := range ids {
		ids[i] = fmt.Sprintf("user-%d@example.com", i)
	}
	prev := make([]bool, users)
	for _, p := range []int{0, 5, 20, 50, 100} {
		f := Flag{Name: UseClickHouse, Enabled: true, RolloutPercentage: p}
		in := 0
		for i, id := range ids {
			now := f.Includes(id)
			if prev[i] && !now {
				t.Fatalf("user %s moved back to OpenSearch when the rollout rose to %d%%", id, p)
			}
			if now {
				in++
			}
			prev[i] = now
		}
		share := 100 * float64(in) / users
		if math.Abs(share-float64(p)) > 1 {
			t.Errorf("rollout %d%%: %.2f%% of users on ClickHouse, want within 1 point", p, share)
		}
		t.Logf("rollout %3d%%: %.2f%% of %d users", p, share, users)
	}
}

func TestBucketSticky(t *testing.T) {
	for i := range 1000 {
		u := fmt.Sprint("u", i)
		b := Bucket(u, UseClickHouse)
		if b < 0 || b >= Buckets {
			t.Fatalf("bucket %d out of range", b)
		}
		if Bucket(u, UseClickHouse) != b {
			t.Fatal("bucket not deterministic")
		}
	}
	// The hash is part of the contract (users must not switch backends on
	// upgrade): pin a few values.
	for u, want := range map[string]int{"alice": 25, "bob": 12, "": 3, "user-42": 37} {
		if got := Bucket(u, UseClickHouse); got != want {
			t.Errorf("Bucket(%q) = %d, want %d", u, got, want)
		}
	}
	// Disabled flag includes nobody, at any percentage.
	if (Flag{Name: UseClickHouse, Enabled: false, RolloutPercentage: 100}).Includes("alice") {
		t.Error("disabled flag includes a user")
	}
}

func TestPersistAndAudit(t *testing.T) {
	db := freshDB(t)
	ctx := ctxT(t)
	a := newService(t, st, db)
	if err := a.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if f, _ := a.Get(UseClickHouse); f.RolloutPercentage != 0 || !f.Enabled || !f.UpdatedAt.IsZero() {
		t.Fatalf("default flag = %+v", f)
	}
	for _, p := range []int{5, 20, 50} {
		if _, _, err := a.Update(ctx, UseClickHouse, Change{RolloutPercentage: pct(p)}, "alice", fmt.Sprintf("week %d", p)); err != nil {
			t.Fatal(err)
		}
	}
	off := false
	if _, _, err := a.Update(ctx, UseClickHouse, Change{Enabled: &off}, "bob", "pause"); err != nil {
		t.Fatal(err)
	}

	// A second service (another process) sees the newest value.
	b := newService(t, st, db)
	if err := b.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := b.Get(UseClickHouse)
	if got.RolloutPercentage != 50 || got.Enabled || got.UpdatedBy != "bob" || got.Description != "reads from ClickHouse" {
		t.Fatalf("reloaded flag = %+v, want 50%% disabled by bob", got)
	}
	// Merging the parts keeps the same answer (ReplacingMergeTree keeps
	// the newest version).
	if err := st.Exec(ctx, "OPTIMIZE TABLE `"+db+"`.obsplane_flags FINAL", nil); err != nil {
		t.Fatal(err)
	}
	if err := b.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if g, _ := b.Get(UseClickHouse); g.RolloutPercentage != 50 || g.Enabled {
		t.Fatalf("after merge: %+v", g)
	}

	audit, err := b.Audit(ctx, UseClickHouse, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(audit) != 4 {
		t.Fatalf("audit rows = %d, want 4: %+v", len(audit), audit)
	}
	last := audit[0]
	var oldV, newV value
	_ = json.Unmarshal([]byte(last.OldValue), &oldV)
	_ = json.Unmarshal([]byte(last.NewValue), &newV)
	if last.Actor != "bob" || last.Reason != "pause" || !oldV.Enabled || newV.Enabled || newV.RolloutPercentage != 50 {
		t.Errorf("newest audit row = %+v", last)
	}
	first := audit[3]
	if first.Actor != "alice" || first.OldValue != `{"enabled":true,"rolloutPercentage":0}` || first.NewValue != `{"enabled":true,"rolloutPercentage":5}` {
		t.Errorf("oldest audit row = %+v", first)
	}
	for i := 1; i < len(audit); i++ {
		if !audit[i-1].At.After(audit[i].At) {
			t.Errorf("audit times not strictly increasing: %v then %v", audit[i].At, audit[i-1].At)
		}
	}
}

func TestUpdateRejects(t *testing.T) {
	db := freshDB(t)
	ctx := ctxT(t)
	s := newService(t, st, db)
	for _, c := range []struct {
		name string
		ch   Change
		want error
	}{
		{"nope", Change{RolloutPercentage: pct(5)}, ErrUnknownFlag},
		{UseClickHouse, Change{RolloutPercentage: pct(101)}, ErrInvalid},
		{UseClickHouse, Change{RolloutPercentage: pct(-1)}, ErrInvalid},
		{UseClickHouse, Change{}, ErrInvalid},
	} {
		if _, _, err := s.Update(ctx, c.name, c.ch, "x", ""); !errors.Is(err, c.want) {
			t.Errorf("Update(%s, %+v) = %v, want %v", c.name, c.ch, err, c.want)
		}
	}
	if a, err := s.Audit(ctx, UseClickHouse, 10); err != nil || len(a) != 0 {
		t.Fatalf("audit after rejected changes: %v %v", a, err)
	}
}

// TestForceWhileStoreDown: a rollback decided while ClickHouse is
// unreachable holds in memory, survives refreshes that fail, and is written
// with its audit row once the store is back. The unreachable store is the
// real clickhouse-go client pointed at a closed port.
func TestForceWhileStoreDown(t *testing.T) {
	db := freshDB(t)
	ctx := ctxT(t)
	down, err := remote.Open(remote.Config{DSN: "clickhouse://127.0.0.1:1/" + db + "?dial_timeout=200ms"})
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()

	s := newService(t, st, db)
	if _, _, err := s.Update(ctx, UseClickHouse, Change{RolloutPercentage: pct(40)}, "alice", "ramp"); err != nil {
		t.Fatal(err)
	}
	// Swap the service onto the unreachable store, as if ClickHouse died.
	s.st = down
	if _, _, err := s.Update(ctx, UseClickHouse, Change{RolloutPercentage: pct(60)}, "alice", "ramp"); err == nil {
		t.Fatal("Update succeeded on an unreachable store")
	}
	if f, _ := s.Get(UseClickHouse); f.RolloutPercentage != 40 {
		t.Fatalf("failed Update changed the flag: %+v", f)
	}
	_, cur, err := s.Force(ctx, UseClickHouse, Change{RolloutPercentage: pct(0)}, "obsplane-autorollback", "unreachable")
	if err == nil || cur.RolloutPercentage != 0 {
		t.Fatalf("Force = %+v, %v; want applied in memory with a not-persisted error", cur, err)
	}
	if err := s.Refresh(ctx); err == nil {
		t.Fatal("Refresh succeeded on an unreachable store")
	}
	if f, _ := s.Get(UseClickHouse); f.RolloutPercentage != 0 || s.Pending() != 1 {
		t.Fatalf("after failed refresh: %+v pending %d", f, s.Pending())
	}
	s.st = st // ClickHouse is back
	if err := s.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if s.Pending() != 0 {
		t.Fatalf("pending = %d after recovery", s.Pending())
	}
	other := newService(t, st, db)
	if err := other.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if f, _ := other.Get(UseClickHouse); f.RolloutPercentage != 0 || f.UpdatedBy != "obsplane-autorollback" {
		t.Fatalf("persisted after recovery: %+v", f)
	}
	audit, _ := other.Audit(ctx, UseClickHouse, 10)
	if len(audit) != 2 || audit[0].Reason != "unreachable" || audit[0].OldValue != `{"enabled":true,"rolloutPercentage":40}` {
		t.Fatalf("audit = %+v", audit)
	}
}
