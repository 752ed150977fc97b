package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/tokenhost/tokenhost/core"
	"github.com/tokenhost/tokenhost/internal/termtext"
)

// exitCode ends the process with a code after the command has already said why.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit %d", int(e)) }

// globals are the flags every command takes.
type globals struct {
	config      string
	logLevel    string
	logLevelSet bool
	stdout      io.Writer
	stderr      io.Writer
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	g := &globals{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:           "tokenhost",
		Short:         "OAuth-fronted LLM endpoints, as easy as an API key",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVar(&g.config, "config", "", "configuration file (default: $TOKENHOST_CONFIG, ./tokenhost.yaml once trusted (tokenhost config trust), $XDG_CONFIG_HOME/tokenhost/tokenhost.yaml, embedded default)")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "warn", "log level on stderr: debug, info, warn or error")
	root.PersistentPreRun = func(cmd *cobra.Command, _ []string) {
		g.logLevelSet = cmd.Flags().Changed("log-level")
	}
	root.AddCommand(newTokenCmd(g), newLoginCmd(g), newLogoutCmd(g), newRunCmd(g), newCheckCmd(g), newPluginsCmd(g), newPluginCmd(g), newConfigCmd(g), newVersionCmd(g), newDemoCmd(g), newServeCmd(g), newStoreCmd(g), newMCPCmd(g))
	return root
}

// logger returns the CLI's logger: text lines on stderr at the chosen level.
func (g *globals) logger() *slog.Logger {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(g.logLevel)); err != nil {
		lvl = slog.LevelWarn
	}
	return slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: lvl}))
}

// open opens the host with the CLI's flags.
func (g *globals) open(ctx context.Context) (*core.Host, error) {
	return core.Open(ctx, core.Options{ConfigFile: g.config, Logger: g.logger()})
}

// withHost opens the host with the CLI's flags, runs fn with a context that SIGINT and SIGTERM cancel, and
// closes the host.
func (g *globals) withHost(fn func(ctx context.Context, h *core.Host) error) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	h, err := g.open(ctx)
	if err != nil {
		return err
	}
	defer h.Close()
	return fn(ctx, h)
}

// printErr writes err as one line on stderr, without the control characters a daemon, plugin or identity
// provider may have put in its message.
func printErr(w io.Writer, err error) {
	msg := strings.ReplaceAll(termtext.Clean(strings.TrimSpace(err.Error())), "\n", "; ")
	fmt.Fprintln(w, "tokenhost: "+msg)
}
