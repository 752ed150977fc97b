package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokenhost/tokenhost/core"
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
			return g.withHost(func(ctx context.Context, h *core.Host) error { return printToken(ctx, g, h, args[0], asJSON) })
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON: access_token, token_type, expiry, expires_in, extra header names")
	return cmd
}

// printToken prints provider's token, alone or as JSON.
func printToken(ctx context.Context, g *globals, h *core.Host, provider string, asJSON bool) error {
	tok, err := h.Token(ctx, provider)
	if err != nil {
		return err
	}
	if !asJSON {
		_, err = fmt.Fprintln(g.stdout, tok.Value)
		return err
	}
	out := tokenJSON{Provider: provider, AccessToken: tok.Value, TokenType: tok.Type, Expiry: tok.Expiry}
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
}
