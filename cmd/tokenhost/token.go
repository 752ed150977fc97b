package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/tokenhost/tokenhost/sdk"
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
			if asHeaders || asJSON {
				ep, err := h.Endpoint(ctx, args[0])
				if err != nil {
					return err
				}
				headers := ep.Headers(tok)
				if asHeaders {
					return printHeaders(g.stdout, headers)
				}
				return printTokenJSON(g.stdout, args[0], tok, headers)
			}
			_, err = fmt.Fprintln(g.stdout, tok.Value)
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON: access_token, token_type, expiry, expires_in, and headers (name → value) the upstream needs")
	cmd.Flags().BoolVar(&asHeaders, "header", false, "print ready header lines (\"Name: value\"), one per line, for curl -H @- or -H \"$(…)\"")
	cmd.MarkFlagsMutuallyExclusive("json", "header")
	return cmd
}

// printHeaders prints each header as a "Name: value" line, sorted by name.
func printHeaders(w io.Writer, headers map[string]string) error {
	names := slices.Sorted(maps.Keys(headers))
	for _, n := range names {
		if _, err := fmt.Fprintf(w, "%s: %s\n", n, headers[n]); err != nil {
			return err
		}
	}
	return nil
}

// printTokenJSON prints the token, its expiry and the headers as `token --json` does.
func printTokenJSON(w io.Writer, provider string, tok sdk.Token, headers map[string]string) error {
	out := tokenJSON{Provider: provider, AccessToken: tok.Value, TokenType: tok.Type, Expiry: tok.Expiry, Headers: headers}
	if out.TokenType == "" {
		out.TokenType = "Bearer"
	}
	if !tok.Expiry.IsZero() {
		out.ExpiresInSeconds = int64(time.Until(tok.Expiry).Seconds())
	}
	out.ExtraHeaders = slices.Sorted(maps.Keys(tok.Headers))
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
