package migrate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/openchoreo/obsplane/internal/opensearch"
	"github.com/openchoreo/obsplane/internal/store"
)

// ErrNotReady is wrapped by CheckShadowWrite's answer when dual write may
// not be switched on: the reason follows it.
var ErrNotReady = errors.New("not ready for dual write")

// ShadowWriteCheck is what CheckShadowWrite looks at.
type ShadowWriteCheck struct {
	Store    store.Store
	Database string
	// Tables must all exist in Database: those the gateway writes, and
	// those the switch itself writes (the flag tables).
	Tables []string
	// OpenSearch must answer its cluster health; nil skips that check
	// unless NeedOpenSearch (turning dual write off does not need it).
	OpenSearch     *opensearch.Client
	NeedOpenSearch bool
	// Timeout bounds each probe (default 10s).
	Timeout time.Duration
}

// CheckShadowWrite reports why dual write must not be turned on, or nil:
// the store answers a ping, every table in c.Tables exists in c.Database,
// and OpenSearch answers. It changes nothing.
func CheckShadowWrite(ctx context.Context, c ShadowWriteCheck) error {
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	pctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	if err := c.Store.Ping(pctx); err != nil {
		return fmt.Errorf("%w: the store does not answer: %v", ErrNotReady, err)
	}
	have, err := tablesIn(pctx, c.Store, c.Database)
	if err != nil {
		return fmt.Errorf("%w: list the tables of database %s: %v", ErrNotReady, c.Database, err)
	}
	var missing []string
	for _, t := range c.Tables {
		if !slices.Contains(have, t) {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: database %s lacks table(s) %s (run obsplane schema apply, or start serve once)", ErrNotReady, c.Database, strings.Join(missing, ", "))
	}
	if c.OpenSearch == nil {
		if c.NeedOpenSearch {
			return fmt.Errorf("%w: no OpenSearch configured (--opensearch-url)", ErrNotReady)
		}
		return nil
	}
	octx, cancel2 := context.WithTimeout(ctx, c.Timeout)
	defer cancel2()
	if _, err := c.OpenSearch.Health(octx); err != nil {
		return fmt.Errorf("%w: OpenSearch does not answer: %v", ErrNotReady, err)
	}
	return nil
}

func tablesIn(ctx context.Context, st store.Store, db string) ([]string, error) {
	rows, err := st.Query(ctx, "SELECT name FROM system.tables WHERE database = {db:String}", store.Params{"db": db})
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var r struct {
			Name string `json:"name"`
		}
		if err := rows.Scan(&r); err != nil {
			return nil, err
		}
		out = append(out, r.Name)
	}
	return out, rows.Err()
}
