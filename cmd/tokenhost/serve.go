package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/proxy"
)

func newServeCmd(g *globals) *cobra.Command {
	var listen string
	var eager bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the local OpenAI-compatible auth proxy: /<provider>/<path> → <upstream>/<path>",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return serve(ctx, g, listen, eager)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "", "address to listen on (default: server.listen, 127.0.0.1:8787)")
	cmd.Flags().BoolVar(&eager, "eager", false, "start every plugin and fetch a token each before serving; /readyz waits for them")
	return cmd
}

// serveGCPercent is the garbage collector's GOGC for `tokenhost serve` when the environment sets none.
// The proxy's live heap is about 2 MiB, under the runtime's 4 MiB minimum goal, so at the default of 100
// it collects every few hundred requests; 400 lets the heap grow to about 10 MiB between collections and
// took a proxied request's CPU time down to a bare ReverseProxy's (docs/benchmarks.md).
const serveGCPercent = 400

// serverGC sets serveGCPercent unless GOGC is set (the operator's choice wins).
func serverGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(serveGCPercent)
	}
}

// serve runs the proxy until ctx ends, then shuts down gracefully.
func serve(ctx context.Context, g *globals, listen string, eager bool) error {
	if g.logLevel == "warn" && !g.logLevelSet {
		g.logLevel = "info" // a server's access log is its main output
	}
	log := g.logger()
	serverGC()
	stopTracing, err := startTracing(ctx, log)
	if err != nil {
		return err
	}
	defer stopTracing()
	h, err := g.open(ctx)
	if err != nil {
		return err
	}
	defer h.Close()
	cfg := h.Config()
	if listen == "" {
		listen = cfg.Server.Listen
	}
	if err := config.ValidateListen(listen, cfg.Server); err != nil {
		return err
	}
	tlsConf, err := proxy.LoadTLS(cfg.Server.TLS)
	if err != nil {
		return err
	}
	if eager {
		for name, err := range h.Start(ctx) {
			log.Error("provider failed to start; /readyz reports not ready", "provider", name, "error", err.Error())
		}
		for _, name := range cfg.Names() {
			if _, err := providerToken(ctx, h, name); err != nil {
				log.Error("provider has no token yet", "provider", name, "error", err.Error())
			}
		}
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("server.listen: cannot listen on %s: %w", listen, err)
	}
	serveControl(ctx, h, log)
	watchReload(ctx, h, log)
	srv := proxy.NewServer(proxy.Handler(h, proxy.Options{APIKeys: cfg.Server.APIKeys, AllowedOrigins: cfg.Server.AllowedOrigins, Eager: eager, AccessLog: log}), tlsConf)
	scheme := "http"
	if tlsConf != nil {
		scheme = "https"
	}
	groups := make([]string, len(cfg.Groups))
	for i, gc := range cfg.Groups {
		groups[i] = gc.Name
	}
	log.Info("tokenhost proxy listening", "address", scheme+"://"+ln.Addr().String(), "providers", cfg.Names(), "groups", groups, "config", cfg.Source)
	fmt.Fprintf(g.stdout, "tokenhost: serving %s on %s://%s (e.g. OPENAI_BASE_URL=%s://%s/<provider>)\n", counted(cfg), scheme, ln.Addr(), scheme, ln.Addr())
	errc := make(chan error, 1)
	go func() {
		if tlsConf != nil {
			errc <- srv.ServeTLS(ln, "", "") // the certificate is in srv.TLSConfig
			return
		}
		errc <- srv.Serve(ln)
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	grace := cfg.Server.ShutdownGrace
	log.Info("shutting down: no new connections; waiting for in-flight requests", "grace", grace.String())
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("in-flight requests did not finish within the grace period; closing them", "error", err.Error())
		srv.Close()
	}
	return nil
}
