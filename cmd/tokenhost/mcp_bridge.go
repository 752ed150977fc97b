package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/tokenhost/tokenhost/core"
	"github.com/tokenhost/tokenhost/sdk"
)

// bridgeStdio carries MCP messages between local (the client's stdio) and provider's upstream, reached
// with the SDK's Streamable HTTP client transport over the provider's authenticating client, until the
// client closes its input, either side fails, or ctx ends. The messages are the SDK's own JSON-RPC values,
// copied as they are.
func bridgeStdio(ctx context.Context, h *core.Host, provider string, local mcp.Transport, log *slog.Logger) error {
	p, err := h.Provider(provider)
	if err != nil {
		return err
	}
	endpoint, err := p.Upstream(ctx)
	if err != nil {
		return err
	}
	client := p.Client()
	version := &protocolVersion{}
	client.Transport = version.wrap(client.Transport)
	remote, err := (&mcp.StreamableClientTransport{Endpoint: endpoint, HTTPClient: client}).Connect(ctx)
	if err != nil {
		return fmt.Errorf("provider %s: cannot reach the MCP server at %s: %w", provider, endpoint, err)
	}
	near, err := local.Connect(ctx)
	if err != nil {
		remote.Close()
		return fmt.Errorf("provider %s: cannot open stdin and stdout: %w", provider, err)
	}
	log = log.With("provider", provider)
	log.Info("bridging stdio to the MCP server", "endpoint", endpoint)
	b := &bridge{provider: provider, near: near, far: remote, version: version, log: log}
	return b.run(ctx)
}

// bridge is one stdio client's connection to one MCP server.
type bridge struct {
	provider  string
	near, far mcp.Connection
	version   *protocolVersion
	log       *slog.Logger

	mu   sync.Mutex
	init jsonrpc.ID // the id of the client's initialize request
}

// run copies messages both ways until one side ends, then closes both (ending the server's session).
func (b *bridge) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
	go func() { errc <- b.toServer(ctx) }()
	go func() { errc <- b.toClient(ctx) }()
	err := <-errc
	cancel()
	if cerr := b.far.Close(); cerr != nil {
		b.log.Debug("closing the MCP session", "error", cerr.Error())
	}
	b.near.Close()
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, context.Canceled) {
		return nil
	}
	return fmt.Errorf("provider %s: MCP bridge stopped: %s", b.provider, sdk.RedactTokens(err.Error()))
}

// toServer sends the client's messages to the server; a call the server could not be sent gets an error
// answer, so the client is never left waiting.
func (b *bridge) toServer(ctx context.Context) error {
	for {
		msg, err := b.near.Read(ctx)
		if err != nil {
			return err
		}
		req, isReq := msg.(*jsonrpc.Request)
		if isReq && req.Method == "initialize" {
			b.mu.Lock()
			b.init = req.ID
			b.mu.Unlock()
		}
		if err := b.far.Write(ctx, msg); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			why := sdk.RedactTokens(err.Error()) // a server may quote the token it was sent
			b.log.Warn("a message could not be sent to the MCP server", "error", why)
			if isReq && req.IsCall() {
				answer := &jsonrpc.Response{ID: req.ID, Error: &jsonrpc.Error{Code: jsonrpc.CodeInternalError,
					Message: fmt.Sprintf("tokenhost: provider %s: %s", b.provider, why)}}
				if werr := b.near.Write(ctx, answer); werr != nil {
					return werr
				}
			}
		}
	}
}

// toClient sends the server's messages to the client, learning the negotiated protocol version from the
// answer to initialize.
func (b *bridge) toClient(ctx context.Context) error {
	for {
		msg, err := b.far.Read(ctx)
		if err != nil {
			return err
		}
		if resp, ok := msg.(*jsonrpc.Response); ok && resp.Error == nil {
			b.mu.Lock()
			isInit := resp.ID.IsValid() && resp.ID == b.init
			b.mu.Unlock()
			var res mcp.InitializeResult
			if isInit && json.Unmarshal(resp.Result, &res) == nil {
				b.version.set(res.ProtocolVersion)
			}
		}
		if err := b.near.Write(ctx, msg); err != nil {
			return err
		}
	}
}

// protocolVersion adds the MCP-Protocol-Version header the SDK's client transport sets only for sessions
// its own Client started: the bridge learns the version from the initialize answer it relays.
type protocolVersion struct{ v atomic.Pointer[string] }

func (p *protocolVersion) set(v string) {
	if v != "" {
		p.v.Store(&v)
	}
}

func (p *protocolVersion) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		if v := p.v.Load(); v != nil && req.Header.Get("MCP-Protocol-Version") == "" {
			req = req.Clone(req.Context())
			req.Header.Set("MCP-Protocol-Version", *v)
		}
		resp, err := rt.RoundTrip(req)
		if err == nil && !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			resp.Body = &cappedBody{r: resp.Body, left: maxMCPAnswer}
		}
		return resp, err
	})
}

// maxMCPAnswer bounds an MCP server's answer that is not an event stream: the SDK reads such an answer
// whole, so without a bound a hostile server could make the bridge hold any amount of memory. An event
// stream is read event by event and is not bounded.
const maxMCPAnswer = 64 << 20

// cappedBody is a response body that fails once more than left bytes were read from it.
type cappedBody struct {
	r    io.ReadCloser
	left int64
}

func (c *cappedBody) Read(p []byte) (int, error) {
	if c.left <= 0 {
		var one [1]byte
		if n, err := c.r.Read(one[:]); n == 0 {
			return 0, err // the answer ended at the bound exactly (io.EOF), failed, or has nothing yet
		}
		return 0, fmt.Errorf("the MCP server's answer is over %d MiB, more than tokenhost mcp stdio relays", maxMCPAnswer>>20)
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

func (c *cappedBody) Close() error { return c.r.Close() }

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }
