package tests

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/tokenhost/tokenhost/internal/fakes"
)

// loopbackCert writes a loopback server certificate chain and its key as PEM files into dir and returns
// their paths and a pool that trusts the certificate.
func loopbackCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	chain, key, ca, err := fakes.LoopbackCertPEM("serve")
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		t.Fatal("the fake CA does not parse")
	}
	return writeFile(t, dir, "proxy.pem", string(chain)), writeFile(t, dir, "proxy.key", string(key)), pool
}

// With server.tls set, `serve` speaks HTTPS (an OpenAI SDK trusting the certificate works through it,
// streaming included) and announces an https:// address.
func TestServeOverTLS(t *testing.T) {
	g := newGatewayFakes(t)
	cfg, env := corpConfig(t, g, "")
	certFile, keyFile, pool := loopbackCert(t, filepath.Dir(cfg))
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
