package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/core"
	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/internal/fakes"
)

func TestMain(m *testing.M) {
	if core.ServeIfPlugin() {
		return
	}
	os.Exit(m.Run())
}

// TestAskThroughOpenAISDK runs the example's ask against a loopback OAuth gateway with the real gateway
// plugin process: the official SDK's request arrives with tokenhost's bearer, even after a revocation.
func TestAskThroughOpenAISDK(t *testing.T) {
	idp := fakes.NewOAuthServer(fakes.OAuthConfig{ClientID: "cid", ClientSecret: "example-secret", ExpiresIn: time.Hour})
	defer idp.Close()
	up := fakes.NewUpstream(idp.Valid)
	defer up.Close()
	cfg, err := config.Parse([]byte(`
providers:
  corp:
    plugin: gateway
    upstream: `+up.URL()+`
    options:
      token_url: `+idp.TokenURL()+`
      client_id: cid
      client_secret: example-secret
`), "test", config.Sources{Builtins: core.Builtins()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	host, err := core.Open(ctx, core.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	for i, q := range []string{"first question", "second question"} {
		got, err := ask(ctx, host, "corp", "fake-model", q)
		if err != nil {
			t.Fatalf("ask %d: %v", i, err)
		}
		if !strings.Contains(got, q) {
			t.Fatalf("answer %q does not echo %q", got, q)
		}
		idp.RevokeAll() // the next ask meets a 401 and must recover through one refresh
	}
	if up.Rejected() != 1 {
		t.Fatalf("upstream rejected %d requests, want 1 (the one after revocation)", up.Rejected())
	}
}

// TestEmbeddingDocShowsThisExample keeps docs/embedding.md and this compiled example identical.
func TestEmbeddingDocShowsThisExample(t *testing.T) {
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../../docs/embedding.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "```go\n"+string(src)+"```") {
		t.Fatal("docs/embedding.md does not contain examples/openai/main.go verbatim in a ```go block; copy it over")
	}
}
