// Package mcptest runs a loopback MCP server for tests: the MCP Go SDK's streamable HTTP handler at /mcp
// behind the SDK's auth.RequireBearerToken, with a few tools and a record of the HTTP requests it saw.
package mcptest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Path is where the server answers MCP: its Endpoint is the server's URL and Path.
const Path = "/mcp"

// Request is what the server saw of one HTTP request, before the bearer check.
type Request struct {
	Method, Path, RawQuery         string
	SessionID, LastEventID, Accept string
	ProtocolVersion                string // the MCP-Protocol-Version header
	Authorized                     bool   // the bearer check passed
	Token                          string // the bearer the request carried ("" for none)
}

// Server is a loopback MCP server whose tools are "echo" (returns its text argument) and "wait" (reports
// progress, then waits for Release before it answers). Only bearer tokens valid accepts get through.
type Server struct {
	srv   *httptest.Server
	mcp   *mcp.Server
	valid func(token string) bool

	mu      sync.Mutex
	seen    []Request
	release chan struct{}
}

type echoIn struct {
	Text string `json:"text"`
}

// New starts a server that accepts the bearer tokens valid accepts; Close stops it.
func New(valid func(token string) bool) *Server {
	s := &Server{valid: valid, release: make(chan struct{})}
	s.mcp = mcp.NewServer(&mcp.Implementation{Name: "mcptest", Version: "1.0.0"}, nil)
	mcp.AddTool(s.mcp, &mcp.Tool{Name: "echo", Description: "returns its text"}, func(_ context.Context, _ *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: in.Text}}}, nil, nil
	})
	mcp.AddTool(s.mcp, &mcp.Tool{Name: "wait", Description: "reports progress, then waits to be released"}, s.wait)
	handler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s.mcp }, &mcp.StreamableHTTPOptions{EventStore: mcp.NewMemoryEventStore(nil)})
	verify := func(_ context.Context, token string, _ *http.Request) (*auth.TokenInfo, error) {
		if !s.valid(token) {
			return nil, auth.ErrInvalidToken
		}
		return &auth.TokenInfo{Scopes: []string{"tools"}, Expiration: time.Now().Add(time.Hour)}, nil
	}
	protected := auth.RequireBearerToken(verify, &auth.RequireBearerTokenOptions{Scopes: []string{"tools"}})(handler)
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := ""
		if v := r.Header.Get("Authorization"); len(v) > 7 && v[:7] == "Bearer " {
			token = v[7:]
		}
		s.mu.Lock()
		s.seen = append(s.seen, Request{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery,
			SessionID: r.Header.Get("Mcp-Session-Id"), LastEventID: r.Header.Get("Last-Event-ID"), Accept: r.Header.Get("Accept"),
			ProtocolVersion: r.Header.Get("MCP-Protocol-Version"),
			Authorized:      token != "" && s.valid(token), Token: token})
		s.mu.Unlock()
		if r.URL.Path != Path {
			http.NotFound(w, r)
			return
		}
		protected.ServeHTTP(w, r)
	}))
	return s
}

// wait reports progress "started" to the caller, then waits for Release (or the call's end).
func (s *Server) wait(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
	if tok := req.Params.GetProgressToken(); tok != nil {
		if err := req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: tok, Progress: 1, Total: 2, Message: "started"}); err != nil {
			return nil, nil, err
		}
	}
	s.mu.Lock()
	ch := s.release
	s.mu.Unlock()
	select {
	case <-ch:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "released"}}}, nil, nil
}

// Release lets every "wait" call in progress, and every later one, answer.
func (s *Server) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.release:
	default:
		close(s.release)
	}
}

// AddTool adds a tool named name (answering "added"), which tells connected sessions that the tool list
// changed: a notification the server sends on a session's standalone GET stream.
func (s *Server) AddTool(name string) {
	mcp.AddTool(s.mcp, &mcp.Tool{Name: name}, func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "added"}}}, nil, nil
	})
}

// URL is the server's base URL (no path).
func (s *Server) URL() string { return s.srv.URL }

// Endpoint is the server's MCP endpoint: URL and Path.
func (s *Server) Endpoint() string { return s.srv.URL + Path }

// Requests returns a copy of every request the server saw, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.seen...)
}

// Close stops the server, ending its open streams.
func (s *Server) Close() {
	s.Release()
	s.srv.CloseClientConnections()
	s.srv.Close()
}
