package gemini

import (
	"net/http"
	"strings"
	"time"

	"github.com/tokenhost/tokenhost/plugins/internal/tokenhttp"
)

// newClient returns the client of every request to the token endpoint and the metadata server: a fresh
// transport, no redirects, at most timeout a request, and metadata requests sent to metadataHost when set.
func newClient(metadataHost string, timeout time.Duration) *http.Client {
	return tokenhttp.NewClient(&transport{base: tokenhttp.NewTransport(), metadataHost: metadataHost}, timeout)
}

// metadataPath is the path prefix of metadata server requests.
const metadataPath = "/computeMetadata/"

// transport sends metadata server requests to metadataHost when it is set; everything else passes through.
type transport struct {
	base         http.RoundTripper
	metadataHost string
}

// RoundTrip implements http.RoundTripper.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.metadataHost != "" && strings.HasPrefix(req.URL.Path, metadataPath) {
		r := req.Clone(req.Context())
		r.URL.Host, r.Host = t.metadataHost, t.metadataHost
		return t.base.RoundTrip(r)
	}
	return t.base.RoundTrip(req)
}

// CloseIdleConnections closes the idle connections of the underlying transport.
func (t *transport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
