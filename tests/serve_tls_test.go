package tests

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// selfSigned writes a certificate for 127.0.0.1 and its key as PEM files into dir and returns their paths
// and a pool that trusts the certificate.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tokenhost test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile = writeFile(t, dir, "proxy.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	keyFile = writeFile(t, dir, "proxy.key", string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})))
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// With server.tls set, `serve` speaks HTTPS (an OpenAI SDK trusting the certificate works through it,
// streaming included) and announces an https:// address.
func TestServeOverTLS(t *testing.T) {
	g := newGatewayFakes(t)
	cfg, env := corpConfig(t, g, "")
	certFile, keyFile, pool := selfSigned(t, filepath.Dir(cfg))
	s := startServe(t, cfg, append(env, "TOKENHOST_SERVER__TLS__CERT_FILE="+certFile, "TOKENHOST_SERVER__TLS__KEY_FILE="+keyFile))
	if !strings.HasPrefix(s.url, "https://") {
		t.Fatalf("serve announced %q, want an https:// address", s.url)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	client := openai.NewClient(option.WithBaseURL(s.url+"/corp"), option.WithAPIKey("unused"), option.WithHTTPClient(hc))
	params := openai.ChatCompletionNewParams{
		Model:    "fake-model",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello over tls")},
	}
	resp, err := client.Chat.Completions.New(context.Background(), params)
	if err != nil {
		t.Fatalf("over TLS: %v\n%s", err, s.stderr)
	}
	if !strings.Contains(resp.Choices[0].Message.Content, "hello over tls") {
		t.Fatalf("answer %q", resp.Choices[0].Message.Content)
	}
	plain, err := http.Get("http://" + strings.TrimPrefix(s.url, "https://") + "/healthz")
	if err == nil {
		plain.Body.Close()
		if plain.StatusCode == 200 {
			t.Fatal("the TLS listener answered plain HTTP")
		}
	}
}

// A non-loopback listen with keys but without TLS is refused unless server.insecure_plaintext says so.
func TestServeRefusesNonLoopbackWithoutTLS(t *testing.T) {
	g := newGatewayFakes(t)
	cfg, env := corpConfig(t, g, "")
	r := tokenhost(t, cfg, append(env, "TOKENHOST_SERVER__API_KEYS=k1"), "serve", "--listen", "0.0.0.0:0")
	if r.code == 0 || !strings.Contains(r.stderr, "server.tls") || !strings.Contains(r.stderr, "insecure_plaintext") {
		t.Fatalf("want a refusal naming server.tls and server.insecure_plaintext\n%s", r)
	}
}
