package tests

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/tokenhost/tokenhost/core"
	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/internal/fakes"
	"github.com/tokenhost/tokenhost/plugins/gemini"
)

// vertexModel is the model the Vertex AI tests ask for, named with its publisher as Vertex AI wants.
const vertexModel = "google/gemini-2.5-flash"

// chatTwice sends one chat completion and one streaming chat completion through client, calling between
// them (to revoke tokens, say), and fails t unless both come back with the fake's echo of the question.
func chatTwice(t *testing.T, client openai.Client, between func(), logs fmt.Stringer) {
	t.Helper()
	ctx := context.Background()
	params := openai.ChatCompletionNewParams{
		Model:    vertexModel,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("why is the sky blue")},
	}
	resp, err := client.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatalf("chat completion: %v\n%s", err, logs)
	}
	if got := resp.Choices[0].Message.Content; got != "echo: why is the sky blue" || resp.Model != vertexModel {
		t.Fatalf("chat completion answered %q from model %q", got, resp.Model)
	}
	between()
	stream := client.Chat.Completions.NewStreaming(ctx, params)
	var acc openai.ChatCompletionAccumulator
	chunks := 0
	for stream.Next() {
		acc.AddChunk(stream.Current())
		chunks++
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("streaming chat completion: %v\n%s", err, logs)
	}
	if chunks != 3 || len(acc.Choices) != 1 || acc.Choices[0].Message.Content != "echo: why is the sky blue" || acc.Choices[0].FinishReason != "stop" {
		t.Fatalf("the stream gave %d chunks, %+v", chunks, acc.Choices)
	}
}

type noLogs struct{}

func (noLogs) String() string { return "" }

