package fakes

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// UpstreamModel is the one model an Upstream lists and the model a chat completion echoes when asked for it.
const UpstreamModel = "fake-model"

// NonceHeader is the request header that, when present, must equal the "nonce" field of the JSON body.
const NonceHeader = "X-Body-Nonce"

// maxUpstreamBody bounds the request bodies an Upstream reads.
const maxUpstreamBody = 16 << 20

// Upstream is a loopback OAuth-protected OpenAI-compatible API under /v1.
type Upstream struct {
	srv   *httptest.Server
	valid func(string) bool

	requests atomic.Int64
	rejected atomic.Int64
	bodies   atomic.Int64

	mu        sync.Mutex
	checkName string
	checkWant func(string) bool
}

// NewUpstream starts an upstream on 127.0.0.1 that accepts a bearer token when valid(token) is true; a nil
// valid accepts no token.
func NewUpstream(valid func(token string) bool) *Upstream {
	if valid == nil {
		valid = func(string) bool { return false }
	}
	u := &Upstream{valid: valid}
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/", u.handle)
	u.srv = httptest.NewServer(mux)
	return u
}

// URL returns the API's base URL, e.g. http://127.0.0.1:port/v1.
func (u *Upstream) URL() string { return u.srv.URL + "/v1" }

// Close shuts the upstream down.
func (u *Upstream) Close() { u.srv.Close() }

// Requests returns how many requests reached the API.
func (u *Upstream) Requests() int64 { return u.requests.Load() }

// Rejected returns how many requests were answered 401.
func (u *Upstream) Rejected() int64 { return u.rejected.Load() }

// Bodies returns how many POST bodies arrived that parsed as JSON, whatever the answer was.
func (u *Upstream) Bodies() int64 { return u.bodies.Load() }

// SetHeaderCheck makes authorised requests also need header name to satisfy want (otherwise 403); a nil
// want removes the requirement.
func (u *Upstream) SetHeaderCheck(name string, want func(string) bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if want == nil {
		u.checkName, u.checkWant = "", nil
		return
	}
	u.checkName, u.checkWant = http.CanonicalHeaderKey(name), want
}

func (u *Upstream) handle(w http.ResponseWriter, r *http.Request) {
	u.requests.Add(1)

	var body map[string]any
	var bodyErr error
	if r.Method == http.MethodPost {
		raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxUpstreamBody))
		switch {
		case err != nil:
			bodyErr = fmt.Errorf("the request body could not be read")
		default:
			dec := json.NewDecoder(bytes.NewReader(raw))
			if err := dec.Decode(&body); err != nil || body == nil || dec.More() {
				bodyErr = fmt.Errorf("the request body is not a JSON object")
			} else {
				u.bodies.Add(1)
			}
		}
	}

	if !u.authorised(r) {
		u.rejected.Add(1)
		w.Header().Set("WWW-Authenticate", `Bearer realm="fake-upstream"`)
		apiError(w, http.StatusUnauthorized, "Incorrect or expired access token provided.", "invalid_request_error", "invalid_api_key")
		return
	}
	u.mu.Lock()
	name, want := u.checkName, u.checkWant
	u.mu.Unlock()
	if want != nil && !want(r.Header.Get(name)) {
		apiError(w, http.StatusForbidden, "missing or wrong "+name+" header", "invalid_request_error", "missing_header")
		return
	}

	switch {
	case r.URL.Path == "/v1/models" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]any{
			"object": "list",
			"data":   []any{map[string]any{"id": UpstreamModel, "object": "model", "created": 1700000000, "owned_by": "tokenhost-fakes"}},
		})
	case r.URL.Path == "/v1/chat/completions" && r.Method == http.MethodPost:
		if bodyErr != nil {
			apiError(w, http.StatusBadRequest, bodyErr.Error(), "invalid_request_error", "invalid_json")
			return
		}
		u.chat(w, r, body)
	case r.URL.Path == "/v1/models" || r.URL.Path == "/v1/chat/completions":
		apiError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed", "invalid_request_error", "method_not_allowed")
	default:
		apiError(w, http.StatusNotFound, "unknown path "+r.URL.Path, "invalid_request_error", "unknown_url")
	}
}

