package core

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"

	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/internal/fsmsg"
)

// upstreamBase returns the base transport for a provider's upstream: base itself, or, when the provider
// has a tls block, a clone of it that presents the client certificate (some gateways bind tokens to the
// certificate the token endpoint saw, RFC 8705) and trusts the given CAs.
func upstreamBase(pc *config.Provider, base http.RoundTripper) (http.RoundTripper, error) {
	base = sizedPool(pc, base)
	t := pc.TLS
	if t.CertFile == "" && t.CAFile == "" {
		return base, nil
	}
	at := "providers." + pc.Name + ".tls"
	ht, ok := base.(*http.Transport)
	if !ok {
		return nil, fmt.Errorf("%s: needs an *http.Transport as the base transport to add a certificate to; build the TLS settings into core.Options.Base instead", at)
	}
	ht = ht.Clone()
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if ht.TLSClientConfig != nil {
		tc = ht.TLSClientConfig.Clone()
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%s: cannot load the client certificate from %s and %s: %s", at, t.CertFile, t.KeyFile, fsmsg.Reason(err))
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%s.ca_file: cannot read %s: %s", at, t.CAFile, fsmsg.Reason(err))
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s.ca_file: %s holds no PEM certificate", at, t.CAFile)
		}
		tc.RootCAs = pool
	}
	ht.TLSClientConfig = tc
	return ht, nil
}
