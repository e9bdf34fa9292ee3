// Package backup takes and restores backups of obsplane's database with the
// engine's own BACKUP and RESTORE statements (File engine), and proves each
// one: a backup is restored into a scratch database right after it is taken
// and its tables' row counts and content checksums are written beside it as
// a manifest; a restore checks the restored tables against that manifest.
// Both run through store.Store, so they work on the embedded engine (opened
// with the backup directory allowed) and on any ClickHouse that allows it.
package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/openchoreo/obsplane/internal/store"
)

// ManifestFile is the manifest's name inside a backup directory.
const ManifestFile = "obsplane-backup.json"

// engineDir is the engine's backup inside a backup directory (the File
// engine creates it and refuses one that exists).
const engineDir = "engine"

// Table is one table's content at the time of the backup.
type Table struct {
	Name string `json:"name"`
	Rows uint64 `json:"rows"`
	// Checksum is the sum, wrapping at 2^64, of cityHash64 over every
	// stored column of every row: independent of row and part order.
	Checksum uint64 `json:"checksum"`
}

// Manifest describes one backup.
type Manifest struct {
	Database string    `json:"database"`
	Taken    time.Time `json:"taken"`
	Took     string    `json:"took"`
	Tables   []Table   `json:"tables"`
}

var ident = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Summarize counts and checksums every MergeTree table of db.
func Summarize(ctx context.Context, st store.Store, db string) ([]Table, error) {
	if !ident.MatchString(db) {
		return nil, fmt.Errorf("backup: database name %q", db)
	}
	type row struct {
		Name string `json:"name"`
	}
	names, err := store.ScanAll[row](ctx, st,
		"SELECT name FROM system.tables WHERE database = {db:String} AND engine LIKE '%MergeTree' AND NOT startsWith(name, '.inner') ORDER BY name",
		store.Params{"db": db})
	if err != nil {
		return nil, fmt.Errorf("backup: list tables of %s: %w", db, err)
	}
	out := make([]Table, 0, len(names))
	for _, n := range names {
		type sum struct {
			Rows     uint64 `json:"rows"`
			Checksum uint64 `json:"checksum"`
		}
		// Table names come from system.tables, quoted as identifiers.
		q := fmt.Sprintf("SELECT count() AS rows, sum(cityHash64(*)) AS checksum FROM `%s`.`%s`", db, n.Name)
		rs, err := store.ScanAll[sum](ctx, st, q, nil)
		if err != nil {
			return nil, fmt.Errorf("backup: summarize %s.%s: %w", db, n.Name, err)
		}
		out = append(out, Table{Name: n.Name, Rows: rs[0].Rows, Checksum: rs[0].Checksum})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Backup writes db into dir (which must not exist yet, or be empty) with the
// engine's BACKUP, restores it into a scratch database to count and checksum
// what it holds, drops the scratch database, and writes the manifest.
func Backup(ctx context.Context, st store.Store, db, dir string) (*Manifest, error) {
	if !ident.MatchString(db) {
		return nil, fmt.Errorf("backup: database name %q", db)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return nil, fmt.Errorf("backup: %s is not empty; give a new directory", dir)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	start := time.Now()
	target := filepath.Join(dir, engineDir)
	if err := st.Exec(ctx, fmt.Sprintf("BACKUP DATABASE `%s` TO File({path:String})", db), store.Params{"path": target}); err != nil {
		return nil, fmt.Errorf("backup: BACKUP DATABASE %s TO %s: %w", db, target, err)
	}
	scratch := fmt.Sprintf("%s_backup_check_%d", db, start.UnixNano())
	tables, err := restoreAndSummarize(ctx, st, db, scratch, target)
	if err != nil {
		return nil, err
	}
	m := &Manifest{Database: db, Taken: start.UTC(), Took: time.Since(start).Round(time.Millisecond).String(), Tables: tables}
	b, _ := json.MarshalIndent(m, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, ManifestFile), append(b, '\n'), 0o640); err != nil {
		return nil, fmt.Errorf("backup: write manifest: %w", err)
	}
	return m, nil
}

// restoreAndSummarize restores the backup at target as database as, counts
// it, and drops it whatever happens. The drop is not SYNC: the engine removes
// the files in the background, where a SYNC drop held the call for a minute.
func restoreAndSummarize(ctx context.Context, st store.Store, db, as, target string) ([]Table, error) {
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		_ = st.Exec(dctx, fmt.Sprintf("DROP DATABASE IF EXISTS `%s`", as), nil)
	}()
	q := fmt.Sprintf("RESTORE DATABASE `%s` AS `%s` FROM File({path:String})", db, as)
	if err := st.Exec(ctx, q, store.Params{"path": target}); err != nil {
		return nil, fmt.Errorf("backup: verify %s by restoring it: %w", target, err)
	}
	return Summarize(ctx, st, as)
}

// ReadManifest reads dir's manifest.
func ReadManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("restore: %s has no manifest (%w); is it a directory obsplane backup wrote?", dir, err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("restore: manifest: %w", err)
	}
	return &m, nil
}

