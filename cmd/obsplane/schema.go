package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/openchoreo/obsplane/internal/config"
	"github.com/openchoreo/obsplane/internal/schema"
	"github.com/openchoreo/obsplane/internal/server"
	"github.com/openchoreo/obsplane/internal/store"
)

// schemaFlags are the schema subcommands' own flags. Cluster and storage
// policy are schema-time choices (the DDL is created once), so they are not
// part of serve's config; the database is (--database), since serve reads
// and writes it.
type schemaFlags struct {
	cluster, storagePolicy string
	textIndex              bool
}

func (f *schemaFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.cluster, "cluster", "", "render ON CLUSTER DDL: Replicated *_local tables and Distributed tables over them")
	cmd.Flags().StringVar(&f.storagePolicy, "storage-policy", "", "storage policy with volumes hot, warm and cold; enables the --retention-hot/warm/cold moves")
}

// schemaOptions are the config's database and retention with the flags.
func schemaOptions(cfg *config.Config, f schemaFlags) (schema.Options, error) {
	o := server.SchemaOptions(cfg)
	o.Cluster, o.StoragePolicy, o.TextIndex = f.cluster, f.storagePolicy, f.textIndex
	return o, nil
}

// schemaTarget loads the config once and opens the store it names, with the
// schema options for f.
func schemaTarget(cmd *cobra.Command, f schemaFlags) (store.Store, schema.Options, func(), error) {
	cfg, err := loadConfig(cmd)
	if err != nil {
		return nil, schema.Options{}, nil, err
	}
	o, err := schemaOptions(cfg, f)
	if err != nil {
		return nil, o, nil, err
	}
	st, err := server.OpenStore(cfg)
	if err != nil {
		return nil, o, nil, err
	}
	return st, o, func() { _ = st.Close() }, nil
}

func schemaCmd() *cobra.Command {
	schemaCmd := &cobra.Command{Use: "schema", Short: "Create, inspect and render the ClickHouse schema"}

	var applyF schemaFlags
	apply := withConfig(&cobra.Command{
		Use:   "apply",
		Short: "Apply pending schema migrations (a no-op when none are pending)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, o, closeStore, err := schemaTarget(cmd, applyF)
			if err != nil {
				return err
			}
			defer closeStore()
			applied, err := schema.Apply(cmd.Context(), st, o)
			for _, v := range applied {
				fmt.Fprintf(cmd.OutOrStdout(), "applied %04d\n", v)
			}
			if err != nil {
				return err
			}
			if len(applied) == 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "schema is up to date at version %d\n", schema.Latest())
			}
			return nil
		},
	})
	applyF.register(apply)

	var statusF schemaFlags
	status := withConfig(&cobra.Command{
		Use:   "status",
		Short: "List schema migrations and whether each is applied",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, o, closeStore, err := schemaTarget(cmd, statusF)
			if err != nil {
				return err
			}
			defer closeStore()
			list, err := schema.Status(cmd.Context(), st, o)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "VERSION\tNAME\tSTATE\tAPPLIED AT")
			for _, s := range list {
				at := "-"
				if !s.AppliedAt.IsZero() {
					at = s.AppliedAt.Format(time.RFC3339)
				}
				fmt.Fprintf(w, "%04d\t%s\t%s\t%s\n", s.Version, s.Name, s.State, at)
			}
			return w.Flush()
		},
	})
	statusF.register(status)

	var renderF schemaFlags
	render := withConfig(&cobra.Command{
		Use:   "render",
		Short: "Print the DDL of every migration, for review or to run by hand",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			o, err := schemaOptions(cfg, renderF)
			if err != nil {
				return err
			}
			stmts, err := schema.Render(o)
			if err != nil {
				return err
			}
			for _, s := range stmts {
				fmt.Fprintf(cmd.OutOrStdout(), "-- migration %04d %s\n%s;\n\n", s.Version, s.Name, s.SQL)
			}
			return nil
		},
	})
	renderF.register(render)
	render.Flags().BoolVar(&renderF.textIndex, "text-index", false, "use text indexes (ClickHouse 26.2 and newer); apply decides this from the server version")

	schemaCmd.AddCommand(apply, status, render)
	return schemaCmd
}
