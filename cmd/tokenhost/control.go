package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/tokenhost/tokenhost/core"
	"github.com/tokenhost/tokenhost/core/config"
)

// The control socket lets `tokenhost token` use a running `tokenhost serve` of the same configuration:
// its cache, single flight and refresh-ahead then serve scripts too, so a script costs the identity
// provider nothing beyond what the daemon already spends. It is a Unix socket, mode 0600 in a 0700
// directory of the user's, so only the user who runs serve can ask it for tokens.

// controlTimeout bounds a `tokenhost token` question to the daemon; past it, the command fetches itself.
const controlTimeout = 5 * time.Second

// controlPath returns the socket of the daemon serving cfg: under $XDG_RUNTIME_DIR/tokenhost (else a
// per-user directory in the temporary directory), named by a hash of the effective configuration.
func controlPath(cfg *config.Config) string {
	base := os.Getenv("XDG_RUNTIME_DIR")
	if base == "" {
		base = filepath.Join(os.TempDir(), "tokenhost-"+strconv.Itoa(os.Getuid()))
	} else {
		base = filepath.Join(base, "tokenhost")
	}
	key, _ := json.Marshal(cfg.Providers)
	sum := sha256.Sum256(append(key, cfg.Source...))
	return filepath.Join(base, hex.EncodeToString(sum[:8])+".sock")
}

// serveControl answers GET /token/<provider> on the control socket of h's configuration until ctx ends.
// A failure to listen only costs scripts the daemon's cache, so it is logged, not fatal.
func serveControl(ctx context.Context, h *core.Host, log *slog.Logger) {
	path := controlPath(h.Config())
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		log.Warn("no control socket for tokenhost token", "error", err.Error())
		return
	}
	if st, err := os.Stat(filepath.Dir(path)); err != nil || st.Mode().Perm()&0o077 != 0 {
		log.Warn("no control socket for tokenhost token: its directory is open to other users", "dir", filepath.Dir(path))
		return
	}
	_ = os.Remove(path) // a socket left by a daemon that was killed
	ln, err := net.Listen("unix", path)
	if err != nil {
		log.Warn("no control socket for tokenhost token", "error", err.Error())
		return
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /token/{provider}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("provider")
		tok, err := h.Token(r.Context(), name)
		var ep *core.Endpoint
		if err == nil {
			ep, err = h.Endpoint(r.Context(), name)
		}
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
			return
		}
		_ = json.NewEncoder(w).Encode(cachedToken{Token: tok, Headers: ep.Headers(tok)})
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
		_ = os.Remove(path)
	}()
	log.Info("control socket for tokenhost token", "path", path)
}

// askControl asks a running daemon of cfg for provider's token: answered is false when none answers; err is
// the daemon's own failure to get a token.
func askControl(ctx context.Context, cfg *config.Config, provider string) (ct cachedToken, answered bool, err error) {
	path := controlPath(cfg)
	if _, err := os.Stat(path); err != nil {
		return cachedToken{}, false, nil
	}
	c := &http.Client{Timeout: controlTimeout, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		},
	}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://tokenhost/token/"+provider, nil)
	resp, err := c.Do(req)
	if err != nil {
		return cachedToken{}, false, nil // no daemon (or a dead one's socket): fetch here
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		if json.NewDecoder(resp.Body).Decode(&e) == nil && e.Error != "" {
			return cachedToken{}, true, errors.New(e.Error)
		}
		return cachedToken{}, true, fmt.Errorf("the running tokenhost serve answered %d", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&ct); err != nil || ct.Token.Value == "" {
		return cachedToken{}, false, nil
	}
	return ct, true, nil
}
