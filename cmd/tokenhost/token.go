package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os/signal"
	"sort"
	"syscall"
	"time"

	"github.com/spf13/cobra"
)

// tokenJSON is what `token --json` prints: everything about the token but the extra headers' values.
type tokenJSON struct {
	Provider         string    `json:"provider"`
	AccessToken      string    `json:"access_token"`
	TokenType        string    `json:"token_type"`
	Expiry           time.Time `json:"expiry,omitzero"`
	ExpiresInSeconds int64     `json:"expires_in,omitempty"`
	ExtraHeaders     []string  `json:"extra_headers,omitempty"`
}

func newTokenCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "token <provider>",
		Short: "Print a fresh access token for a provider (like gcloud auth print-access-token)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			h, err := g.open(ctx)
			if err != nil {
				return err
			}
			defer h.Close()
			tok, err := h.Token(ctx, args[0])
			if err != nil {
				return err
			}
			if !asJSON {
				_, err = fmt.Fprintln(g.stdout, tok.Value)
				return err
			}
			out := tokenJSON{Provider: args[0], AccessToken: tok.Value, TokenType: tok.Type, Expiry: tok.Expiry}
			if out.TokenType == "" {
				out.TokenType = "Bearer"
			}
			if !tok.Expiry.IsZero() {
				out.ExpiresInSeconds = int64(time.Until(tok.Expiry).Seconds())
			}
			for k := range tok.Headers {
				out.ExtraHeaders = append(out.ExtraHeaders, k)
			}
			sort.Strings(out.ExtraHeaders)
			enc := json.NewEncoder(g.stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(out)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON: access_token, token_type, expiry, expires_in, extra header names")
	return cmd
}
