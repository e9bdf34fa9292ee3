package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/openchoreo/obsplane/internal/gateway/exporter/clickhousestoreexporter"
	"github.com/openchoreo/obsplane/internal/migrate"
	"github.com/openchoreo/obsplane/internal/migrate/state"
	"github.com/openchoreo/obsplane/internal/opensearch"
	"github.com/openchoreo/obsplane/internal/router/flags"
	"github.com/openchoreo/obsplane/internal/server"
)

// processTables are what the switch itself reads and writes: the flags,
// their audit, the transitions and the migration lock.
var processTables = []string{"obsplane_flags", "obsplane_flag_audit", "obsplane_migration_transitions", "obsplane_migrate_locks"}

// migrateShadowWriteCmd is `obsplane migrate shadow-write enable|disable`.
func migrateShadowWriteCmd() *cobra.Command {
	var opensearchURL, reason, actor string
	var timeout, lockLease time.Duration
	cmd := withConfig(&cobra.Command{
		Use:   "shadow-write enable|disable",
		Short: "Turn dual write to OpenSearch on or off in the running gateways, without a restart (audited)",
		Long: `enable checks that the store answers, that every table the gateway writes exists in the
configured database and that OpenSearch answers; when one does not it exits 2 with
"refused: <reason>" and changes nothing (it does not apply the schema). Then it sets the
shadow_write flag, which every running serve picks up within --flag-refresh: from then on
each batch of logs and spans is also queued for OpenSearch. disable sets it off; batches
already queued still drain. The migration moves Off -> DualWrite (enable) and
DualWrite -> Off (disable); in a later phase only the flag changes.
Against a running embedded serve, connect with --clickhouse-dsn http://127.0.0.1:8123/.`,
		Example: `  obsplane migrate shadow-write enable --opensearch-url http://opensearch:9200 --reason "phase 1" --actor alice
  obsplane migrate shadow-write disable --clickhouse-dsn http://127.0.0.1:8123/ --reason "rolled back"`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"enable", "disable"},
		RunE: func(cmd *cobra.Command, args []string) error {
			var on bool
			switch args[0] {
			case "enable":
				on = true
			case "disable":
			default:
				return fmt.Errorf("migrate shadow-write %q: want enable or disable", args[0])
			}
			cfg, err := migrateConfig(cmd)
			if err != nil {
				return err
			}
			if opensearchURL == "" {
				opensearchURL = cfg.OpenSearch.URL
			}
			actor = actorOr(actor)
			if reason == "" {
				reason = "migrate shadow-write " + args[0]
			}
			log := server.NewLogger(cfg)
			// The schema is not applied here: a store without the gateway's
			// tables is exactly what enable must refuse, not repair.
			st, err := server.OpenStore(cfg)
			if err != nil {
				return state.Refusef("open the store: %v", err)
			}
			defer st.Close()
			ctx := cmd.Context()

			// enable needs everything the gateway writes and OpenSearch;
			// disable only the process's own tables (OpenSearch may well
			// be gone).
			check := migrate.ShadowWriteCheck{Store: st, Database: cfg.Database, Tables: processTables, Timeout: timeout}
			if on {
				check.Tables = append(clickhousestoreexporter.DefaultTables(), processTables...)
				check.NeedOpenSearch = true
				if opensearchURL != "" {
					if check.OpenSearch, err = opensearch.New(opensearchURL, opensearch.Options{Timeout: timeout}); err != nil {
						return state.Refusef("--opensearch-url: %v", err)
					}
				}
			}
			if err := migrate.CheckShadowWrite(ctx, check); err != nil {
				return state.Refusef("%v", err)
			}
			fl, err := migrationFlags(st, cfg, log)
			if err != nil {
				return err
			}
			if err := fl.Refresh(ctx); err != nil {
				return state.Refusef("read the flags: %v", err)
			}
			m, err := state.New(st, cfg.Database, fl, state.Options{LockLease: lockLease, Log: log})
			if err != nil {
				return err
			}
			var old, cur flags.Flag
			set := func(ctx context.Context) (err error) {
				old, cur, err = fl.Update(ctx, flags.ShadowWrite, flags.Change{Enabled: &on}, actor, reason)
				return err
			}
			s, err := m.Status(ctx)
			if err != nil {
				return err
			}
			to, move := shadowWriteStep(s, on)
			if move {
				err = m.Move(ctx, to, actor, reason, set)
			} else {
				err = set(ctx)
			}
			if err != nil {
				return err
			}
			phase := s.Phase
			if move {
				phase = to
			}
			fmt.Fprintf(cmd.OutOrStdout(), "shadow_write: %t -> %t (by %s); phase %s; running gateways follow within --flag-refresh (%s)\n",
				old.Enabled, cur.Enabled, actor, phase, cfg.Router.FlagRefresh)
			return nil
		},
	})
	f := cmd.Flags()
	f.StringVar(&opensearchURL, "opensearch", "", "OpenSearch URL (default: --opensearch-url)")
	f.StringVar(&reason, "reason", "", "why, kept in the audit trail")
	f.StringVar(&actor, "actor", "", "who, kept in the audit trail (default: $USER@host)")
	f.DurationVar(&timeout, "check-timeout", 10*time.Second, "time limit of each health check (store ping, table list, OpenSearch health)")
	f.DurationVar(&lockLease, "lock-lease", 60*time.Second, "lease of the migration lock in the store (a killed command's lock expires after it; at once when it ran on this host)")
	return cmd
}

// shadowWriteStep is the phase the switch moves to: Off -> DualWrite on
// enable, DualWrite -> Off on disable (continuing a transition of its own
// left pending by a crash); in any other phase dual write is switched
// without a transition (a rollback after cutover is already in DualWrite, a
// cleanup switches it off in Complete).
func shadowWriteStep(s state.Status, on bool) (state.Phase, bool) {
	to, from := state.DualWrite, state.Off
	if !on {
		to, from = state.Off, state.DualWrite
	}
	if p := s.Pending; p != nil {
		return to, p.To == to
	}
	return to, s.Phase == from
}
