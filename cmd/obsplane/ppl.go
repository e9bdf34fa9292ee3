package main

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/spf13/cobra"

	"github.com/openchoreo/obsplane/internal/query"
)

// pplCmd prints the ClickHouse SQL a PPL query compiles to, without running
// it: for checking what the API will run, and for debugging translations.
func pplCmd() *cobra.Command {
	var namespaces []string
	var maxRows int64
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "ppl '<query>'",
		Short: "Print the ClickHouse SQL and parameters a PPL query compiles to",
		Example: `  obsplane ppl "source=container-logs-* | where service = 'api' | stats count() by level"
  obsplane ppl --namespace acme "source=logs | head 5"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// Without --namespace the SQL is shown for a caller who may
			// read everything; the API always passes the caller's scope.
			sc := query.Scope{All: len(namespaces) == 0, Namespaces: namespaces}
			c, err := query.CompilePPL(args[0], sc, query.Options{MaxRows: maxRows})
			if err != nil {
				return fmt.Errorf("ppl: %w", err)
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{"sql": c.SQL, "params": c.Params, "star": c.Star, "columns": c.Columns})
			}
			fmt.Fprintln(out, c.SQL)
			names := make([]string, 0, len(c.Params))
			for k := range c.Params {
				names = append(names, k)
			}
			sort.Strings(names)
			for _, k := range names {
				fmt.Fprintf(out, "-- %s = %q\n", k, c.Params[k])
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&namespaces, "namespace", nil, "scope the query to these OpenChoreo namespaces (default: all)")
	cmd.Flags().Int64Var(&maxRows, "max-rows", query.DefaultMaxRows, "row cap applied to the query")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print SQL, params and output columns as JSON")
	return cmd
}
