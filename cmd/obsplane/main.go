// Command obsplane is the OpenChoreo observability plane on ClickHouse: the
// ingestion gateway and the query APIs in one binary.
// This file and its siblings only parse flags and call into internal/.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/openchoreo/obsplane/internal/config"
	"github.com/openchoreo/obsplane/internal/server"
	"github.com/openchoreo/obsplane/internal/version"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := rootCmd().ExecuteContext(ctx); err != nil {
		// A refused migration step exits 2, naming the reason; anything
		// else 1.
		fmt.Fprintln(os.Stderr, errorText(err))
		os.Exit(exitCode(err))
	}
}

// withConfig registers every config flag on cmd.
func withConfig(cmd *cobra.Command) *cobra.Command {
	config.RegisterFlags(cmd.Flags())
	return cmd
}

// loadConfig returns the effective config for cmd.
func loadConfig(cmd *cobra.Command) (*config.Config, error) {
	return config.Load(cmd.Flags())
}

// gatewayCmd is `obsplane gateway --config FILE`: the gateway alone, where
// --config names a collector config (such as
// internal/gateway/testdata/whitepaper-3.2.yaml, with its exporter renamed
// to clickhousestore) rather than obsplane's own YAML.
func gatewayCmd() *cobra.Command {
	cmd := withConfig(&cobra.Command{
		Use:   "gateway",
		Short: "Run only the ingestion gateway, on a collector config file or the built-in pipeline",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			collector, _ := cmd.Flags().GetString("config")
			_ = cmd.Flags().Set("config", "")
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			cfg.Components = "gateway"
			if collector != "" {
				cfg.Gateway.Config = collector
			}
			return server.Run(cmd.Context(), cfg)
		},
	})
	cmd.Flags().Lookup("config").Usage = "collector config file (replaces the built-in pipeline)"
	return cmd
}

// rootCmd is the command tree.
func rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "obsplane",
		Short:         "OpenChoreo observability plane on ClickHouse",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		withConfig(&cobra.Command{
			Use:   "serve",
			Short: "Run the gateway, the query APIs and the store in one process",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				cfg, err := loadConfig(cmd)
				if err != nil {
					return err
				}
				return server.Run(cmd.Context(), cfg)
			},
		}),
		gatewayCmd(),
		&cobra.Command{
			Use:   "version",
			Short: "Print the version",
			Args:  cobra.NoArgs,
			Run: func(cmd *cobra.Command, _ []string) {
				fmt.Fprintln(cmd.OutOrStdout(), "obsplane", version.Version)
			},
		},
	)
	configCmd := &cobra.Command{Use: "config", Short: "Inspect the configuration"}
	configCmd.AddCommand(withConfig(&cobra.Command{
		Use:   "print",
		Short: "Print the effective configuration, secrets masked",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			fmt.Fprint(cmd.OutOrStdout(), cfg.Print())
			return nil
		},
	}))
	root.AddCommand(configCmd, schemaCmd(), pplCmd(), migrateCmd(), healthCmd(), backupCmd(), restoreCmd(), sizingCmd())
	return root
}
