package main

import (
	"context"
	"fmt"
	"os/user"
	"time"

	"github.com/spf13/cobra"

	"github.com/openchoreo/obsplane/internal/gateway/exporter/clickhousestoreexporter"
	"github.com/openchoreo/obsplane/internal/migrate"
	"github.com/openchoreo/obsplane/internal/opensearch"
	"github.com/openchoreo/obsplane/internal/router"
	"github.com/openchoreo/obsplane/internal/router/flags"
	"github.com/openchoreo/obsplane/internal/server"
)

// refusal is a migration step that refused to run and changed nothing:
// the command exits with code 2 and the message "refused: <reason>".
type refusal struct{ err error }

func (r refusal) Error() string { return "refused: " + r.err.Error() }
func (r refusal) Unwrap() error { return r.err }
func (r refusal) ExitCode() int { return 2 }

// defaultActor names who runs a migrate command in audit rows.
func defaultActor() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "cli:" + u.Username
	}
	return "cli"
}

// migrateShadowWriteCmd is `obsplane migrate shadow-write enable|disable`.
func migrateShadowWriteCmd() *cobra.Command {
	var opensearchURL, reason, actor string
	var timeout time.Duration
	cmd := withConfig(&cobra.Command{
		Use:   "shadow-write enable|disable",
		Short: "Turn dual write to OpenSearch on or off in the running gateways, without a restart (audited)",
		Long: `enable checks that the store answers, that every table the gateway writes exists in the
configured database and that OpenSearch answers; when one does not it exits 2 with
"refused: <reason>" and changes nothing. Then it sets the shadow_write flag, which every
running serve picks up within --flag-refresh: from then on each batch of logs and spans is
also queued for OpenSearch. disable sets it off: batches already queued still drain.
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
			if err := migrateEnv(cmd.Flags()); err != nil {
				return err
			}
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			if opensearchURL == "" {
				opensearchURL = cfg.OpenSearch.URL
			}
			log := server.NewLogger(cfg)
			// The schema is not applied here: a store without the gateway's
			// tables is exactly what enable must refuse, not repair.
			st, err := server.OpenStore(cfg)
			if err != nil {
				return refusal{fmt.Errorf("open the store: %w", err)}
			}
			defer st.Close()
			ctx := cmd.Context()
			// enable needs all the gateway writes and OpenSearch; disable
			// only the flag tables (OpenSearch may well be gone).
			check := migrate.ShadowWriteCheck{Store: st, Database: cfg.Database, Tables: []string{"obsplane_flags", "obsplane_flag_audit"}, Timeout: timeout}
			if on {
				check.Tables = append(clickhousestoreexporter.DefaultTables(), check.Tables...)
				check.NeedOpenSearch = true
				if opensearchURL != "" {
					if check.OpenSearch, err = opensearch.New(opensearchURL, opensearch.Options{Timeout: timeout}); err != nil {
						return refusal{fmt.Errorf("--opensearch-url: %w", err)}
					}
				}
			}
			if err := migrate.CheckShadowWrite(ctx, check); err != nil {
				return refusal{err}
			}
			fl, err := router.NewFlags(st, server.RouterConfig(cfg), router.SystemClock{}, log)
			if err != nil {
				return err
			}
			if err := fl.Refresh(ctx); err != nil {
				return refusal{fmt.Errorf("read the flags: %w", err)}
			}
			old, cur, err := setShadowWrite(ctx, fl, on, actor, reason)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "shadow_write: %t -> %t (by %s); running gateways follow within --flag-refresh (%s)\n",
				old.Enabled, cur.Enabled, actor, cfg.Router.FlagRefresh)
			return nil
		},
	})
	f := cmd.Flags()
	f.StringVar(&opensearchURL, "opensearch", "", "OpenSearch URL (default: --opensearch-url)")
	f.StringVar(&reason, "reason", "", "why, kept in the audit trail")
	f.StringVar(&actor, "actor", defaultActor(), "who, kept in the audit trail")
	f.DurationVar(&timeout, "check-timeout", 10*time.Second, "time limit of each health check (store ping, table list, OpenSearch health)")
	return cmd
}

// setShadowWrite sets the flag through the flag service, which writes the
// audit row.
func setShadowWrite(ctx context.Context, fl *flags.Service, on bool, actor, reason string) (old, cur flags.Flag, err error) {
	if reason == "" {
		reason = map[bool]string{true: "migrate shadow-write enable", false: "migrate shadow-write disable"}[on]
	}
	return fl.Update(ctx, flags.ShadowWrite, flags.Change{Enabled: &on}, actor, reason)
}
