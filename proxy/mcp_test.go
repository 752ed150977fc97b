package proxy

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/tokenhost/tokenhost/internal/mcptest"
)

// mcpHangGuard bounds a wait for something the MCP server sends; it only turns a hang into a failure.
const mcpHangGuard = time.Minute

// await waits for ch or fails the test with what did not arrive.
func await(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(mcpHangGuard):
		t.Fatalf("%s did not arrive", what)
	}
}

func textOf(t *testing.T, res *mcp.CallToolResult) string {
	t.Helper()
	if res == nil || len(res.Content) != 1 {
		t.Fatalf("tool result %+v, want one text", res)
	}
	tc, ok := res.Content[0].(*mcp.TextContent)
	if !ok {
		t.Fatalf("tool result content %T, want text", res.Content[0])
	}
	return tc.Text
}

// An MCP client reaches an MCP server behind a bearer check through serve's /<provider> route: the route
// alone reaches the upstream's endpoint exactly (/mcp, not /mcp/), progress streams through event by
// event, the standalone GET stream carries the server's notifications, the session header goes both ways,
// a token revoked mid-session is replaced, and closing the session sends its DELETE.
func TestProxyServesAnMCPEndpoint(t *testing.T) {
	src := newFakeSource(time.Hour, time.Now)
	srv := mcptest.New(src.valid)
	t.Cleanup(srv.Close)
	h := newTestHost(t, src, testProvider(srv.Endpoint()))
	px := proxyFor(t, h, Options{})

	progressed, listChanged := make(chan struct{}, 1), make(chan struct{}, 1)
	client := mcp.NewClient(&mcp.Implementation{Name: "test-client", Version: "1"}, &mcp.ClientOptions{
		ProgressNotificationHandler: func(context.Context, *mcp.ProgressNotificationClientRequest) {
			select {
			case progressed <- struct{}{}:
			default:
			}
		},
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) {
			select {
			case listChanged <- struct{}{}:
			default:
			}
		},
	})
	ctx := t.Context()
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: px.URL + "/p"}, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		t.Fatalf("connect through the proxy: %v", err)
	}
	tools, err := cs.ListTools(ctx, nil)
	if err != nil || len(tools.Tools) != 2 {
		t.Fatalf("ListTools: %+v, %v", tools, err)
	}
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "hello"}})
	if err != nil || textOf(t, res) != "hello" {
		t.Fatalf("echo: %+v, %v", res, err)
	}

	src.revokeAll()
	res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "again"}})
	if err != nil || textOf(t, res) != "again" || src.refreshes.Load() != 1 {
		t.Fatalf("echo after revocation: %+v, %v (refreshes %d)", res, err, src.refreshes.Load())
	}

	// The progress event must reach the client while the tool still waits: a buffered stream would hold
	// it back until the result.
	var wg sync.WaitGroup
	wg.Go(func() {
		p := &mcp.CallToolParams{Name: "wait"}
		p.SetProgressToken("w1")
		res, err := cs.CallTool(ctx, p)
		if err != nil || textOf(t, res) != "released" {
			t.Errorf("wait: %+v, %v", res, err)
		}
	})
	await(t, progressed, "the progress notification of a tool still running")
	srv.Release()
	wg.Wait()

	srv.AddTool("later")
	await(t, listChanged, "the tools/list_changed notification on the standalone GET stream")

	sid := cs.ID()
	if err := cs.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	var get, del, withSID int
	for _, r := range srv.Requests() {
		if r.Path != mcptest.Path {
			t.Errorf("%s reached the upstream at %q, want %q", r.Method, r.Path, mcptest.Path)
		}
		if r.Method == http.MethodGet && strings.Contains(r.Accept, "text/event-stream") {
			get++
		}
		if r.Method == http.MethodDelete {
			del++
		}
		if sid != "" && r.SessionID == sid {
			withSID++
		}
	}
	if sid == "" || withSID == 0 || get == 0 || del != 1 {
		t.Fatalf("session %q: %d requests carried it, %d standalone GET streams, %d DELETEs; want the header both ways, a GET stream and one DELETE", sid, withSID, get, del)
	}
}

// The route maps paths, query, methods and the MCP headers as an MCP client needs them.
func TestProxyMapsAnMCPEndpointExactly(t *testing.T) {
	for _, c := range []struct {
		upstreamPath, method, in, wantPath, wantQuery string
	}{
		{"/mcp", http.MethodPost, "/p", "/mcp", ""},
		{"/mcp", http.MethodGet, "/p?a=1&b=%2F", "/mcp", "a=1&b=%2F"},
		{"/mcp", http.MethodDelete, "/p", "/mcp", ""},
		{"/mcp", http.MethodGet, "/p/", "/mcp/", ""},
		{"/mcp", http.MethodPost, "/p/x/y", "/mcp/x/y", ""},
		{"/mcp/", http.MethodPost, "/p", "/mcp/", ""},
		{"", http.MethodPost, "/p", "/", ""},
	} {
		t.Run(c.method+" "+c.upstreamPath+" "+c.in, func(t *testing.T) {
			src := newFakeSource(time.Hour, time.Now)
			var mu sync.Mutex
			var got *http.Request
			up := newUpstream(t, bearerValid(src))
			up.handler = func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				got = r.Clone(context.Background())
				mu.Unlock()
				w.Header().Set("Mcp-Session-Id", "sess-from-server")
				w.Header().Set("Content-Type", "text/event-stream")
				io.WriteString(w, "id: 7\ndata: {}\n\n")
			}
			h := newTestHost(t, src, testProvider(up.URL+c.upstreamPath))
			px := proxyFor(t, h, Options{})
			req, _ := http.NewRequest(c.method, px.URL+c.in, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
			req.Header.Set("Accept", "application/json, text/event-stream")
			req.Header.Set("Mcp-Session-Id", "sess-from-client")
			req.Header.Set("Last-Event-ID", "6")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.Header.Get("Mcp-Session-Id") != "sess-from-server" || string(body) != "id: 7\ndata: {}\n\n" {
				t.Fatalf("client got %d, session %q, body %q", resp.StatusCode, resp.Header.Get("Mcp-Session-Id"), body)
			}
			mu.Lock()
			defer mu.Unlock()
			if got.Method != c.method || got.URL.Path != c.wantPath || got.URL.RawQuery != c.wantQuery {
				t.Fatalf("upstream got %s %q ? %q, want %s %q ? %q", got.Method, got.URL.Path, got.URL.RawQuery, c.method, c.wantPath, c.wantQuery)
			}
			if got.Header.Get("Mcp-Session-Id") != "sess-from-client" || got.Header.Get("Last-Event-ID") != "6" || !strings.Contains(got.Header.Get("Accept"), "text/event-stream") {
				t.Fatalf("upstream got headers %v", got.Header)
			}
		})
	}
}
