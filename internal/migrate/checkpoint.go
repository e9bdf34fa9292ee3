package migrate

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/openchoreo/obsplane/internal/store"
)

// checkpoint is where one slice of one index stands: every document with
// _seq_no up to After was read, and the rows made from them (Inserted), the
// rejected ones (Rejected) and those obsplane wrote itself (Skipped) are
// accounted for in the store. A checkpoint is written only after the
// inserts up to it were acknowledged.
type checkpoint struct {
	Unit     string `json:"Unit"`
	Signal   string `json:"Signal"`
	Slice    int    `json:"Slice"`
	Slices   int    `json:"Slices"`
	PageSize int    `json:"PageSize"`
	After    int64  `json:"After"`
	Read     uint64 `json:"Read"`
	Inserted uint64 `json:"Inserted"`
	Rejected uint64 `json:"Rejected"`
	Skipped  uint64 `json:"Skipped"`
	Done     uint8  `json:"Done"`
	Version  uint64 `json:"Version"`
	// Docs is the index's document count when the run started (the same on
	// every slice), for progress read from the store.
	Docs uint64 `json:"-"`
}

// arrayParam renders ss as the text of an Array(String) parameter.
func arrayParam(ss []string) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, s := range ss {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('\'')
		b.WriteString(strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s))
		b.WriteByte('\'')
	}
	b.WriteByte(']')
	return b.String()
}

// loadCheckpoints returns the newest checkpoint of every slice of units,
// keyed by unit then slice.
func loadCheckpoints(ctx context.Context, st store.Store, db string, units []string) (map[string]map[int]checkpoint, error) {
	out := map[string]map[int]checkpoint{}
	if len(units) == 0 {
		return out, nil
	}
	rows, err := store.ScanAll[checkpoint](ctx, st, "SELECT Unit, Signal, Slice, Slices, PageSize, After, Read, Inserted, Rejected, Skipped, Done, Version FROM "+
		store.QuoteIdent(db)+".obsplane_backfill_checkpoints FINAL WHERE Unit IN {units:Array(String)}",
		store.Params{"units": arrayParam(units)})
	if err != nil {
		return nil, fmt.Errorf("read backfill checkpoints: %w", err)
	}
	for _, r := range rows {
		if out[r.Unit] == nil {
			out[r.Unit] = map[int]checkpoint{}
		}
		out[r.Unit][r.Slice] = r
	}
	return out, nil
}

// saveCheckpoint writes c. Version orders the writes of one slice.
func saveCheckpoint(ctx context.Context, st store.Store, db, runID string, c checkpoint) error {
	c.Version = c.Read*2 + uint64(c.Done)
	p := store.Params{
		"unit": c.Unit, "signal": c.Signal, "slice": strconv.Itoa(c.Slice), "slices": strconv.Itoa(c.Slices),
		"page": strconv.Itoa(c.PageSize), "after": strconv.FormatInt(c.After, 10), "read": strconv.FormatUint(c.Read, 10),
		"inserted": strconv.FormatUint(c.Inserted, 10), "rejected": strconv.FormatUint(c.Rejected, 10),
		"skipped": strconv.FormatUint(c.Skipped, 10), "done": strconv.Itoa(int(c.Done)), "version": strconv.FormatUint(c.Version, 10),
		"run": runID, "docs": strconv.FormatUint(c.Docs, 10),
	}
	return st.Exec(ctx, "INSERT INTO "+store.QuoteIdent(db)+".obsplane_backfill_checkpoints (Unit, Signal, Slice, Slices, PageSize, After, Read, Inserted, Rejected, Skipped, Done, Version, RunID, Docs) "+
		"SELECT {unit:String}, {signal:String}, {slice:UInt32}, {slices:UInt32}, {page:UInt32}, {after:Int64}, {read:UInt64}, {inserted:UInt64}, {rejected:UInt64}, {skipped:UInt64}, {done:UInt8}, {version:UInt64}, {run:String}, {docs:UInt64}", p)
}

// maxRejectedSource bounds the copy of a rejected document kept in the
// table; the rest is cut and says so.
const maxRejectedSource = 1 << 20

// rejectedBatch is the insert of rejected documents.
func rejectedBatch(db string, s Signal, runID string, docs []rejectedDoc) *store.Batch {
	n := len(docs)
	idx, ids, sig, reason, msg, src, run, at := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]time.Time, n)
	now := time.Now().UTC()
	for i, d := range docs {
		idx[i], ids[i], sig[i], reason[i], msg[i], run[i], at[i] = d.index, d.id, string(s), d.reason, d.err, runID, now
		if len(d.source) > maxRejectedSource {
			src[i] = string(d.source[:maxRejectedSource]) + "...(cut)"
		} else {
			src[i] = string(d.source)
		}
	}
	return &store.Batch{Database: db, Table: "obsplane_backfill_rejected", Rows: n, Columns: []store.Column{
		{Name: "IndexName", Type: "String", Values: idx},
		{Name: "ID", Type: "String", Values: ids},
		{Name: "Signal", Type: "LowCardinality(String)", Values: sig},
		{Name: "Reason", Type: "LowCardinality(String)", Values: reason},
		{Name: "Error", Type: "String", Values: msg},
		{Name: "Source", Type: "String", Values: src},
		{Name: "RunID", Type: "String", Values: run},
		{Name: "At", Type: "DateTime64(3)", Values: at},
	}}
}
