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

// The values of `token --output`.
const (
	outText           = "text"
	outJSON           = "json"
	outHeaders        = "headers"
	outExecCredential = "exec-credential"
)

func newTokenCmd(g *globals) *cobra.Command {
	var asJSON, asHeaders, fresh, helper bool
	output := outText
	cmd := &cobra.Command{
		Use:   "token <provider>",
		Short: "Print a valid access token for a provider (like gcloud auth print-access-token)",
		Long: "Prints a valid access token. A token an earlier call fetched is reused until it is due by the rule " +
			"the proxy follows (inside the provider's refresh_before of expiry or past half its life, whichever is " +
			"later) and while the files and variables its plugin's sign-in depends on are unchanged; it is kept in a " +
			"0600 file under $XDG_CACHE_HOME/tokenhost/tokens/, per provider and configuration, and `login`/`logout` " +
			"remove it. A script calling this in a loop costs the identity provider one token per half-life; " +
			"--fresh asks the plugin regardless. With --helper (implied by --output exec-credential) it acts as an " +
			"agent's credential helper: a second run by the same calling process for the same token means the " +
			"upstream rejected it, and the token is refreshed, at most once per min_refresh_interval.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case asJSON:
				output = outJSON
			case asHeaders:
				output = outHeaders
			}
			if !slices.Contains([]string{outText, outJSON, outHeaders, outExecCredential}, output) {
				return fmt.Errorf("unknown --output %q: use text, json, headers or exec-credential", output)
			}
			helper = helper || output == outExecCredential
			if helper && fresh {
				return fmt.Errorf("--fresh and --helper (or --output %s) do not go together: a helper refreshes when its caller asks again", outExecCredential)
			}
			return g.withHost(func(ctx context.Context, h *core.Host) error {
				return printToken(ctx, g, h, args[0], tokenFormat{output: output, fresh: fresh, helper: helper})
			})
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", outText, "what to print: text (the token alone), json, headers, or exec-credential (a client.authentication.k8s.io/v1 ExecCredential; implies --helper)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON: access_token, token_type, expiry, expires_in, and headers (name → value) the upstream needs (--output json)")
	cmd.Flags().BoolVar(&asHeaders, "header", false, "print ready header lines (\"Name: value\"), one per line, for curl -H @- or -H \"$(…)\" (--output headers)")
	cmd.Flags().BoolVar(&fresh, "fresh", false, "ask the plugin for a token even when one cached by an earlier call is still valid")
	cmd.Flags().BoolVar(&helper, "helper", false, "act as an agent's credential helper: a second run by the same process for the same token refreshes it (at most once per min_refresh_interval)")
	cmd.MarkFlagsMutuallyExclusive("json", "header", "output")
	return cmd
}

// tokenFormat is how `token` prints, and whether it may reuse a cached token or acts as a helper.
type tokenFormat struct {
	output        string // outText, outJSON, outHeaders or outExecCredential
	fresh, helper bool
}

// printToken prints provider's token in f's format. Unless f.fresh, it asks a running `tokenhost serve`
// of the same configuration (control.go), else reuses a token an earlier call cached while that stays
// valid; what it fetches itself it caches. With f.helper, a re-ask is a rejection (helper.go).
func printToken(ctx context.Context, g *globals, h *core.Host, provider string, f tokenFormat) error {
	if gc := h.Config().Group(provider); gc != nil {
		return printGroupToken(ctx, g, h, gc, f)
	}
	pc, cache := h.Config().Provider(provider), newTokenCache()
	ct, hit := cachedToken{}, false
	switch {
	case pc != nil && f.helper:
		var err error
		if ct, err = helperToken(ctx, h, pc, provider, cache, g.stderr); err != nil {
			return err
		}
		hit = true
	case pc != nil && !f.fresh:
		// A running daemon of this configuration first (its token is the freshest), then this user's cache.
		var err error
		if ct, hit, err = askControl(ctx, h.Config(), provider, g.stderr); err != nil {
			return err
		}
		if !hit {
			ct, hit = cache.get(pc, time.Now())
		}
	}
	if !hit {
		var err error
		if ct, err = fetchAndCache(ctx, h, pc, provider, cache); err != nil {
			return err
		}
	}
	tok, headers := ct.Token, ct.Headers
	switch f.output {
	case outHeaders:
		for _, n := range slices.Sorted(maps.Keys(headers)) {
			if _, err := fmt.Fprintf(g.stdout, "%s: %s\n", n, headers[n]); err != nil {
				return err
			}
		}
		return nil
	case outExecCredential:
		return printExecCredential(g, ct.Token.Value, ct.due(pc, time.Now()))
	case outText:
		_, err := fmt.Fprintln(g.stdout, tok.Value)
		return err
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

// execCredential is a client.authentication.k8s.io/v1 ExecCredential, what client-go's exec plugins print.
type execCredential struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Status     struct {
		Token               string `json:"token"`
		ExpirationTimestamp string `json:"expirationTimestamp,omitempty"`
	} `json:"status"`
}

// printExecCredential prints tok as an ExecCredential whose expirationTimestamp is due (whole seconds,
// rounded down, UTC), the time the token rule replaces it; none when due is zero.
func printExecCredential(g *globals, tok string, due time.Time) error {
	ec := execCredential{APIVersion: "client.authentication.k8s.io/v1", Kind: "ExecCredential"}
	ec.Status.Token = tok
	if !due.IsZero() {
		ec.Status.ExpirationTimestamp = due.UTC().Truncate(time.Second).Format(time.RFC3339)
	}
	return json.NewEncoder(g.stdout).Encode(ec)
}
