package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"time"

	"github.com/pkg/browser"
	"github.com/spf13/cobra"

	"github.com/tokenhost/tokenhost/core"
	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/internal/termtext"
	"github.com/tokenhost/tokenhost/sdk"
)

func newLoginCmd(g *globals) *cobra.Command {
	var noBrowser bool
	cmd := &cobra.Command{
		Use:   "login <provider>",
		Short: "Sign a person in for a provider (device code or browser); the plugin runs the flow, this shows its prompts",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withHost(func(ctx context.Context, h *core.Host) error {
				ui := &terminalUI{w: g.stdout, noBrowser: noBrowser, open: openBrowser}
				var res sdk.LoginResult
				p, err := h.Provider(args[0])
				if err == nil {
					res, err = p.Login(ctx, ui)
				}
				if err = forgetCachedTokens(args[0], err); err != nil {
					return err
				}
				fmt.Fprintln(g.stdout, termtext.Clean(res.Message))
				noteRunningDaemon(g.stderr, h.Config(), args[0])
				if !res.Expiry.IsZero() {
					fmt.Fprintf(g.stdout, "The access token expires in %s; tokenhost refreshes it from the stored sign-in.\n", time.Until(res.Expiry).Round(time.Second))
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&noBrowser, "no-browser", false, "print the URL to open instead of opening a browser")
	return cmd
}

func newLogoutCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "logout <provider>",
		Short: "Revoke a provider's stored sign-in where the server allows it, and forget it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withHost(func(ctx context.Context, h *core.Host) error {
				var msg string
				p, err := h.Provider(args[0])
				if err == nil {
					msg, err = p.Logout(ctx)
				}
				if err = forgetCachedTokens(args[0], err); err != nil {
					return err
				}
				if _, err = fmt.Fprintln(g.stdout, termtext.Clean(msg)); err != nil {
					return err
				}
				noteRunningDaemon(g.stderr, h.Config(), args[0])
				return nil
			})
		},
	}
}

// forgetCachedTokens removes provider's tokens from the `tokenhost token` cache after a sign-in or a
// sign-out, whatever its outcome (one that failed half-way may have changed the stored sign-in too), and
// returns err, the sign-in's own error, before any of its own.
func forgetCachedTokens(provider string, err error) error {
	if ferr := newTokenCache().forget(provider); err == nil {
		return ferr
	}
	return err
}

// noteRunningDaemon tells the user, after a sign-in or a sign-out, that a `tokenhost serve` of the same
// configuration is running: it keeps the token it holds (and hands it to `tokenhost token`) until that
// token is due or rejected, since its plugin process does not see this command's sign-in change.
func noteRunningDaemon(w io.Writer, cfg *config.Config, provider string) {
	path := controlPath(cfg)
	if checkControlDir(filepath.Dir(path)) != nil || checkControlSocket(path) != nil {
		return
	}
	fmt.Fprintf(w, "note: a tokenhost serve of this configuration is running (%s); it serves the token it holds for %s until that token is due or rejected: restart it to use this change at once\n", path, provider)
}

// terminalUI shows a plugin's sign-in prompts on the terminal and opens URLs in a browser unless told not
// to.
type terminalUI struct {
	w         io.Writer
	noBrowser bool
	open      func(url string) error
}

// Show prints p; it never prints anything the plugin sent unfiltered, so a plugin cannot send escape
// sequences to the terminal.
func (u *terminalUI) Show(_ context.Context, p sdk.Prompt) error {
	if p.Message != "" {
		fmt.Fprintln(u.w, termtext.Clean(p.Message))
	}
	if p.URL != "" {
		fmt.Fprintln(u.w, "  "+termtext.Line(p.URL))
	}
	if p.UserCode != "" {
		fmt.Fprintln(u.w, "  code: "+termtext.Line(p.UserCode))
	}
	if link := termtext.Line(p.URL); link != "" && p.Open && !u.noBrowser { // the URL opened is the one shown
		if !webURL(link) {
			fmt.Fprintln(u.w, "  (warning: not opened, as the plugin's URL is not http or https; open it yourself only if you trust it)")
		} else if err := u.open(link); err != nil {
			fmt.Fprintln(u.w, "  (no browser could be opened; open the URL yourself)")
		}
	}
	return nil
}

// webURL reports whether raw is an absolute http or https URL with a host, the only kind a plugin's
// prompt may have opened: file:, javascript: and custom-handler URLs are printed, never opened.
func webURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// openBrowser opens url in the user's browser, saying nothing on the terminal itself.
func openBrowser(url string) error {
	browser.Stdout, browser.Stderr = io.Discard, io.Discard
	return browser.OpenURL(url)
}
