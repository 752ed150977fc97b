package tests

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// vertexFake is a loopback fake of Vertex AI's OpenAI-compatible endpoint,
// POST /v1/projects/{project}/locations/{location}/endpoints/openapi/chat/completions: it needs a Google
// access token valid(token) accepts, a model with its publisher prefix (google/…) and at least one
// message, and answers an OpenAI chat.completion object, or with "stream": true an SSE stream of
// chat.completion.chunk objects ended by "data: [DONE]". Authentication failures are Google's JSON error
// (code, message, status UNAUTHENTICATED). It records the Authorization header every request arrived with,
// by the Host it named.
type vertexFake struct {
	srv               *httptest.Server
	valid             func(string) bool
	project, location string

	mu       sync.Mutex
	rejected int
	auth     map[string][]string // request Host -> Authorization values seen ("" when absent)
}

// newVertexFake starts the fake for project and location over TLS (tls) or plain HTTP.
func newVertexFake(valid func(string) bool, project, location string, tls bool) *vertexFake {
	f := &vertexFake{valid: valid, project: project, location: location, auth: map[string][]string{}}
	if tls {
		f.srv = httptest.NewTLSServer(http.HandlerFunc(f.handle))
	} else {
		f.srv = httptest.NewServer(http.HandlerFunc(f.handle))
	}
	return f
}

// path returns the endpoint's base path, to which the OpenAI SDK appends /chat/completions.
func (f *vertexFake) path() string {
	return "/v1/projects/" + f.project + "/locations/" + f.location + "/endpoints/openapi"
}

// authSeen returns the Authorization headers requests naming host arrived with.
func (f *vertexFake) authSeen(host string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.auth[host]...)
}

// rejections returns how many requests were answered 401.
func (f *vertexFake) rejections() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rejected
}

func (f *vertexFake) handle(w http.ResponseWriter, r *http.Request) {
	authz := r.Header.Get("Authorization")
	f.mu.Lock()
	f.auth[r.Host] = append(f.auth[r.Host], authz)
	f.mu.Unlock()
	raw, readErr := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))

	scheme, token, _ := strings.Cut(authz, " ")
	if !strings.EqualFold(scheme, "Bearer") || !f.valid(strings.TrimSpace(token)) {
		f.mu.Lock()
		f.rejected++
		f.mu.Unlock()
		w.Header().Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/"`)
		vertexError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.")
		return
	}
	if r.URL.Path != f.path()+"/chat/completions" {
		vertexError(w, http.StatusNotFound, "NOT_FOUND", "The requested URL "+r.URL.Path+" was not found on this server.")
		return
	}
	if r.Method != http.MethodPost {
		vertexError(w, http.StatusMethodNotAllowed, "INVALID_ARGUMENT", "method "+r.Method+" not allowed")
		return
	}
	var req struct {
		Model    string `json:"model"`
		Stream   bool   `json:"stream"`
		Messages []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
	}
	if readErr != nil || json.Unmarshal(raw, &req) != nil {
		vertexError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Invalid JSON payload received.")
		return
	}
	if !strings.HasPrefix(req.Model, "google/") || len(req.Messages) == 0 {
		vertexError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "model must name a publisher (google/gemini-2.5-flash) and messages must not be empty")
		return
	}
	var text string
	if json.Unmarshal(req.Messages[len(req.Messages)-1].Content, &text) != nil {
		text = string(req.Messages[len(req.Messages)-1].Content)
	}
	reply := "echo: " + text
	created := time.Now().Unix()
	id := fmt.Sprintf("vertex-%d", created)
	if !req.Stream {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"id": id, "object": "chat.completion", "created": created, "model": req.Model,
			"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
				"message": map[string]any{"role": "assistant", "content": reply}}},
			"usage": map[string]any{"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
		})
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	flusher, _ := w.(http.Flusher)
	chunk := func(delta map[string]any, finish any) {
		b, _ := json.Marshal(map[string]any{
			"id": id, "object": "chat.completion.chunk", "created": created, "model": req.Model,
			"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}},
		})
		_, _ = fmt.Fprintf(w, "data: %s\n\n", b)
		if flusher != nil {
			flusher.Flush()
		}
	}
	half := len(reply) / 2
	chunk(map[string]any{"role": "assistant", "content": reply[:half]}, nil)
	chunk(map[string]any{"content": reply[half:]}, nil)
	chunk(map[string]any{}, "stop")
	_, _ = io.WriteString(w, "data: [DONE]\n\n")
}

// vertexError writes a Google API error body.
func vertexError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": status, "message": msg, "status": code}})
}
