package fakes

// Codex CLI's auth.json writer and the ChatGPT Codex backend fake.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

// WriteCodexAuth writes an auth.json as the Codex CLI does after `codex login` with ChatGPT: pretty-printed,
// mode 0600, with auth_mode "chatgpt", OPENAI_API_KEY null and last_refresh now. An empty idToken is left
// out and an empty accountID is written as null. Fields in extra are added at the top level (replacing
// any of the above). The file is replaced atomically, so a concurrent reader never sees half of it.
func WriteCodexAuth(path string, access, refresh, idToken, accountID string, extra map[string]any) error {
	tokens := map[string]any{"access_token": access, "refresh_token": refresh, "account_id": nil}
	if idToken != "" {
		tokens["id_token"] = idToken
	}
	if accountID != "" {
		tokens["account_id"] = accountID
	}
	doc := map[string]any{
		"auth_mode":      "chatgpt",
		"OPENAI_API_KEY": nil,
		"tokens":         tokens,
		"last_refresh":   time.Now().UTC().Format(time.RFC3339Nano),
	}
	for k, v := range extra {
		doc[k] = v
	}
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, data)
}

// writeFileAtomic replaces path with data (mode 0600) through a temporary file in the same directory.
func writeFileAtomic(path string, data []byte) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), ".fake-auth-*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Chmod(0o600); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// CodexUpstream is a loopback fake of the ChatGPT Codex backend's POST /backend-api/codex/responses: it
// needs a valid bearer and the right ChatGPT-Account-ID, and answers a short Responses API SSE stream.
type CodexUpstream struct {
	srv       *httptest.Server
	valid     func(string) bool
	accountID string

	requests atomic.Int64
	rejected atomic.Int64
}

// NewCodexUpstream starts the backend on 127.0.0.1. It accepts a request when valid(bearer) is true and
// the ChatGPT-Account-ID header (any case of the name) equals accountID; a nil valid accepts no token.
func NewCodexUpstream(valid func(string) bool, accountID string) *CodexUpstream {
	if valid == nil {
		valid = func(string) bool { return false }
	}
	u := &CodexUpstream{valid: valid, accountID: accountID}
	mux := http.NewServeMux()
	mux.HandleFunc(CodexBasePath+"/", u.handle)
	u.srv = httptest.NewServer(mux)
	return u
}

// URL returns the backend's base URL, e.g. http://127.0.0.1:port/backend-api/codex.
func (u *CodexUpstream) URL() string { return u.srv.URL + CodexBasePath }

// Close shuts the backend down.
func (u *CodexUpstream) Close() { u.srv.Close() }

// Requests returns how many requests reached the backend.
func (u *CodexUpstream) Requests() int64 { return u.requests.Load() }

// Rejected returns how many requests were answered 401.
func (u *CodexUpstream) Rejected() int64 { return u.rejected.Load() }

func (u *CodexUpstream) handle(w http.ResponseWriter, r *http.Request) {
	u.requests.Add(1)
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	switch {
	case !strings.EqualFold(scheme, "Bearer") || token == "" || !u.valid(token):
		u.rejected.Add(1)
		w.Header().Set("WWW-Authenticate", `Bearer realm="fake-chatgpt"`)
		codexError(w, http.StatusUnauthorized, "token_expired", "Provided authentication token is expired or invalid.")
		return
	case r.Header.Get("ChatGPT-Account-ID") != u.accountID || u.accountID == "":
		// Header.Get canonicalises the name, so chatgpt-account-id matches too.
		u.rejected.Add(1)
		codexError(w, http.StatusUnauthorized, "account_mismatch", "The ChatGPT-Account-ID header is missing or does not match the token.")
		return
	}
	if r.URL.Path != CodexBasePath+"/responses" {
		codexError(w, http.StatusNotFound, "unknown_url", "unknown path "+r.URL.Path)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		codexError(w, http.StatusMethodNotAllowed, "method_not_allowed", "method "+r.Method+" not allowed")
		return
	}
	var body map[string]any
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<20)).Decode(&body); err != nil || body == nil {
		codexError(w, http.StatusBadRequest, "invalid_json", "the request body is not a JSON object")
		return
	}
	model, _ := body["model"].(string)
	if model == "" {
		model = "gpt-5-codex"
	}
	id := "resp_" + codexRandom(12)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	send := func(event string, data map[string]any) {
		data["type"] = event
		b, _ := json.Marshal(data)
		_, _ = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b)
		if flusher != nil {
			flusher.Flush()
		}
	}
	resp := func(status string, output []any) map[string]any {
		return map[string]any{"id": id, "object": "response", "created_at": time.Now().Unix(), "status": status, "model": model, "output": output}
	}
	const text = "Hello from the fake Codex backend."
	send("response.created", map[string]any{"response": resp("in_progress", []any{})})
	send("response.output_text.delta", map[string]any{"item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": text})
	done := resp("completed", []any{map[string]any{
		"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
		"content": []any{map[string]any{"type": "output_text", "text": text, "annotations": []any{}}},
	}})
	done["usage"] = map[string]any{"input_tokens": 1, "output_tokens": 7, "total_tokens": 8}
	send("response.completed", map[string]any{"response": done})
}
