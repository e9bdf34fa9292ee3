package main

import (
	"github.com/spf13/cobra"

	"github.com/openchoreo/obsplane/internal/sizing"
)

// sizingCmd is `obsplane sizing`: cores, memory and disk for a load, from
// the rates `make bench` measured.
func sizingCmd() *cobra.Command {
	var logs, spans float64
	var retention string
	cmd := &cobra.Command{
		Use:   "sizing",
		Short: "Cores, memory and disk for an ingest rate and retention, from measured compression and ingest rates",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ret, err := sizing.ParseRetention(retention)
			if err != nil {
				return err
			}
			m, err := sizing.Builtin()
			if err != nil {
				return err
			}
			load := sizing.Load{LogsPerSecond: logs, SpansPerSecond: spans, Retention: ret}
			e, err := m.Estimate(load)
			if err != nil {
				return err
			}
			m.Write(cmd.OutOrStdout(), load, e)
			return nil
		},
	}
	cmd.Flags().Float64Var(&logs, "logs-per-second", 0, "log records ingested per second")
	cmd.Flags().Float64Var(&spans, "spans-per-second", 0, "spans ingested per second")
	cmd.Flags().StringVar(&retention, "retention", "30d", "how long data is kept: 30d, 2w or a Go duration")
	return cmd
}
