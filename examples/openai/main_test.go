package main

import (
	"context"
	"os"
	"path/filepath"
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

// TestAskCodexThroughOpenAISDK runs the example's askCodex with the real codex plugin process against a
// loopback ChatGPT Codex backend that refuses what the real one refuses (no instructions, a string input,
// store not false, no stream): the SDK's Responses stream arrives with tokenhost's bearer and
// ChatGPT-Account-ID and its answer comes back, even after a revocation.
func TestAskCodexThroughOpenAISDK(t *testing.T) {
	auth := fakes.NewCodexAuthServer(fakes.CodexAuthConfig{})
	defer auth.Close()
	up := fakes.NewStrictCodexUpstream(auth.Valid, auth.AccountID())
	defer up.Close()
	const refresh = "rt-seeded-0123456789"
	auth.SeedRefreshToken(refresh)
	authFile := filepath.Join(t.TempDir(), "auth.json")
	expired := fakes.MakeCodexJWT(map[string]any{"exp": time.Now().Add(-time.Hour).Unix(),
		fakes.CodexAuthClaim: map[string]any{"chatgpt_account_id": auth.AccountID()}})
	if err := fakes.WriteCodexAuth(authFile, expired, refresh, "", auth.AccountID(), nil); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse([]byte(`
providers:
  codex:
    plugin: codex
    upstream: `+up.URL()+`
    options:
      auth_file: `+authFile+`
      token_url: `+auth.TokenURL()+`
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
	for i := range 2 {
		got, err := askCodex(ctx, host, "codex", "gpt-5-codex", "Say hello.")
		if err != nil {
			t.Fatalf("askCodex %d: %v", i, err)
		}
		if got != "Hello from the fake Codex backend." {
			t.Fatalf("askCodex %d answered %q", i, got)
		}
		auth.RevokeAll() // the next ask meets a 401 and must recover through one refresh
	}
	if up.Rejected() != 1 || up.Requests() != 3 {
		t.Fatalf("the backend saw %d requests and rejected %d, want 3 and 1 (the one after revocation)", up.Requests(), up.Rejected())
	}
}

// TestCodexDocShowsThisExample keeps docs/providers/codex.md and the compiled askCodex identical.
func TestCodexDocShowsThisExample(t *testing.T) {
	src, err := os.ReadFile("codex.go")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../../docs/providers/codex.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "```go\n"+string(src)+"```") {
		t.Fatal("docs/providers/codex.md does not contain examples/openai/codex.go verbatim in a ```go block; copy it over")
	}
}
