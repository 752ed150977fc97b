// Command embed is a small program that embeds the tokenhost host, for the end-to-end tests.
//
// Usage: embed <mode> <config-file> <provider>
//
// Modes:
//
//	serveifplugin      calls core.ServeIfPlugin() first thing in main (the documented opt-in)
//	executable=<path>  does not call ServeIfPlugin; sets core.Options.PluginExecutable to <path>
//	neither            does neither, so the host must refuse to start a built-in plugin
//
// It prints the provider's token on stdout; on error it prints the error on stderr and exits 1.
package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/tokenhost/tokenhost/core"
	_ "github.com/tokenhost/tokenhost/plugins/builtin" // the built-in plugins, served by ServeIfPlugin
)

func main() {
	// ServeIfPlugin must run before anything else, argument parsing included: when the host re-executes
	// this program as a plugin it passes no arguments at all. Only the modes that promise not to call it
	// skip it; a re-executed "neither" program (which the host must never start) would therefore serve a
	// plugin rather than spawn yet another host, so it can never recurse.
	if len(os.Args) < 2 || (os.Args[1] != "neither" && !strings.HasPrefix(os.Args[1], "executable=")) {
		if core.ServeIfPlugin() {
			return
		}
	}
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: embed serveifplugin|executable=<path>|neither <config-file> <provider>")
		os.Exit(2)
	}
	mode, configFile, provider := os.Args[1], os.Args[2], os.Args[3]
	opts := core.Options{ConfigFile: configFile}
	switch {
	case mode == "serveifplugin", mode == "neither":
	case strings.HasPrefix(mode, "executable="):
		opts.PluginExecutable = strings.TrimPrefix(mode, "executable=")
	default:
		fmt.Fprintf(os.Stderr, "embed: unknown mode %q\n", mode)
		os.Exit(2)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h, err := core.Open(ctx, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "embed:", err)
		os.Exit(1)
	}
	p, err := h.Provider(provider)
	if err != nil {
		h.Close()
		fmt.Fprintln(os.Stderr, "embed:", err)
		os.Exit(1)
	}
	tok, err := p.Token(ctx)
	h.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "embed:", err)
		os.Exit(1)
	}
	fmt.Println(tok.Value)
}
