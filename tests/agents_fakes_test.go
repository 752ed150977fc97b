//go:build unix

package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// agentReply is the text the fake model answers a finished turn with; a test checks the agent printed it.
const agentReply = "tokenhost-agents-fake: turn complete"

// agentAPI is a loopback fake of the model APIs the agents' own CLIs call, in the streaming shapes they
// use: the Responses API (POST /v1/responses, server-sent events) for the Codex CLI and the Messages API
// (POST /v1/messages, server-sent events) for Claude Code. It serves a request only when its bearer token
// (Authorization: Bearer, else x-api-key) is one valid reports valid; any other gets 401. Tokens it sees are
// kept in memory to compare, never printed.
type agentAPI struct {
	srv   *httptest.Server
	valid func(string) bool

	// toolRounds is how many calls of a tool the agent does not have a turn makes before its final message:
	// each one costs the agent another request, so a turn spans toolRounds+1 requests.
	toolRounds int
	// callTool, when set, names the function the Responses turn calls instead: the first tool in the
	// request whose name contains callTool (an MCP server's tool, as the agent lists it).
	callTool string
	// before, when set, runs before the nth accepted request (from 1) is answered; after, once it has been.
	before, after func(n int, token string)

	mu       sync.Mutex
	toolSeen []string // the tools callTool found, as namespace/name
	accepted []string // the token of each accepted request, in order
	rejected int
	paths    []string // method and path of every request, for failure messages
}

// newAgentAPI starts the fake on 127.0.0.1; the test's cleanup stops it.
func newAgentAPI(t *testing.T, valid func(string) bool) *agentAPI {
	t.Helper()
	a := &agentAPI{valid: valid}
	a.srv = httptest.NewServer(http.HandlerFunc(a.handle))
	t.Cleanup(a.srv.Close)
	return a
}

// root returns the API's root URL (Claude Code's ANTHROPIC_BASE_URL); Codex's base URL is root()+"/v1".
func (a *agentAPI) root() string { return a.srv.URL }

// counts returns how many requests were answered and how many were rejected with 401.
func (a *agentAPI) counts() (accepted, rejected int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.accepted), a.rejected
}

// acceptedTokens returns the token of each accepted request, in order.
func (a *agentAPI) acceptedTokens() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.accepted...)
}

// String describes what reached the fake, without tokens.
func (a *agentAPI) String() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return fmt.Sprintf("model API fake: %d accepted, %d rejected; tools called: %v; requests: %s", len(a.accepted), a.rejected, a.toolSeen, strings.Join(a.paths, ", "))
}

func (a *agentAPI) handle(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<20))
	a.mu.Lock()
	a.paths = append(a.paths, r.Method+" "+r.URL.Path)
	a.mu.Unlock()
	var serve func(http.ResponseWriter, []byte)
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/v1/responses":
		serve = a.responses
	case r.Method == http.MethodPost && r.URL.Path == "/v1/messages":
		serve = a.messages
	default:
		agentJSON(w, http.StatusNotFound, map[string]any{"error": map[string]any{"message": "unknown path " + r.URL.Path, "type": "not_found_error"}})
		return
	}
	token := agentBearer(r)
	if token == "" || !a.valid(token) {
		a.mu.Lock()
		a.rejected++
		a.mu.Unlock()
		w.Header().Set("WWW-Authenticate", `Bearer realm="agents-fake", error="invalid_token"`)
		if r.URL.Path == "/v1/messages" {
			agentJSON(w, http.StatusUnauthorized, map[string]any{"type": "error", "error": map[string]any{"type": "authentication_error", "message": "invalid bearer token"}})
		} else {
			agentJSON(w, http.StatusUnauthorized, map[string]any{"error": map[string]any{"message": "Incorrect or expired access token provided.", "type": "invalid_request_error", "code": "invalid_api_key"}})
		}
		return
	}
	a.mu.Lock()
	a.accepted = append(a.accepted, token)
	n := len(a.accepted)
	before, after := a.before, a.after
	a.mu.Unlock()
	if before != nil {
		before(n, token)
	}
	serve(w, body)
	if after != nil {
		after(n, token)
	}
}

// agentBearer returns the request's bearer token, or its x-api-key when it has no Authorization header.
func agentBearer(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return ""
		}
		return strings.TrimSpace(tok)
	}
	return r.Header.Get("X-Api-Key")
}

// agentSSE starts an event stream and returns a function that sends one event, flushed.
func agentSSE(w http.ResponseWriter) func(event string, data map[string]any) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	return func(event string, data map[string]any) {
		data["type"] = event
		b, _ := json.Marshal(data)
		_, _ = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b)
		if flusher != nil {
			flusher.Flush()
		}
	}
}

