package fakes

// The Cloud Code Assist API fake, and the Gemini CLI credentials file the plugin reads.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

// CodeAssistPrefix is the path prefix of the Cloud Code Assist methods a CodeAssistUpstream serves
// (/v1internal:<method>).
const CodeAssistPrefix = "/v1internal:"

// CodeAssistUpstream is a loopback fake of Google Cloud Code Assist (cloudcode-pa.googleapis.com): the
// v1internal methods generateContent, streamGenerateContent (alt=sse), countTokens and loadCodeAssist,
// behind bearer-token authentication.
type CodeAssistUpstream struct {
	srv   *httptest.Server
	valid func(string) bool

	requests atomic.Int64
	rejected atomic.Int64
}

// NewCodeAssistUpstream starts an upstream on 127.0.0.1 that accepts a bearer token when valid(token) is
// true; a nil valid accepts no token.
func NewCodeAssistUpstream(valid func(token string) bool) *CodeAssistUpstream {
	if valid == nil {
		valid = func(string) bool { return false }
	}
	u := &CodeAssistUpstream{valid: valid}
	u.srv = httptest.NewServer(http.HandlerFunc(u.handle))
	return u
}

// URL returns the API's base URL, e.g. http://127.0.0.1:port; methods live at URL()+"/v1internal:<method>".
func (u *CodeAssistUpstream) URL() string { return u.srv.URL }

// Close shuts the upstream down.
func (u *CodeAssistUpstream) Close() { u.srv.Close() }

// Requests returns how many requests reached the API.
func (u *CodeAssistUpstream) Requests() int64 { return u.requests.Load() }

// Rejected returns how many requests were answered 401.
func (u *CodeAssistUpstream) Rejected() int64 { return u.rejected.Load() }

func (u *CodeAssistUpstream) handle(w http.ResponseWriter, r *http.Request) {
	u.requests.Add(1)
	raw, readErr := io.ReadAll(http.MaxBytesReader(w, r.Body, maxUpstreamBody))

	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" || !u.valid(token) {
		u.rejected.Add(1)
		w.Header().Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/"`)
		googleError(w, http.StatusUnauthorized, "UNAUTHENTICATED",
			"Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.")
		return
	}
	method, ok := strings.CutPrefix(r.URL.Path, CodeAssistPrefix)
	if !ok {
		googleError(w, http.StatusNotFound, "NOT_FOUND", "The requested URL "+r.URL.Path+" was not found on this server.")
		return
	}
	if r.Method != http.MethodPost {
		googleError(w, http.StatusMethodNotAllowed, "INVALID_ARGUMENT", "method "+r.Method+" not allowed")
		return
	}
	var body map[string]any
	if readErr != nil || json.Unmarshal(raw, &body) != nil || body == nil {
		googleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Invalid JSON payload received.")
		return
	}
	switch method {
	case "generateContent", "streamGenerateContent":
		req, _ := body["request"].(map[string]any)
		contents, _ := req["contents"].([]any)
		if len(contents) == 0 {
			googleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "request.contents must not be empty")
			return
		}
		reply := "echo: " + lastGeminiText(contents)
		model, _ := body["model"].(string)
		if method == "streamGenerateContent" {
			if r.URL.Query().Get("alt") != "sse" {
				googleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "streamGenerateContent needs alt=sse")
				return
			}
			streamGemini(w, model, reply)
			return
		}
		writeJSON(w, http.StatusOK, geminiResponse(model, reply, "STOP"))
	case "countTokens":
		req, _ := body["request"].(map[string]any)
		contents, _ := req["contents"].([]any)
		writeJSON(w, http.StatusOK, map[string]any{"totalTokens": len(strings.Fields(lastGeminiText(contents)))})
	case "loadCodeAssist":
		writeJSON(w, http.StatusOK, map[string]any{
			"currentTier":             map[string]any{"id": "free-tier", "name": "Gemini Code Assist for individuals"},
			"cloudaicompanionProject": "fake-project-0000",
		})
	default:
		googleError(w, http.StatusNotFound, "NOT_FOUND", "Method not found: "+method)
	}
}

// geminiResponse is a Code Assist generateContent answer: the Gemini response wrapped in "response".
func geminiResponse(model, text, finish string) map[string]any {
	cand := map[string]any{"content": map[string]any{"role": "model", "parts": []any{map[string]any{"text": text}}}}
	if finish != "" {
		cand["finishReason"] = finish
	}
	if model == "" {
		model = "gemini-fake"
	}
	return map[string]any{
		"response": map[string]any{
			"candidates":    []any{cand},
			"usageMetadata": map[string]any{"promptTokenCount": 1, "candidatesTokenCount": len(strings.Fields(text))},
			"modelVersion":  model,
		},
		"traceId": newOpaqueToken()[:16],
	}
}

// streamGemini answers with server-sent events, one per word of text, flushed one by one.
func streamGemini(w http.ResponseWriter, model, text string) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	pieces := splitKeepSpaces(text)
	for i, p := range pieces {
		finish := ""
		if i == len(pieces)-1 {
			finish = "STOP"
		}
		b, _ := json.Marshal(geminiResponse(model, p, finish))
		_, _ = fmt.Fprintf(w, "data: %s\n\n", b)
		if flusher != nil {
			flusher.Flush()
		}
	}
}

// lastGeminiText returns the text parts of the last content with role "user" (or without a role).
func lastGeminiText(contents []any) string {
	for i := len(contents) - 1; i >= 0; i-- {
		c, _ := contents[i].(map[string]any)
		if role, _ := c["role"].(string); role != "" && role != "user" {
			continue
		}
		parts, _ := c["parts"].([]any)
		var b strings.Builder
		for _, p := range parts {
			pm, _ := p.(map[string]any)
			if s, ok := pm["text"].(string); ok {
				b.WriteString(s)
			}
		}
		return b.String()
	}
	return ""
}

// googleError writes a Google API error body.
func googleError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": status, "message": msg, "status": code}})
}

// WriteGeminiCreds writes an oauth_creds.json as the Gemini CLI does (two-space indented JSON, mode 0600):
// access_token, refresh_token, scope, token_type, a fake id_token and expiry_date (milliseconds since the
// epoch). An empty access or refresh token and a zero expiry are left out; extra adds or replaces fields,
// and a nil value in extra removes one.
func WriteGeminiCreds(path, access, refresh string, expiry time.Time, extra map[string]any) error {
	doc := map[string]any{
		"scope":      GeminiScopes,
		"token_type": "Bearer",
		"id_token":   googleFakeIDToken(),
	}
	if access != "" {
		doc["access_token"] = access
	}
	if refresh != "" {
		doc["refresh_token"] = refresh
	}
	if !expiry.IsZero() {
		doc["expiry_date"] = expiry.UnixMilli()
	}
	for k, v := range extra {
		if v == nil {
			delete(doc, k)
			continue
		}
		doc[k] = v
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(path, bytes.TrimRight(buf.Bytes(), "\n"), 0o600); err != nil {
		return err
	}
	return os.Chmod(path, 0o600)
}

// googleFakeIDToken returns an unsigned JWT shaped like a Google id_token.
func googleFakeIDToken() string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	now := time.Now().Unix()
	return enc(map[string]any{"alg": "RS256", "typ": "JWT"}) + "." + enc(map[string]any{
		"iss": "https://accounts.google.com", "aud": "fake-client.apps.googleusercontent.com",
		"sub": "100000000000000000000", "email": "user@example.com", "iat": now, "exp": now + 3600,
	}) + ".c2lnbmF0dXJl"
}
