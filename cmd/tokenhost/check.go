package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokenhost/tokenhost/internal/termtext"
)

func newCheckCmd(g *globals) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Start every configured plugin, fetch a token each, and print a table",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return fmt.Errorf("tokenhost check takes no provider name (got %q): it checks every configured provider and group; for %s alone, run `tokenhost token %s`", termtext.Line(args[0]), termtext.Line(args[0]), termtext.Line(args[0]))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			h, err := g.open(ctx)
			if err != nil {
				return err
			}
			defer h.Close()
			cfg := h.Config()
			if len(cfg.Providers) == 0 {
				fmt.Fprintf(g.stdout, "no providers configured (%s); add one under providers: — see conf/*.example.yaml\n", cfg.Source)
				return nil
			}
			failed := 0
			type row struct{ name, plugin, mode, status, expires, next string }
			rows := make([]row, len(cfg.Providers))
			done := make(chan struct{})
			for i, pc := range cfg.Providers {
				go func() {
					defer func() { done <- struct{}{} }()
					r := row{name: pc.Name, plugin: pc.Plugin, mode: "-", expires: "-", next: "-"}
					tok, err := providerToken(ctx, h, pc.Name)
					switch {
					case err != nil:
						r.status, r.next = "FAIL", oneLine(err.Error())
					case tok.Expiry.IsZero():
						r.status, r.expires = "ok", "unknown"
					default:
						r.status, r.expires = "ok", time.Until(tok.Expiry).Round(time.Second).String()
					}
					rows[i] = r
				}()
			}
			for range cfg.Providers {
				<-done
			}
			for _, st := range h.Status() {
				for i := range rows {
					if rows[i].name == st.Name && st.Info.Mode != "" {
						rows[i].mode = st.Info.Mode
					}
				}
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "PROVIDER\tPLUGIN\tMODE\tSTATUS\tEXPIRES IN\tNEXT STEP")
			for _, r := range rows {
				if r.status != "ok" {
					failed++
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.name, r.plugin, r.mode, r.status, r.expires, r.next)
			}
			if groups := groupRows(h, okRows(rows, func(r row) (string, bool) { return r.name, r.status == "ok" })); len(groups) > 0 {
				fmt.Fprintln(tw, "\nGROUP\tSTRATEGY\tSTATUS\tUSABLE\tMEMBERS")
				for _, l := range groups {
					fmt.Fprintln(tw, l)
				}
			}
			tw.Flush()
			if failed > 0 {
				fmt.Fprintf(g.stderr, "tokenhost: %d of %d providers failed the check\n", failed, len(rows))
				return exitCode(1)
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", time.Minute, "give up on the whole check after this long")
	return cmd
}

// oneLine makes a plugin's or the host's error one line of a table, without control characters.
func oneLine(s string) string {
	return strings.ReplaceAll(termtext.Clean(strings.TrimSpace(s)), "\n", "; ")
}