// Restore restores the backup in dir into the store, into the database it
// was taken from. The database must hold no table yet (restore into a new
// data directory, then start obsplane on it); every table is then checked
// against the manifest, and a difference is an error.
func Restore(ctx context.Context, st store.Store, dir string) (*Manifest, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	if !ident.MatchString(m.Database) {
		return nil, fmt.Errorf("restore: manifest names database %q", m.Database)
	}
	existing, err := Summarize(ctx, st, m.Database)
	if err != nil {
		return nil, err
	}
	if len(existing) > 0 {
		return nil, fmt.Errorf("restore: database %s already has %d tables (%s, ...); restore into a new data directory", m.Database, len(existing), existing[0].Name)
	}
	q := fmt.Sprintf("RESTORE DATABASE `%s` FROM File({path:String})", m.Database)
	if err := st.Exec(ctx, q, store.Params{"path": filepath.Join(dir, engineDir)}); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	got, err := Summarize(ctx, st, m.Database)
	if err != nil {
		return nil, err
	}
	if err := Compare(m.Tables, got); err != nil {
		return nil, fmt.Errorf("restore: the restored tables differ from the backup's manifest: %w", err)
	}
	return m, nil
}

// Compare reports every table whose rows or checksum differ between want
// and got, and tables only one side has.
func Compare(want, got []Table) error {
	g := map[string]Table{}
	for _, t := range got {
		g[t.Name] = t
	}
	var errs []error
	for _, w := range want {
		t, ok := g[w.Name]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%s: missing", w.Name))
		case t.Rows != w.Rows || t.Checksum != w.Checksum:
			errs = append(errs, fmt.Errorf("%s: %d rows, checksum %x; want %d rows, checksum %x", w.Name, t.Rows, t.Checksum, w.Rows, w.Checksum))
		}
		delete(g, w.Name)
	}
	for name := range g {
		errs = append(errs, fmt.Errorf("%s: not in the backup", name))
	}
	return errors.Join(errs...)
}

// WriteTable prints the manifest's tables, one per line.
func (m *Manifest) WriteTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "table\trows\tchecksum\t\n")
	for _, t := range m.Tables {
		fmt.Fprintf(tw, "%s\t%d\t%016x\t\n", t.Name, t.Rows, t.Checksum)
	}
	_ = tw.Flush()
}

// FromServer asks a running obsplane serve (its API at base, e.g.
// http://127.0.0.1:8080) to back up its store into dir, a directory under
// the server's --backup-dir; token, when set, is the admin's bearer token.
func FromServer(ctx context.Context, base, token, dir string) (*Manifest, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	body, _ := json.Marshal(map[string]string{"to": abs})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(base, "/")+"/api/v1/admin/backup", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("backup: %s answered %s: %s", base, resp.Status, strings.TrimSpace(string(b)))
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("backup: answer: %w", err)
	}
	return &m, nil
}
