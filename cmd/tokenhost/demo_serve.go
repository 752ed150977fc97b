package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/tokenhost/tokenhost/core"
	"github.com/tokenhost/tokenhost/internal/hostapi"
	"github.com/tokenhost/tokenhost/proxy"
)

// serveDuringDemo serves h's proxy and status page on a loopback port for `demo --serve`, prints the
// page's URL to out, and returns the function that stops the server.
func serveDuringDemo(h *core.Host, out io.Writer) (stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo --serve: cannot listen on a loopback port: %w", err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil)) // the demo's own table is the output
	srv := proxy.NewServer(proxy.Handler(h, proxy.Options{AccessLog: quiet}), nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			hostapi.Of(h).Logger().Warn("demo --serve: the status page server stopped", "error", err.Error())
		}
	}()
	fmt.Fprintf(out, "status page: http://%s/ (served while the demo runs; proxy routes /<provider>/...)\n\n", ln.Addr())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}, nil
}
