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
		Use:   "run <provider> [<provider>…] -- <command> [args…]",
		Short: "Run any tool against providers: OPENAI_BASE_URL, OPENAI_API_KEY and TOKENHOST_* point it at a private proxy",
		Long: "Fetches a token for each provider named (and stops with the provider's error before the command starts " +
			"when one fails), starts the proxy in this process on a random loopback port with a random key for this " +
			"run, runs the command with OPENAI_BASE_URL=http://127.0.0.1:<port>/<first provider>, OPENAI_API_KEY=<the " +
			"key>, TOKENHOST_URL=http://127.0.0.1:<port>, TOKENHOST_KEY=<the key>, TOKENHOST_<NAME>_URL for each " +
			"provider (NAME upper-cased, every other character than A-Z and 0-9 made _) and every --env NAME set to " +
			"the first provider's base URL, passes signals on to it, and exits with its status. Tokens are refreshed " +
			"for as long as it runs. The proxy serves only the providers named, and the command's environment lacks " +
			"every other TOKENHOST_* variable, every variable the configuration reads a secret from (*_env options, " +
			"store.encryption_key_env) and every variable a configured plugin may see beyond the minimal set (env: " +
			"lists, a built-in's own such as AZURE_*), unless --keep-env names it.",
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			n := cmd.ArgsLenAtDash()
			if n < 1 || n == len(args) {
				return errors.New("usage: tokenhost run <provider> [<provider>…] -- <command> [args…]")
			}
			return runWith(g, args[:n], args[n:], envNames, keepEnv)
		},
	}
	cmd.Flags().StringArrayVar(&envNames, "env", nil, "also set this variable to the first provider's base URL (repeatable), e.g. --env AZURE_OPENAI_ENDPOINT")
	cmd.Flags().StringArrayVar(&keepEnv, "keep-env", nil, "pass this variable on to the command although tokenhost withholds it (repeatable), e.g. --keep-env TOKENHOST_CONFIG")
	return cmd
}

// runWith serves providers, and only them, on a private loopback proxy while argv runs with the
// environment runEnviron leaves it plus the run's variables (runVars), and returns the command's exit
// status. A provider that cannot give a token stops the run before the command starts.
func runWith(g *globals, providers, argv, envNames, keepEnv []string) error {
	vars, err := providerVars(providers)
	if err != nil {
		return err
	}
	var named []string // a provider named twice is served once
	for _, p := range providers {
		if !slices.Contains(named, p) {
			named = append(named, p)
		}
	}
	providers = named
	ctx := context.Background()
	h, err := g.open(ctx)
	if err != nil {
		return err
	}
	defer h.Close()
	for _, p := range providers {
		if _, err := h.Provider(p); err != nil {
			return fmt.Errorf("%w, in %s", err, h.Config().Source)
		}
	}
	for _, p := range providers {
		if _, err := providerToken(ctx, h, p); err != nil {
			return fmt.Errorf("not running %s: %w", argv[0], err)
		}
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
		Handler:           proxy.Handler(h, proxy.Options{APIKeys: []string{key}, AccessLog: g.logger(), Providers: providers}),
		ReadHeaderTimeout: 30 * time.Second,
	}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()

	c := exec.Command(argv[0], argv[1:]...)
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, g.stdout, g.stderr
	c.Env = append(runEnviron(os.Environ(), h.Config(), keepEnv), runVars("http://"+ln.Addr().String(), key, providers, vars, envNames)...)
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
