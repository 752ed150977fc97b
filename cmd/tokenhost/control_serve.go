package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/tokenhost/tokenhost/core"
	"github.com/tokenhost/tokenhost/internal/hostapi"
)

// serveControl answers GET /token/<provider> on the control socket of h's configuration until ctx ends,
// to processes of this user only. A failure to listen only costs scripts the daemon's cache, so it is
// logged, not fatal.
func serveControl(ctx context.Context, h *core.Host, log *slog.Logger) {
	path := controlPath(h.Config())
	ln, err := listenControl(path)
	if errors.Is(err, errControlUnsupported) {
		log.Debug("no control socket for tokenhost token", "reason", err.Error())
		return
	}
	if err != nil {
		log.Warn("no control socket for tokenhost token; scripts fetch their own tokens", "error", err.Error())
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /token/{provider}", func(w http.ResponseWriter, r *http.Request) {
		ct, err := controlToken(r.Context(), h, r.PathValue("provider"), r.Header.Get(rejectedHeader))
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
			return
		}
		_ = json.NewEncoder(w).Encode(ct)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(peerCheckedListener{Listener: ln, log: log}) }()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
		_ = os.Remove(path)
	}()
	log.Info("control socket for tokenhost token", "path", path)
}

// listenControl listens on path, the control socket, once its directory passes checkControlDir: the
// directory is made (mode 0700) when missing, and one another user made first is refused, not used.
func listenControl(path string) (net.Listener, error) {
	if !controlSupported {
		return nil, errControlUnsupported
	}
	dir := filepath.Dir(path)
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("cannot make the control socket directory %s: %w", dir, err)
	}
	if err := checkControlDir(dir); err != nil {
		return nil, err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) { // a socket left by a daemon that was killed
		return nil, fmt.Errorf("cannot remove the old control socket %s: %w", path, err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("cannot make the control socket %s private: %w", path, err)
	}
	return ln, nil
}

// peerCheckedListener accepts only connections whose other end runs as this user; it closes the others
// and logs them.
type peerCheckedListener struct {
	net.Listener
	log *slog.Logger
}

// Accept returns the next connection from a process of this user.
func (l peerCheckedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if err := checkControlPeer(c); err != nil {
			l.log.Warn("control socket: connection refused", "error", err.Error())
			c.Close()
			continue
		}
		return c, nil
	}
}

// controlToken is the daemon's answer for provider: its current token, or, when rejected is that token's
// fingerprint (a credential helper's caller saw it rejected), what the wrapper uses after a 401 (see
// hostapi.Host.Rejected); with the headers a request carries for it and when it is due.
func controlToken(ctx context.Context, h *core.Host, provider, rejected string) (cachedToken, error) {
	in := hostapi.Of(h)
	tok, due, err := in.Current(ctx, provider)
	if err == nil && rejected != "" && fingerprint(tok.Value) == rejected {
		tok, due, err = in.Rejected(ctx, provider, tok)
	}
	if err != nil {
		return cachedToken{}, err
	}
	ep, err := in.Endpoint(ctx, provider)
	if err != nil {
		return cachedToken{}, err
	}
	return cachedToken{Token: tok, Headers: ep.Headers(tok), Due: due}, nil
}
