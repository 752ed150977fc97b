package azure

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"

	"github.com/tokenhost/tokenhost/plugins/internal/tokenhttp"
	"github.com/tokenhost/tokenhost/sdk"
)

// loadCAFile returns the system roots plus the PEM certificates in path, or nil when path is empty.
func loadCAFile(path string) (*x509.CertPool, error) {
	if path == "" {
		return nil, nil
	}
	path, err := expandHome("ca_file", path)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, sdk.BadConfig("ca_file", "cannot read %s: %s", path, fileReason(err, nil))
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(data) {
		return nil, sdk.BadConfig("ca_file", "%s holds no PEM certificate (-----BEGIN CERTIFICATE-----); give the CA bundle of your TLS-inspecting proxy or private cloud in PEM form", path)
	}
	return pool, nil
}

// newHTTPClient returns the client azidentity sends every request through: a fresh transport with proxy
// settings from the environment, the extra roots of ca_file, and no redirects, so a token request's body
// (which holds the secret or assertion) never follows one.
func newHTTPClient(pool *x509.CertPool, wrap func(http.RoundTripper) http.RoundTripper) *http.Client {
	rt := tokenhttp.NewTransport()
	if t, ok := rt.(*http.Transport); ok {
		t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
	}
	if wrap != nil {
		rt = wrap(rt)
	}
	return tokenhttp.NewClient(rt, 0) // azidentity bounds each request with the fetch's context
}