// The OpenAI Go SDK, embedded with tokenhost's client for a gemini provider that names no Vertex AI host
// anywhere, calls https://us-central1-aiplatform.googleapis.com/…/endpoints/openapi (dialled to a loopback
// TLS fake): the token of the Gemini CLI's sign-in goes with it, and a revoked one is refreshed and the
// stream resent. Requests to look-alike hosts, to other names under googleapis.com and to the real hosts
// with no token-carrying rule leave without any token.
func TestVertexHostsReceiveTheGeminiToken(t *testing.T) {
	needBinaries(t)
	idp := fakes.NewGoogleTokenServer(fakes.GoogleTokenConfig{ClientID: gemini.GeminiCLIClientID, ClientSecret: gemini.GeminiCLIClientSecret})
	defer idp.Close()
	const refresh = "1//vertex-refresh-0123456789"
	idp.AddRefreshToken(refresh)
	dir := t.TempDir()
	creds := filepath.Join(dir, "oauth_creds.json")
	if err := fakes.WriteGeminiCreds(creds, "ya29.expired-0123456789", refresh, time.Now().Add(-time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	fake := newVertexFake(idp.Valid, "P", "us-central1", true)
	defer fake.srv.Close()

	// Every connection goes to the fake; its certificate is checked under the name it was issued for.
	pool := x509.NewCertPool()
	pool.AddCert(fake.srv.Certificate())
	addr := fake.srv.Listener.Addr().String()
	base := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "example.com"},
	}
	defer base.CloseIdleConnections()
	cfg, err := config.Parse([]byte(fmt.Sprintf(`
providers:
  gemini:
    plugin: gemini
    options:
      source: gemini_cli
      creds_file: %s
      token_url: %s
`, creds, idp.TokenURL())), filepath.Join(dir, "tokenhost.yaml"), config.Sources{Builtins: core.Builtins()})
	if err != nil {
		t.Fatal(err)
	}
	host, err := core.Open(context.Background(), core.Options{Config: cfg, PluginExecutable: bins.tokenhost, Base: base,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		host.Close()
		checkNoStrays(t, "the embedded host")
	}()
	p, err := host.Provider("gemini")
	if err != nil {
		t.Fatal(err)
	}
	const regional = "us-central1-aiplatform.googleapis.com"
	client := openai.NewClient(
		option.WithHTTPClient(p.Client()),
		option.WithBaseURL("https://"+regional+fake.path()),
		option.WithAPIKey("set-by-tokenhost"),
		option.WithMaxRetries(0),
	)
	chatTwice(t, client, idp.RevokeAll, noLogs{})
	if n := fake.rejections(); n != 1 {
		t.Errorf("the fake rejected %d requests, want 1 (the first after the revocation)", n)
	}
	if seen := fake.authSeen(regional); len(seen) != 3 {
		t.Errorf("%s saw %d requests, want 3 (chat, rejected stream, resent stream)", regional, len(seen))
	}

	for h, want := range map[string]bool{
		"aiplatform.googleapis.com":                   true,
		"europe-west4-aiplatform.googleapis.com":      true,
		"asia-northeast1-aiplatform.googleapis.com":   true,
		"evil-aiplatform.googleapis.com.attacker.com": false,
		"aiplatform.googleapis.com.evil":              false,
		"us-central1-aiplatform.googleapis.com.evil":  false,
		"evil-aiplatform.googleapis.com":              false,
		"storage.googleapis.com":                      false,
		"aiplatform.googleapis.com:8443":              false,
	} {
		req, _ := http.NewRequest(http.MethodPost, "https://"+h+fake.path()+"/chat/completions",
			strings.NewReader(`{"model":"`+vertexModel+`","messages":[{"role":"user","content":"hi"}]}`))
		resp, err := p.Client().Do(req)
		if err != nil {
			t.Fatalf("%s: %v", h, err)
		}
		resp.Body.Close()
		seen := fake.authSeen(h)
		if len(seen) != 1 {
			t.Fatalf("%s: the fake saw %d requests, want 1", h, len(seen))
		}
		scheme, tok, _ := strings.Cut(seen[0], " ")
		carried := scheme == "Bearer" && idp.Valid(tok)
		switch {
		case want && (!carried || resp.StatusCode != http.StatusOK):
			t.Errorf("%s: answered %d without the provider's token; want the token sent", h, resp.StatusCode)
		case !want && seen[0] != "":
			t.Errorf("%s received an Authorization header; no token may leave for it", h)
		}
	}
}

// The Vertex AI recipe of docs/providers/gemini.md, run by `tokenhost serve` with only its host replaced by
// a loopback fake and Application Default Credentials (a gcloud sign-in) from GOOGLE_APPLICATION_CREDENTIALS:
// an unmodified OpenAI SDK pointed at /vertex gets a chat completion and a stream, through a revocation,
// on the path /v1/projects/my-project/locations/us-central1/endpoints/openapi/chat/completions.
func TestVertexRecipeThroughServe(t *testing.T) {
	needBinaries(t)
	recipe := vertexRecipe(t)
	const realHost = "https://us-central1-aiplatform.googleapis.com"
	if strings.Count(recipe, realHost) != 1 {
		t.Fatalf("the recipe does not name %s once:\n%s", realHost, recipe)
	}
	const clientID = "adc-client.apps.googleusercontent.com"
	clientSecret := newSecret(t, "adc-secret")
	idp := fakes.NewGoogleTokenServer(fakes.GoogleTokenConfig{ClientID: clientID, ClientSecret: clientSecret})
	defer idp.Close()
	const refresh = "1//adc-refresh-0123456789"
	idp.AddRefreshToken(refresh)
	fake := newVertexFake(idp.Valid, "my-project", "us-central1", false)
	defer fake.srv.Close()

	dir := t.TempDir()
	adc, err := json.Marshal(map[string]any{"type": "authorized_user", "client_id": clientID, "client_secret": clientSecret,
		"refresh_token": refresh, "token_uri": idp.TokenURL()})
	if err != nil {
		t.Fatal(err)
	}
	adcFile := writeFile(t, dir, "application_default_credentials.json", string(adc))
	cfg := writeFile(t, dir, "tokenhost.yaml", strings.Replace(recipe, realHost, fake.srv.URL, 1))
	s := startServe(t, cfg, []string{"GOOGLE_APPLICATION_CREDENTIALS=" + adcFile})

	client := openai.NewClient(option.WithBaseURL(s.url+"/vertex"), option.WithAPIKey("not-a-google-token"), option.WithMaxRetries(0))
	chatTwice(t, client, idp.RevokeAll, s.stderr)
	if n := fake.rejections(); n != 1 {
		t.Errorf("the fake rejected %d requests, want 1 (the first after the revocation)", n)
	}
	if n := idp.Refreshes(); n != 2 {
		t.Errorf("the token endpoint issued %d tokens, want 2 (the first, and one after the revocation)", n)
	}
}

// vertexRecipe returns the YAML block of docs/providers/gemini.md that configures Vertex AI's OpenAI
// endpoint.
func vertexRecipe(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "docs", "providers", "gemini.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range fence.FindAllStringSubmatch(string(doc), -1) {
		if m[1] == "yaml" && strings.Contains(m[2], "/endpoints/openapi") {
			return m[2]
		}
	}
	t.Fatal("docs/providers/gemini.md has no YAML block configuring Vertex AI's OpenAI endpoint (…/endpoints/openapi)")
	return ""
}

// Every host the gemini plugin reports by default passes the host's allowed_hosts rule, so no gemini
// provider fails to start over them.
func TestGeminiVertexHostsPassTheHostRule(t *testing.T) {
	hosts := gemini.VertexHosts()
	if len(hosts) < 40 {
		t.Fatalf("%d Vertex AI hosts, want the global one and every regional one", len(hosts))
	}
	for _, h := range hosts {
		if msg := config.AllowedHostProblem(h); msg != "" {
			t.Errorf("%s: %s", h, msg)
		}
	}
}
