package migrate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/openchoreo/obsplane/internal/store"
)

// ErrLocked is wrapped by the error of a command that finds another run of
// it holding the lock.
var ErrLocked = errors.New("another run holds the migrate lock")

// lock is a lease in the store that one run of a command holds at a time.
// Acquiring inserts an "acquire" row for the next epoch with a
// deduplication token derived from the epoch, so when two runs race for the
// same epoch the engine keeps the first row and the second run reads back
// a holder that is not itself. The holder renews the lease while it runs;
// a run killed with -9 stops renewing and its lease expires (at once when
// the dead holder is a process on this host).
type lock struct {
	st     store.Store
	db     string
	name   string
	holder string
	lease  time.Duration
	epoch  uint64

	stop chan struct{}
	wg   sync.WaitGroup
}

type lockRow struct {
	Epoch   uint64 `json:"Epoch"`
	Kind    string `json:"kind"`
	Holder  string `json:"holder"`
	Host    string `json:"host"`
	PID     uint32 `json:"pid"`
	At      string `json:"acquired"`
	Expires string `json:"expires"`
	Live    uint8  `json:"live"`
}

// acquireLock takes the lock name or returns an error wrapping ErrLocked
// that names the holder.
func acquireLock(ctx context.Context, st store.Store, db, name string, lease time.Duration) (*lock, error) {
	l := &lock{st: st, db: db, name: name, holder: uuid.NewString(), lease: lease, stop: make(chan struct{})}
	cur, err := l.current(ctx)
	if err != nil {
		return nil, err
	}
	if cur != nil && cur.Live == 1 && cur.Kind != "release" && !deadHere(cur) {
		return nil, fmt.Errorf("%w: %s is already running (holder %s, pid %d on %s, since %s UTC, lease until %s UTC); wait for it to finish, or for its lease to expire if it was killed", ErrLocked, name, cur.Holder, cur.PID, cur.Host, cur.At, cur.Expires)
	}
	l.epoch = 1
	if cur != nil {
		l.epoch = cur.Epoch + 1
	}
	if err := l.write(ctx, "acquire", "migrate-lock/"+name+"/"+strconv.FormatUint(l.epoch, 10)); err != nil {
		return nil, err
	}
	won, err := store.ScanAll[lockRow](ctx, st, "SELECT Holder AS holder, Host AS host, PID AS pid FROM "+l.table()+
		" WHERE Name = {name:String} AND Epoch = {epoch:UInt64} AND Kind = 'acquire' ORDER BY At LIMIT 1",
		store.Params{"name": name, "epoch": strconv.FormatUint(l.epoch, 10)})
	if err != nil {
		return nil, fmt.Errorf("read back the %s lock: %w", name, err)
	}
	if len(won) == 0 || won[0].Holder != l.holder {
		other := "another run"
		if len(won) > 0 {
			other = fmt.Sprintf("pid %d on %s", won[0].PID, won[0].Host)
		}
		return nil, fmt.Errorf("%w: %s was started by %s at the same moment", ErrLocked, name, other)
	}
	l.wg.Add(1)
	go l.renew()
	return l, nil
}

func (l *lock) table() string { return store.QuoteIdent(l.db) + ".obsplane_migrate_locks" }

// current is the newest epoch's state: its acquire row's holder, whether
// the newest row of the epoch is still within its lease (by the engine's
// clock), and whether it was released.
func (l *lock) current(ctx context.Context) (*lockRow, error) {
	rows, err := store.ScanAll[lockRow](ctx, l.st, `SELECT Epoch,
		argMax(Kind, At) AS kind,
		argMinIf(Holder, At, Kind = 'acquire') AS holder,
		argMinIf(Host, At, Kind = 'acquire') AS host,
		argMinIf(PID, At, Kind = 'acquire') AS pid,
		toString(minIf(At, Kind = 'acquire')) AS acquired,
		toString(max(ExpiresAt)) AS expires,
		max(ExpiresAt) > now64(3) AS live
		FROM `+l.table()+` WHERE Name = {name:String} GROUP BY Epoch ORDER BY Epoch DESC LIMIT 1`,
		store.Params{"name": l.name})
	if err != nil {
		return nil, fmt.Errorf("read the %s lock: %w", l.name, err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	return &rows[0], nil
}

// deadHere reports a holder that was a process on this host which no
// longer runs: its lease need not be waited out.
func deadHere(r *lockRow) bool {
	host, _ := os.Hostname()
	if r.Host != host || r.PID == 0 || int(r.PID) == os.Getpid() {
		return false
	}
	err := syscall.Kill(int(r.PID), 0)
	return errors.Is(err, syscall.ESRCH)
}

func (l *lock) write(ctx context.Context, kind, token string) error {
	host, _ := os.Hostname()
	ms := strconv.FormatInt(l.lease.Milliseconds(), 10)
	q := "INSERT INTO " + l.table() + " (Name, Epoch, Kind, Holder, Host, PID, At, ExpiresAt) SELECT {name:String}, {epoch:UInt64}, {kind:String}, {holder:String}, {host:String}, {pid:UInt32}, now64(3), now64(3) + toIntervalMillisecond(" + ms + ")"
	var settings []store.Setting
	if token != "" {
		settings = []store.Setting{{Name: "insert_deduplicate", Value: "1"}, {Name: "insert_deduplication_token", Value: token}}
	}
	if kind == "release" {
		q = "INSERT INTO " + l.table() + " (Name, Epoch, Kind, Holder, Host, PID, At, ExpiresAt) SELECT {name:String}, {epoch:UInt64}, {kind:String}, {holder:String}, {host:String}, {pid:UInt32}, now64(3), now64(3)"
	}
	err := l.st.Exec(ctx, q, store.Params{"name": l.name, "epoch": strconv.FormatUint(l.epoch, 10), "kind": kind,
		"holder": l.holder, "host": host, "pid": strconv.Itoa(os.Getpid())}, settings...)
	if err != nil {
		return fmt.Errorf("write the %s lock (%s): %w", l.name, kind, err)
	}
	return nil
}

func (l *lock) renew() {
	defer l.wg.Done()
	t := time.NewTicker(l.lease / 3)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), l.lease/3)
			_ = l.write(ctx, "renew", "")
			cancel()
		}
	}
}

// release frees the lock for the next run.
func (l *lock) release() {
	close(l.stop)
	l.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = l.write(ctx, "release", "")
}

// Lock is a held store lock, for packages that serialize their own steps
// with the same lease (the migration state machine).
type Lock struct{ l *lock }

// AcquireLock takes the lock name in database db, or returns an error
// wrapping ErrLocked that names the holder. It does not wait: a second
// caller fails at once and can retry, which is what a person running two
// commands at the same moment should see. The lease is renewed until
// Release.
func AcquireLock(ctx context.Context, st store.Store, db, name string, lease time.Duration) (*Lock, error) {
	if db == "" {
		db = "otel"
	}
	if lease <= 0 {
		lease = 60 * time.Second
	}
	l, err := acquireLock(ctx, st, db, name, lease)
	if err != nil {
		return nil, err
	}
	return &Lock{l: l}, nil
}

// Release frees the lock for the next holder.
func (l *Lock) Release() { l.l.release() }
