package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokenhost/tokenhost/core"
	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/store"
	"github.com/tokenhost/tokenhost/store/seal"
)

func newStoreCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "store",
		Short: "Manage the store a fleet of hosts shares (see docs/fleet.md)",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "keygen",
		Short: "Print a new store encryption key (32 random bytes, standard base64)",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			k, err := seal.NewKey()
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(g.stdout, k)
			return err
		},
	}, &cobra.Command{
		Use:   "check",
		Short: "Write, read back and delete a probe value in the configured store",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return storeCheck(cmd.Context(), g)
		},
	})
	return cmd
}

// storeCheck opens the configured store and round-trips a probe value through it.
func storeCheck(ctx context.Context, g *globals) error {
	cfg, err := config.Load(config.Sources{File: g.config, Environ: os.Environ(), Builtins: core.Builtins()})
	if err != nil {
		return err
	}
	s, err := store.Open(cfg.Store.Config())
	if err != nil {
		return err
	}
	defer s.Close()
	if ctx == nil {
		ctx = context.Background()
	}
	probe := []byte(time.Now().UTC().Format(time.RFC3339Nano))
	const key = "tokenhost/store-check"
	if err := s.Set(ctx, key, probe, time.Minute); err != nil {
		return fmt.Errorf("store check: writing a probe value: %w", err)
	}
	it, err := s.Get(ctx, key)
	if err == nil && string(it.Value) != string(probe) {
		err = errors.New("the value read back differs from the one written (is another program writing under the same key_prefix?)")
	}
	if err != nil {
		return fmt.Errorf("store check: reading the probe value back: %w", err)
	}
	if err := s.Delete(ctx, key); err != nil {
		return fmt.Errorf("store check: deleting the probe value: %w", err)
	}
	where := "this process's memory"
	if u, err := url.Parse(cfg.Store.URL); err == nil && u.Host != "" {
		where = u.Host // the host only: the URL may hold a password
	}
	_, err = fmt.Fprintf(g.stdout, "store %s at %s: ok (write, read back, delete)\n", cfg.Store.Backend, where)
	return err
}