// responses answers a Responses API request: a function call while the input holds fewer than toolRounds
// function call outputs, then the final message.
func (a *agentAPI) responses(w http.ResponseWriter, body []byte) {
	var req struct {
		Input []struct {
			Type string `json:"type"`
		} `json:"input"`
		Tools []agentTool `json:"tools"`
	}
	_ = json.Unmarshal(body, &req)
	outputs := 0
	for _, it := range req.Input {
		if it.Type == "function_call_output" {
			outputs++
		}
	}
	send := agentSSE(w)
	id := fmt.Sprintf("resp_%d", outputs)
	send("response.created", map[string]any{"response": map[string]any{"id": id}})
	var item map[string]any
	if outputs < a.toolRounds {
		// A function the agent does not have: it answers "unsupported call" and asks again, which is all a
		// turn of several requests needs, with no command run on this machine.
		call := fmt.Sprintf("call_%d", outputs+1)
		item = map[string]any{"type": "function_call", "id": "fc_" + call, "call_id": call, "name": "tokenhost_probe", "arguments": "{}"}
		if a.callTool != "" {
			ns, name := findTool(req.Tools, a.callTool)
			a.mu.Lock()
			a.toolSeen = append(a.toolSeen, ns+"/"+name)
			a.mu.Unlock()
			item["name"] = name
			if ns != "" {
				item["namespace"] = ns
			}
		}
	} else {
		item = map[string]any{"type": "message", "role": "assistant", "id": "msg_" + id,
			"content": []any{map[string]any{"type": "output_text", "text": agentReply, "annotations": []any{}}}}
	}
	send("response.output_item.done", map[string]any{"output_index": 0, "item": item})
	send("response.completed", map[string]any{"response": map[string]any{"id": id,
		"usage": map[string]any{"input_tokens": 1, "output_tokens": 1, "total_tokens": 2}}})
}

// messages answers a Messages API request: a call of a tool the agent does not have while the messages
// hold fewer than toolRounds tool results, then one streamed text block.
func (a *agentAPI) messages(w http.ResponseWriter, body []byte) {
	var req struct {
		Model    string `json:"model"`
		Messages []struct {
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
	}
	_ = json.NewDecoder(bytes.NewReader(body)).Decode(&req)
	results := 0
	for _, m := range req.Messages {
		var blocks []struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(m.Content, &blocks) == nil {
			for _, b := range blocks {
				if b.Type == "tool_result" {
					results++
				}
			}
		}
	}
	send := agentSSE(w)
	send("message_start", map[string]any{"message": map[string]any{"id": fmt.Sprintf("msg_%d", results), "type": "message",
		"role": "assistant", "model": req.Model, "content": []any{}, "stop_reason": nil, "stop_sequence": nil,
		"usage": map[string]any{"input_tokens": 1, "output_tokens": 1}}})
	stop := "end_turn"
	if results < a.toolRounds {
		stop = "tool_use"
		send("content_block_start", map[string]any{"index": 0, "content_block": map[string]any{"type": "tool_use",
			"id": fmt.Sprintf("toolu_%d", results+1), "name": "tokenhost_probe", "input": map[string]any{}}})
		send("content_block_delta", map[string]any{"index": 0, "delta": map[string]any{"type": "input_json_delta", "partial_json": "{}"}})
	} else {
		send("content_block_start", map[string]any{"index": 0, "content_block": map[string]any{"type": "text", "text": ""}})
		send("content_block_delta", map[string]any{"index": 0, "delta": map[string]any{"type": "text_delta", "text": agentReply}})
	}
	send("content_block_stop", map[string]any{"index": 0})
	send("message_delta", map[string]any{"delta": map[string]any{"stop_reason": stop, "stop_sequence": nil},
		"usage": map[string]any{"output_tokens": 2}})
	send("message_stop", map[string]any{})
}

// agentTool is a tool in a Responses request: a function, or a namespace holding some.
type agentTool struct {
	Type  string      `json:"type"`
	Name  string      `json:"name"`
	Tools []agentTool `json:"tools"`
}

// findTool returns the namespace ("" for none) and name of the first function whose name, or whose
// namespace's name, contains part.
func findTool(tools []agentTool, part string) (namespace, name string) {
	for _, t := range tools {
		if t.Type == "function" && strings.Contains(t.Name, part) {
			return "", t.Name
		}
		if t.Type == "namespace" {
			for _, f := range t.Tools {
				if strings.Contains(t.Name+f.Name, part) {
					return t.Name, f.Name
				}
			}
		}
	}
	return "", "no-tool-named-" + part
}

// agentJSON writes v as a JSON answer with status.
func agentJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// waitInvalid waits until valid(token) is false (the token has expired by the identity provider's clock),
// polling that condition; it fails the test at the hang guard.
func waitInvalid(t *testing.T, valid func(string) bool, token string) {
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for valid(token) {
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Errorf("a token stayed valid for the whole hang guard")
			return
		}
	}
}
