package core

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/internal/hosttest"
	"github.com/tokenhost/tokenhost/sdk"
)

// writeClientCert writes a self-signed client certificate and its key as PEM files.
func writeClientCert(t *testing.T, dir string) (certFile, keyFile string, raw []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "tokenhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "c.crt"), filepath.Join(dir, "c.key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}), 0o600)
	return certFile, keyFile, der
}

// A provider's tls block makes the upstream connection present the client certificate and trust the CA
// file; the token still goes in the header.
func TestUpstreamMTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, raw := writeClientCert(t, dir)
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.PeerCertificates) == 0 || string(r.TLS.PeerCertificates[0].Raw) != string(raw) || r.Header.Get("Authorization") != "Bearer mtls-token" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		io.WriteString(w, "ok")
	}))
	up.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert}
	up.StartTLS()
	t.Cleanup(up.Close)
	caFile := filepath.Join(dir, "ca.pem")
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: up.Certificate().Raw}), 0o600)

	open := func(tc config.TLS) (*http.Client, error) {
		pc := hosttest.Provider(up.URL)
		pc.TLS = tc
		base := http.DefaultTransport.(*http.Transport).Clone()
		t.Cleanup(base.CloseIdleConnections)
		h, err := Open(context.Background(), Options{Config: &config.Config{Providers: []*config.Provider{pc}, Source: "test"}, Base: base,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), InProcess: map[string]sdk.Source{"p": hosttest.StaticSource{Tok: "mtls-token"}}})
		if err != nil {
			return nil, err
		}
		t.Cleanup(func() { h.Close() })
		return h.Client("p")
	}
	c, err := open(config.TLS{CertFile: certFile, KeyFile: keyFile, CAFile: caFile})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Get(up.URL + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("with the certificate: %d", resp.StatusCode)
	}

	// Without the certificate the handshake fails; with an unreadable one Open says which block.
	c, err = open(config.TLS{CAFile: caFile})
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := c.Get(up.URL + "/v1/models"); err == nil {
		resp.Body.Close()
		t.Fatal("the upstream accepted a connection without the client certificate")
	}
	if _, err := open(config.TLS{CertFile: filepath.Join(dir, "missing.crt"), KeyFile: keyFile}); err == nil || !strings.Contains(err.Error(), "providers.p.tls") {
		t.Fatalf("missing certificate: %v", err)
	}
}