func (u *Upstream) authorised(r *http.Request) bool {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	token = strings.TrimSpace(token)
	return token != "" && u.valid(token)
}

func (u *Upstream) chat(w http.ResponseWriter, r *http.Request, body map[string]any) {
	model, _ := body["model"].(string)
	messages, ok := body["messages"].([]any)
	if model == "" || !ok || len(messages) == 0 {
		apiError(w, http.StatusBadRequest, "the body needs a model and a non-empty messages list", "invalid_request_error", "invalid_body")
		return
	}
	if want := r.Header.Get(NonceHeader); want != "" {
		if got, _ := body["nonce"].(string); got != want {
			apiError(w, http.StatusBadRequest, "the body's nonce does not match "+NonceHeader, "invalid_request_error", "nonce_mismatch")
			return
		}
	}
	stream, _ := body["stream"].(bool)
	writeChatCompletion(w, model, messages, stream)
}

// writeChatCompletion answers a valid chat completion request: a chat.completion echoing the last user
// message, or, for stream, the same as chat.completion.chunk events.
func writeChatCompletion(w http.ResponseWriter, model string, messages []any, stream bool) {
	reply := "echo: " + lastUserContent(messages)
	id := "chatcmpl-" + newOpaqueToken()[:24]
	created := time.Now().Unix()
	if stream {
		streamChat(w, id, model, created, reply)
		return
	}
	promptTokens, completionTokens := wordCount(messages), len(strings.Fields(reply))
	writeJSON(w, http.StatusOK, map[string]any{
		"id": id, "object": "chat.completion", "created": created, "model": model,
		"choices": []any{map[string]any{
			"index":         0,
			"message":       map[string]any{"role": "assistant", "content": reply},
			"finish_reason": "stop",
		}},
		"usage": map[string]any{
			"prompt_tokens": promptTokens, "completion_tokens": completionTokens,
			"total_tokens": promptTokens + completionTokens,
		},
	})
}

// streamChat answers with chat.completion.chunk server-sent events, flushed one by one, then [DONE].
func streamChat(w http.ResponseWriter, id, model string, created int64, reply string) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	send := func(delta map[string]any, finish any) {
		b, _ := json.Marshal(map[string]any{
			"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
			"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}},
		})
		_, _ = fmt.Fprintf(w, "data: %s\n\n", b)
		if flusher != nil {
			flusher.Flush()
		}
	}
	send(map[string]any{"role": "assistant", "content": ""}, nil)
	for _, piece := range splitKeepSpaces(reply) {
		send(map[string]any{"content": piece}, nil)
	}
	send(map[string]any{}, "stop")
	_, _ = io.WriteString(w, "data: [DONE]\n\n")
	if flusher != nil {
		flusher.Flush()
	}
}

// splitKeepSpaces cuts s into word pieces whose concatenation is s.
func splitKeepSpaces(s string) []string {
	var out []string
	for s != "" {
		i := strings.IndexByte(s[1:], ' ')
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i+1])
		s = s[i+1:]
	}
	return out
}

// lastUserContent returns the text of the last message with role "user"; content may be a string or a
// list of parts ({"type":"text","text":...}).
func lastUserContent(messages []any) string {
	for i := len(messages) - 1; i >= 0; i-- {
		m, _ := messages[i].(map[string]any)
		if role, _ := m["role"].(string); role != "user" {
			continue
		}
		return contentText(m["content"])
	}
	return ""
}

func contentText(c any) string {
	switch t := c.(type) {
	case string:
		return t
	case []any:
		var parts []string
		for _, p := range t {
			pm, _ := p.(map[string]any)
			if s, ok := pm["text"].(string); ok {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, "")
	}
	return ""
}

func wordCount(messages []any) int {
	n := 0
	for _, m := range messages {
		mm, _ := m.(map[string]any)
		n += len(strings.Fields(contentText(mm["content"])))
	}
	return n
}

func apiError(w http.ResponseWriter, status int, msg, typ, code string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": code}})
}
