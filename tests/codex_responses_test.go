package tests

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"github.com/tokenhost/tokenhost/internal/fakes"
)

// An unmodified OpenAI Go SDK pointed at `tokenhost serve`'s /codex calls the ChatGPT Codex backend's
// Responses API (a loopback fake refusing what the real backend refuses): a streamed request with the
// fields docs/providers/codex.md lists arrives with the bearer and ChatGPT-Account-ID the plugin adds and
// is answered, through a revocation. A request missing one of them gets the backend's 400 back as it came,
// with no refresh and no resend, and the page names each of those answers.
func TestCodexResponsesFromOpenAISDKThroughServe(t *testing.T) {
	needBinaries(t)
	doc, err := os.ReadFile(filepath.Join("..", "docs", "providers", "codex.md"))
	if err != nil {
		t.Fatal(err)
	}
	auth := fakes.NewCodexAuthServer(fakes.CodexAuthConfig{})
	defer auth.Close()
	up := fakes.NewStrictCodexUpstream(auth.Valid, auth.AccountID())
	defer up.Close()
	const refresh = "rt-seeded-0123456789"
	auth.SeedRefreshToken(refresh)
	dir := t.TempDir()
	authFile := filepath.Join(dir, "auth.json")
	expired := fakes.MakeCodexJWT(map[string]any{"exp": time.Now().Add(-time.Hour).Unix(),
		fakes.CodexAuthClaim: map[string]any{"chatgpt_account_id": auth.AccountID()}})
	if err := fakes.WriteCodexAuth(authFile, expired, refresh, "", auth.AccountID(), nil); err != nil {
		t.Fatal(err)
	}
	cfg := writeFile(t, dir, "tokenhost.yaml", fmt.Sprintf(`
providers:
  codex:
    plugin: codex
    upstream: %s
    options:
      auth_file: %s
      token_url: %s
`, up.URL(), authFile, auth.TokenURL()))
	s := startServe(t, cfg, nil)
	client := openai.NewClient(option.WithBaseURL(s.url+"/codex"), option.WithAPIKey("not-a-chatgpt-token"), option.WithMaxRetries(0))
	ctx := context.Background()

	good := func() responses.ResponseNewParams {
		return responses.ResponseNewParams{
			Model:        "gpt-5-codex",
			Instructions: openai.String("You are a concise assistant."),
			Input: responses.ResponseNewParamsInputUnion{OfInputItemList: responses.ResponseInputParam{
				responses.ResponseInputItemParamOfMessage("Say hello.", responses.EasyInputMessageRoleUser),
			}},
			Store: openai.Bool(false),
		}
	}
	for i := range 2 {
		stream := client.Responses.NewStreaming(ctx, good())
		var deltas, answer string
		for stream.Next() {
			switch ev := stream.Current(); ev.Type {
			case "response.output_text.delta":
				deltas += ev.Delta
			case "response.completed":
				answer = ev.Response.OutputText()
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatalf("streamed request %d: %v\n%s", i, err, s.stderr)
		}
		if answer != "Hello from the fake Codex backend." || deltas != answer {
			t.Fatalf("streamed request %d: deltas %q, answer %q", i, deltas, answer)
		}
		auth.RevokeAll() // the next request meets a 401 and must recover through one refresh
	}
	if up.Requests() != 3 || up.Rejected() != 1 {
		t.Fatalf("the backend saw %d requests and rejected %d; want 3 and 1 (the one after the revocation)", up.Requests(), up.Rejected())
	}

	refreshes, requests := auth.Refreshes(), up.Requests()
	noInstructions, stringInput, noStore := good(), good(), good()
	noInstructions.Instructions = openai.String("")
	stringInput.Input = responses.ResponseNewParamsInputUnion{OfString: openai.String("Say hello.")}
	noStore.Store = openai.Bool(true)
	for _, c := range []struct {
		name, detail string
		send         func() error
	}{
		{"Responses.New (not streamed)", "Stream must be set to true", func() error {
			_, err := client.Responses.New(ctx, good())
			return err
		}},
		{"no instructions", "Instructions are required", func() error { return drain(client.Responses.NewStreaming(ctx, noInstructions)) }},
		{"a string input", "Input must be a list", func() error { return drain(client.Responses.NewStreaming(ctx, stringInput)) }},
		{"store true", "Store must be set to false", func() error { return drain(client.Responses.NewStreaming(ctx, noStore)) }},
	} {
		err := c.send()
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %v; want the backend's 400", c.name, err)
			continue
		}
		if body := string(apiErr.DumpResponse(true)); !strings.Contains(body, `"detail":"`+c.detail+`"`) {
			t.Errorf("%s: the 400 does not carry the backend's detail %q:\n%s", c.name, c.detail, body)
		}
		if !strings.Contains(string(doc), `{"detail":"`+c.detail+`"}`) {
			t.Errorf("docs/providers/codex.md does not name the backend's answer %q, so a user meeting it is not told what to set", c.detail)
		}
	}
	if auth.Refreshes() != refreshes || up.Requests() != requests {
		t.Errorf("the refused requests caused %d refreshes and %d backend requests; a 400 is neither refreshed nor resent", auth.Refreshes()-refreshes, up.Requests()-requests)
	}
}

// drain reads a stream to its end and returns its error.
func drain[T any](stream interface {
	Next() bool
	Current() T
	Err() error
}) error {
	for stream.Next() {
	}
	return stream.Err()
}
