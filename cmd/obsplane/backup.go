package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/openchoreo/obsplane/internal/backup"
	"github.com/openchoreo/obsplane/internal/server"
)

// backupCmd is `obsplane backup --to DIR`: the embedded store's database
// through the engine's BACKUP, verified and described by a manifest.
func backupCmd() *cobra.Command {
	var to, srv, token string
	cmd := withConfig(&cobra.Command{
		Use:   "backup",
		Short: "Back up the store (BACKUP DATABASE) into a new directory, verified by restoring it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if to == "" {
				return fmt.Errorf("--to DIR is required")
			}
			var m *backup.Manifest
			var err error
			if srv != "" {
				m, err = backup.FromServer(cmd.Context(), srv, token, to)
			} else {
				cfg, cerr := loadConfig(cmd)
				if cerr != nil {
					return cerr
				}
				if cfg.BackupDir, cerr = filepath.Abs(to); cerr != nil {
					return cerr
				}
				st, oerr := server.OpenStore(cfg)
				if oerr != nil {
					return fmt.Errorf("%w (a store that obsplane serve runs on is backed up through it: --server http://HOST:8080)", oerr)
				}
				defer st.Close()
				m, err = backup.Backup(cmd.Context(), st, cfg.Database, to)
			}
			if err != nil {
				return err
			}
			m.WriteTable(cmd.OutOrStdout())
			fmt.Fprintf(cmd.OutOrStdout(), "backup of %s taken %s in %s into %s\n", m.Database, m.Taken.Format("2006-01-02T15:04:05Z"), m.Took, to)
			return nil
		},
	})
	cmd.Flags().StringVar(&to, "to", "", "new (or empty) directory for the backup")
	cmd.Flags().StringVar(&srv, "server", "", "back up the store of this running obsplane serve (its API, e.g. http://127.0.0.1:8080); DIR must lie under its --backup-dir")
	cmd.Flags().StringVar(&token, "token", "", "admin bearer token for --server under --auth=jwt")
	return cmd
}

// restoreCmd is `obsplane restore --from DIR`: a backup into a data
// directory (or server) whose database has no tables yet, checked against
// the backup's manifest.
func restoreCmd() *cobra.Command {
	var from string
	cmd := withConfig(&cobra.Command{
		Use:   "restore",
		Short: "Restore a backup into a store with no tables yet, then check every table's rows and checksum",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" {
				return fmt.Errorf("--from DIR is required")
			}
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			if cfg.BackupDir, err = filepath.Abs(from); err != nil {
				return err
			}
			st, err := server.OpenStore(cfg)
			if err != nil {
				return err
			}
			defer st.Close()
			m, err := backup.Restore(cmd.Context(), st, from)
			if err != nil {
				return err
			}
			m.WriteTable(cmd.OutOrStdout())
			fmt.Fprintf(cmd.OutOrStdout(), "restored %s (backup of %s) into %s: every table's rows and checksum match\n", from, m.Taken.Format("2006-01-02T15:04:05Z"), m.Database)
			return nil
		},
	})
	cmd.Flags().StringVar(&from, "from", "", "directory obsplane backup wrote")
	return cmd
}
