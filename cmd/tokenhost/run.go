package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokenhost/tokenhost/proxy"
)

func newRunCmd(g *globals) *cobra.Command {
	var envNames, keepEnv []string
	cmd := &cobra.Command{
		Use:   "run <provider> -- <command> [args…]",
		Short: "Run any OpenAI-compatible tool against a provider: OPENAI_BASE_URL and OPENAI_API_KEY point it at a private proxy",
		Long: "Starts the proxy in this process on a random loopback port with a random key for this run, runs the " +
			"command with OPENAI_BASE_URL=http://127.0.0.1:<port>/<provider> and OPENAI_API_KEY=<the key> (and every " +
			"--env NAME set to the same base URL), passes signals on to it, and exits with its status. Tokens are " +
			"refreshed for as long as it runs. The proxy serves only this provider, and the command's environment " +
			"lacks every TOKENHOST_* variable, every variable the configuration reads a secret from (*_env options, " +
			"store.encryption_key_env) and every variable a configured plugin may see beyond the minimal set (env: " +
			"lists, a built-in's own such as AZURE_*), unless --keep-env names it.",
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.ArgsLenAtDash() != 1 {
				return errors.New("usage: tokenhost run <provider> -- <command> [args…]")
			}
			return runWith(g, args[0], args[1:], envNames, keepEnv)
		},
	}
	cmd.Flags().StringArrayVar(&envNames, "env", nil, "also set this variable to the base URL (repeatable), e.g. --env AZURE_OPENAI_ENDPOINT")
	cmd.Flags().StringArrayVar(&keepEnv, "keep-env", nil, "pass this variable on to the command although tokenhost withholds it (repeatable), e.g. --keep-env TOKENHOST_CONFIG")
	return cmd
}

// runWith serves provider, and only it, on a private loopback proxy while argv runs with the environment
// runEnviron leaves it, and returns the command's exit status.
func runWith(g *globals, provider string, argv, envNames, keepEnv []string) error {
	ctx := context.Background()
	h, err := g.open(ctx)
	if err != nil {
		return err
	}
	defer h.Close()
	if !slices.Contains(h.Config().Names(), provider) && h.Config().Group(provider) == nil {
		return fmt.Errorf("no provider %q in %s (configured: %v)", provider, h.Config().Source, h.Config().Names())
	}
	key, err := runKey()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("cannot listen on loopback for the run's proxy: %w", err)
	}
	srv := &http.Server{
		Handler:           proxy.Handler(h, proxy.Options{APIKeys: []string{key}, AccessLog: g.logger(), Providers: []string{provider}}),
		ReadHeaderTimeout: 30 * time.Second,
	}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()

	base := "http://" + ln.Addr().String() + "/" + provider
	c := exec.Command(argv[0], argv[1:]...)
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, g.stdout, g.stderr
	c.Env = append(runEnviron(os.Environ(), h.Config(), keepEnv), "OPENAI_BASE_URL="+base, "OPENAI_API_KEY="+key)
	for _, n := range envNames {
		c.Env = append(c.Env, n+"="+base)
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, forwarded...)
	defer signal.Stop(sigs)
	if err := c.Start(); err != nil {
		return fmt.Errorf("cannot run %s: %w", argv[0], err)
	}
	tty := openTerminal()
	defer tty.close()
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				if !tty.deliversToGroup(s) {
					_ = c.Process.Signal(s)
				}
			case <-done:
				return
			}
		}
	}()
	err = c.Wait()
	close(done)
	var ee *exec.ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return exitCode(128 + int(ws.Signal()))
		}
		return exitCode(ee.ExitCode())
	}
	return fmt.Errorf("%s: %w", argv[0], err)
}

// runKey returns a random key for one run's proxy.
func runKey() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "thrun-" + hex.EncodeToString(b), nil
}
