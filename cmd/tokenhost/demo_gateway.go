package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/tokenhost/tokenhost/core"
	"github.com/tokenhost/tokenhost/internal/fakes"
	"github.com/tokenhost/tokenhost/internal/termtext"
)

// gatewayDeviceScenario is a person signed in by device code (`tokenhost login`, relayed from the plugin
// at the start of the demo); the stored refresh token, rotated on every use, gets new access tokens.
func gatewayDeviceScenario() *scenario {
	idp := fakes.NewDeviceServer("demo-cli")
	idp.SetExpiresIn(demoTokenLife)
	up := fakes.NewUpstream(idp.Valid)
	dir, err := os.MkdirTemp("", "tokenhost-demo-device-")
	return &scenario{
		name: "corp-device", plugin: "gateway", path: "/chat/completions", upstream: up.URL(), login: true,
		yaml: fmt.Sprintf(`
    plugin: gateway
    upstream: %s
    refresh_before: 1s
    options:
      grant: device_code
      issuer: %s
      client_id: demo-cli
      scopes: [openid, offline_access]
      store: %s
`, up.URL(), idp.URL(), filepath.Join(dir, "sign-in.json")),
		setup:  func() error { return err },
		revoke: idp.RevokeAll, issued: idp.Refreshes,
		close: func() { up.Close(); idp.Close(); os.RemoveAll(dir) },
	}
}

// gatewayExchangeScenario exchanges a workload's token, read from a file on every exchange, for a gateway
// token (RFC 8693).
func gatewayExchangeScenario() *scenario {
	idp := fakes.NewOAuthServer(fakes.OAuthConfig{ClientID: "demo-sts", ClientSecret: "demo-sts-secret-not-real", ExpiresIn: demoTokenLife, TokenExchange: true})
	up := fakes.NewUpstream(idp.Valid)
	dir, err := os.MkdirTemp("", "tokenhost-demo-exchange-")
	subject := filepath.Join(dir, "workload-token")
	return &scenario{
		name: "corp-exchange", plugin: "gateway", path: "/chat/completions", upstream: up.URL(),
		yaml: fmt.Sprintf(`
    plugin: gateway
    upstream: %s
    refresh_before: 1s
    options:
      grant: token_exchange
      token_url: %s
      client_id: demo-sts
      client_secret_env: DEMO_STS_SECRET
      subject_token_file: %s
      audience: https://llm.corp.example
`, up.URL(), idp.TokenURL(), subject),
		env: []string{"DEMO_STS_SECRET=demo-sts-secret-not-real"},
		setup: func() error {
			if err != nil {
				return err
			}
			return os.WriteFile(subject, []byte("eyJhbGciOiJub25lIn0.eyJzdWIiOiJkZW1vLXdvcmtsb2FkIn0.\n"), 0o600)
		},
		revoke: idp.RevokeAll, issued: idp.Issued,
		close: func() { up.Close(); idp.Close(); os.RemoveAll(dir) },
	}
}

// gatewayJWTScenario signs an RFC 7523 jwt-bearer assertion with a key file for every token.
func gatewayJWTScenario() *scenario {
	idp := fakes.NewOAuthServer(fakes.OAuthConfig{ClientID: "demo-robot", ClientSecret: "demo-robot-secret-not-real", ExpiresIn: demoTokenLife, JWTBearer: true})
	up := fakes.NewUpstream(idp.Valid)
	dir, err := os.MkdirTemp("", "tokenhost-demo-jwt-")
	keyFile := filepath.Join(dir, "robot.pem")
	return &scenario{
		name: "corp-jwt", plugin: "gateway", path: "/chat/completions", upstream: up.URL(),
		yaml: fmt.Sprintf(`
    plugin: gateway
    upstream: %s
    refresh_before: 1s
    options:
      grant: jwt_bearer
      token_url: %s
      client_id: demo-robot
      client_secret_env: DEMO_ROBOT_SECRET
      private_key_file: %s
      assertion_sub: robot@corp.example
`, up.URL(), idp.TokenURL(), keyFile),
		env: []string{"DEMO_ROBOT_SECRET=demo-robot-secret-not-real"},
		setup: func() error {
			if err != nil {
				return err
			}
			return writeDemoKey(keyFile)
		},
		revoke: idp.RevokeAll, issued: idp.Issued,
		close: func() { up.Close(); idp.Close(); os.RemoveAll(dir) },
	}
}

// writeDemoKey writes a fresh P-256 private key as PKCS#8 PEM.
func writeDemoKey(path string) error {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return err
	}
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
}

// demoLogin signs the scenario's provider in through the host, showing the relayed prompts as `tokenhost
// login` would (the fake approves the code at once).
func demoLogin(ctx context.Context, h *core.Host, s *scenario, out io.Writer) error {
	ui := &terminalUI{w: out, noBrowser: true}
	fmt.Fprintf(out, "  tokenhost login %s:\n", s.name)
	p, err := h.Provider(s.name)
	if err != nil {
		return err
	}
	res, err := p.Login(ctx, ui)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "  "+termtext.Clean(res.Message))
	return nil
}

// gatewayStaticScenario is a gateway that takes a long-lived key, read from a file; revoking it means an
// operator rotates the file, which the plugin re-reads when the old key is rejected.
func gatewayStaticScenario() *scenario {
	keys := &demoKeys{}
	up := fakes.NewUpstream(keys.valid)
	dir, err := os.MkdirTemp("", "tokenhost-demo-static-")
	file := filepath.Join(dir, "gateway.key")
	return &scenario{
		name: "corp-key", plugin: "gateway", path: "/chat/completions", upstream: up.URL(),
		yaml: fmt.Sprintf(`
    plugin: gateway
    upstream: %s
    options:
      grant: static
      key_file: %s
`, up.URL(), file),
		setup: func() error {
			if err != nil {
				return err
			}
			return keys.rotate(file)
		},
		revoke: func() { _ = keys.rotate(file) },
		issued: keys.issued,
		close:  func() { up.Close(); os.RemoveAll(dir) },
	}
}

// demoKeys is the key a static-key gateway accepts: one at a time, replaced by rotate.
type demoKeys struct {
	mu  sync.Mutex
	cur string
	n   int64
}

// rotate makes a new key the only valid one and writes it to file, as an operator would.
func (k *demoKeys) rotate(file string) error {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	key := "gk-" + hex.EncodeToString(b)
	k.mu.Lock()
	k.cur, k.n = key, k.n+1
	k.mu.Unlock()
	return os.WriteFile(file, []byte(key+"\n"), 0o600)
}

func (k *demoKeys) valid(key string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return key != "" && key == k.cur
}

func (k *demoKeys) issued() int64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.n
}
