package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/tokenhost/tokenhost/internal/fakes"
)

// An MCP server that quotes the bearer token it was sent in its JSON-RPC error answers does not get
// `tokenhost mcp stdio` to pass the token on: neither the error answer the stdio client gets nor the
// bridge's stderr holds it.
func TestMCPStdioBridgeDoesNotRelayAQuotedToken(t *testing.T) {
	needBinaries(t)
	secret := newSecret(t, "mcp-secret")
	idp := fakes.NewOAuthServer(fakes.OAuthConfig{ClientID: "mcp-client", ClientSecret: secret})
	t.Cleanup(idp.Close)
	var mu sync.Mutex
	var tokens []string
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		mu.Lock()
		tokens = append(tokens, tok)
		mu.Unlock()
		var req struct {
			ID json.RawMessage `json:"id"`
		}
		body, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(body, &req)
		if len(req.ID) == 0 {
			req.ID = json.RawMessage("null")
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"error":{"code":-32600,"message":"session rejected for token %s"}}`, req.ID, tok)
	}))
	t.Cleanup(echo.Close)
	cfg, env := toolsConfigAt(t, echo.URL+"/mcp", idp.TokenURL(), secret, "")

	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	cmd := exec.Command(bins.tokenhost, "--config", cfg, "mcp", "stdio", "tools")
	cmd.Env = childEnv(t, env...)
	cmd.Dir = t.TempDir()
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	client := mcp.NewClient(&mcp.Implementation{Name: "stdio-client", Version: "1"}, nil)
	cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err == nil {
		cs.Close()
		t.Fatal("a server that refuses every request let the client connect")
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(tokens) == 0 || tokens[0] == "" {
		t.Fatalf("the server got no bearer token:\n%s", redact(stderr.String()))
	}
	for _, tok := range tokens {
		if strings.Contains(err.Error(), tok) {
			t.Error("the stdio client got the bearer token in the bridge's error answer")
		}
		if strings.Contains(stderr.String(), tok) {
			t.Error("the bearer token reached the bridge's stderr")
		}
	}
}

// An MCP server whose answer to initialize is a valid JSON-RPC result padded past 64 MiB does not get
// `tokenhost mcp stdio` to read it whole (the SDK reads a JSON answer into memory at once): the bridge stops
// at the bound and says why on stderr, and the stdio client's connect fails. The same answer without the
// padding connects (the server speaks the protocol).
func TestMCPStdioBridgeBoundsAnAnswer(t *testing.T) {
	needBinaries(t)
	secret := newSecret(t, "mcp-secret")
	idp := fakes.NewOAuthServer(fakes.OAuthConfig{ClientID: "mcp-client", ClientSecret: secret})
	t.Cleanup(idp.Close)
	for _, tc := range []struct {
		name    string
		padding int
		connect bool
	}{{"small", 16, true}, {"over 64 MiB", 64<<20 + 1024, false}} {
		t.Run(tc.name, func(t *testing.T) {
			padding := strings.Repeat("x", tc.padding)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var req struct {
					ID     json.RawMessage `json:"id"`
					Method string          `json:"method"`
					Params struct {
						ProtocolVersion string `json:"protocolVersion"`
					} `json:"params"`
				}
				body, _ := io.ReadAll(r.Body)
				_ = json.Unmarshal(body, &req)
				if r.Method != http.MethodPost || len(req.ID) == 0 {
					w.WriteHeader(http.StatusAccepted) // notifications; no GET stream
					return
				}
				w.Header().Set("Content-Type", "application/json")
				if req.Method != "initialize" {
					fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":{}}`, req.ID)
					return
				}
				fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":{"protocolVersion":%q,"capabilities":{},`+
					`"serverInfo":{"name":"big","version":"1","title":%q}}}`, req.ID, req.Params.ProtocolVersion, padding)
			}))
			t.Cleanup(srv.Close)
			cfg, env := toolsConfigAt(t, srv.URL+"/mcp", idp.TokenURL(), secret, "")
			ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
			defer cancel()
			cmd := exec.Command(bins.tokenhost, "--config", cfg, "mcp", "stdio", "tools")
			cmd.Env = childEnv(t, env...)
			cmd.Dir = t.TempDir()
			stderr := &syncBuffer{}
			cmd.Stderr = stderr
			client := mcp.NewClient(&mcp.Implementation{Name: "stdio-client", Version: "1"}, nil)
			cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
			if err == nil {
				cs.Close()
			}
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			if tc.connect && err != nil {
				t.Fatalf("the unpadded answer did not connect: %v\n%s", err, redact(stderr.String()))
			}
			if !tc.connect {
				if err == nil {
					t.Fatal("an initialize answer over 64 MiB was relayed whole")
				}
				if !strings.Contains(stderr.String(), "over 64 MiB") {
					t.Errorf("the bridge's stderr does not say the answer was too large:\n%s", redact(stderr.String()))
				}
			}
		})
	}
}
