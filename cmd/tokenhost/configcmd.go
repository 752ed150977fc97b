package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokenhost/tokenhost/core"
	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/internal/termtext"
	"github.com/tokenhost/tokenhost/store"
)

func newConfigCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Inspect, check and trust the configuration"}
	var provider string
	show := &cobra.Command{
		Use:   "show",
		Short: "Print the effective configuration (file, environment overrides, defaults) with where each value came from; secrets redacted",
		Args:  cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			out, err := config.Show(g.sources(g.config), provider)
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(g.stdout, out)
			return err
		},
	}
	show.Flags().StringVar(&provider, "provider", "", "show only this provider or group")
	var strict bool
	validate := &cobra.Command{
		Use:   "validate [file]",
		Short: "Check a configuration without starting plugins (--strict also runs each plugin's Configure); exit 1 on any error, one per line",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			file := g.config
			if len(args) == 1 {
				file = args[0]
			}
			cfg, err := config.Load(g.sources(file))
			if err == nil {
				err = storeBackend(cfg)
			}
			if err != nil {
				fmt.Fprintln(g.stderr, termtext.Clean(err.Error()))
				return exitCode(1)
			}
			if strict {
				if bad := configureAll(g, cfg); bad > 0 {
					return exitCode(1)
				}
			}
			fmt.Fprintf(g.stdout, "%s: ok (%s)\n", cfg.Source, counted(cfg))
			return nil
		},
	}
	validate.Flags().BoolVar(&strict, "strict", false, "also start each provider's plugin and run its Configure")
	cmd.AddCommand(show, validate)
	cmd.AddCommand(newTrustCmds(g)...)
	return cmd
}

// storeBackend checks that cfg's store backend is one this program links: the configuration accepts any
// name, and the store registry knows which exist.
func storeBackend(cfg *config.Config) error {
	if err := store.Available(cfg.Store.Backend); err != nil {
		return fmt.Errorf("store.backend: %w", err)
	}
	return nil
}

// sources is what the CLI loads configuration from: file (or the search order) and this environment.
func (g *globals) sources(file string) config.Sources {
	return config.Sources{File: file, Environ: os.Environ(), Builtins: core.Builtins()}
}

// configureAll starts every provider's plugin of cfg (running its Configure) and prints one line per
// failure; it returns how many failed.
func configureAll(g *globals, cfg *config.Config) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	h, err := core.Open(ctx, core.Options{Config: cfg, Logger: g.logger()})
	if err != nil {
		fmt.Fprintln(g.stderr, termtext.Clean(err.Error()))
		return 1
	}
	defer h.Close()
	bad := 0
	for _, name := range cfg.Names() {
		if err := h.Start(ctx)[name]; err != nil {
			fmt.Fprintln(g.stderr, strings.ReplaceAll(termtext.Clean(err.Error()), "\n", " "))
			bad++
		}
	}
	return bad
}

// counted says how many providers cfg has, and groups when it has any: "2 providers, 1 group".
func counted(cfg *config.Config) string {
	out := fmt.Sprintf("%d providers", len(cfg.Providers))
	switch n := len(cfg.Groups); {
	case n == 1:
		out += ", 1 group"
	case n > 1:
		out += fmt.Sprintf(", %d groups", n)
	}
	return out
}
