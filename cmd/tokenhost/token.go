package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokenhost/tokenhost/core"
)

// tokenJSON is what `token --json` prints.
type tokenJSON struct {
	Provider         string            `json:"provider"`
	AccessToken      string            `json:"access_token"`
	TokenType        string            `json:"token_type"`
	Expiry           time.Time         `json:"expiry,omitzero"`
	ExpiresInSeconds int64             `json:"expires_in,omitempty"`
	ExtraHeaders     []string          `json:"extra_headers,omitempty"` // their names, kept for scripts written before headers
	Headers          map[string]string `json:"headers"`                 // every header the upstream needs, Authorization included, with values
}

func newTokenCmd(g *globals) *cobra.Command {
	var asJSON, asHeaders bool
	cmd := &cobra.Command{
		Use:   "token <provider>",
		Short: "Print a fresh access token for a provider (like gcloud auth print-access-token)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withHost(func(ctx context.Context, h *core.Host) error {
				return printToken(ctx, g, h, args[0], asJSON, asHeaders)
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON: access_token, token_type, expiry, expires_in, and headers (name → value) the upstream needs")
	cmd.Flags().BoolVar(&asHeaders, "header", false, "print ready header lines (\"Name: value\"), one per line, for curl -H @- or -H \"$(…)\"")
	cmd.MarkFlagsMutuallyExclusive("json", "header")
	return cmd
}

// printToken prints provider's token: alone, as header lines, or as JSON.
func printToken(ctx context.Context, g *globals, h *core.Host, provider string, asJSON, asHeaders bool) error {
	tok, err := h.Token(ctx, provider)
	if err != nil {
		return err
	}
	if !asJSON && !asHeaders {
		_, err = fmt.Fprintln(g.stdout, tok.Value)
		return err
	}
	ep, err := h.Endpoint(ctx, provider)
	if err != nil {
		return err
	}
	headers := ep.Headers(tok)
	if asHeaders {
		for _, n := range slices.Sorted(maps.Keys(headers)) {
			if _, err := fmt.Fprintf(g.stdout, "%s: %s\n", n, headers[n]); err != nil {
				return err
			}
		}
		return nil
	}
	out := tokenJSON{Provider: provider, AccessToken: tok.Value, TokenType: tok.Type, Expiry: tok.Expiry, Headers: headers}
	if out.TokenType == "" {
		out.TokenType = "Bearer"
	}
	if !tok.Expiry.IsZero() {
		out.ExpiresInSeconds = int64(time.Until(tok.Expiry).Seconds())
	}
	out.ExtraHeaders = slices.Sorted(maps.Keys(tok.Headers))
	enc := json.NewEncoder(g.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
