package proxy

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"time"

	"github.com/tokenhost/tokenhost/core/config"
)

// Connection timeouts of the server NewServer builds. There is deliberately no read or write timeout:
// either would cut a long request upload or a streamed (SSE) answer, which may last many minutes.
const (
	// ReadHeaderTimeout bounds how long a client may take to send a request's headers.
	ReadHeaderTimeout = 30 * time.Second
	// IdleTimeout bounds how long a keep-alive connection may sit idle between requests.
	IdleTimeout = 2 * time.Minute
)

// NewServer returns the *http.Server `tokenhost serve` runs handler in: header and idle timeouts bound
// slow and abandoned connections, never a stream; with tlsConf set it serves HTTPS (HTTP/2 included)
// when started with ServeTLS(ln, "", "").
func NewServer(handler http.Handler, tlsConf *tls.Config) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: ReadHeaderTimeout,
		IdleTimeout:       IdleTimeout,
		TLSConfig:         tlsConf,
	}
}

// LoadTLS loads server.tls's certificate and key; it returns nil when none is configured.
func LoadTLS(t config.ServerTLS) (*tls.Config, error) {
	if !t.Enabled() {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("server.tls: cannot load cert_file %s and key_file %s: %w; give a PEM certificate chain and its PEM private key", t.CertFile, t.KeyFile, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}
