package fakes

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
)

// AzureOpenAIUpstream is a loopback Azure OpenAI v1 API (POST /openai/v1/chat/completions, GET
// /openai/v1/models) that accepts an Entra ID bearer token or, when a key is set, a resource key in the
// api-key header.
type AzureOpenAIUpstream struct {
	srv   *httptest.Server
	valid func(string) bool

	requests atomic.Int64
	rejected atomic.Int64
	denied   atomic.Bool

	mu       sync.Mutex
	apiKey   string
	lastAuth string
}

// NewAzureOpenAIUpstream starts the API on 127.0.0.1; it accepts "Authorization: Bearer <t>" when valid(t)
// is true (a nil valid accepts no bearer token).
func NewAzureOpenAIUpstream(valid func(token string) bool) *AzureOpenAIUpstream {
	if valid == nil {
		valid = func(string) bool { return false }
	}
	u := &AzureOpenAIUpstream{valid: valid}
	mux := http.NewServeMux()
	mux.HandleFunc("/openai/", u.handle)
	u.srv = httptest.NewServer(mux)
	return u
}

// URL returns the v1 API's base URL, e.g. http://127.0.0.1:port/openai/v1.
func (u *AzureOpenAIUpstream) URL() string { return u.srv.URL + "/openai/v1" }

// Close shuts the API down.
func (u *AzureOpenAIUpstream) Close() { u.srv.Close() }

// Requests returns how many requests reached the API.
func (u *AzureOpenAIUpstream) Requests() int64 { return u.requests.Load() }

// Rejected returns how many requests were answered 401 (bad credentials and PermissionDenied).
func (u *AzureOpenAIUpstream) Rejected() int64 { return u.rejected.Load() }

// SetAPIKey makes the API also accept "api-key: <key>"; an empty key turns key authentication off.
func (u *AzureOpenAIUpstream) SetAPIKey(key string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.apiKey = key
}

// SetPermissionDenied makes valid bearer tokens get 401 PermissionDenied ("Principal does not have access
// to API/Operation."), as Azure OpenAI answers when the identity lacks the Cognitive Services OpenAI User
// role, while denied is true.
func (u *AzureOpenAIUpstream) SetPermissionDenied(denied bool) { u.denied.Store(denied) }

// LastAuth returns how the last authorised request authenticated: "bearer", "api-key", or "".
func (u *AzureOpenAIUpstream) LastAuth() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.lastAuth
}

func (u *AzureOpenAIUpstream) handle(w http.ResponseWriter, r *http.Request) {
	u.requests.Add(1)
	var body map[string]any
	bodyOK := false
	if r.Method == http.MethodPost {
		raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxUpstreamBody))
		if err == nil {
			dec := json.NewDecoder(bytes.NewReader(raw))
			bodyOK = dec.Decode(&body) == nil && body != nil && !dec.More()
		}
	}

	how := u.authorise(r)
	switch how {
	case "":
		u.rejected.Add(1)
		w.Header().Set("WWW-Authenticate", `Bearer authorization_uri="https://login.microsoftonline.com/common", error="invalid_token"`)
		azureError(w, http.StatusUnauthorized, "401", "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.")
		return
	case "bearer":
		if u.denied.Load() {
			u.rejected.Add(1)
			azureError(w, http.StatusUnauthorized, "PermissionDenied", "Principal does not have access to API/Operation.")
			return
		}
	}
	u.mu.Lock()
	u.lastAuth = how
	u.mu.Unlock()

	switch {
	case r.URL.Path == "/openai/v1/models" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]any{
			"object": "list",
			"data":   []any{map[string]any{"id": UpstreamModel, "object": "model", "created": 1700000000, "owned_by": "tokenhost-fakes"}},
		})
	case r.URL.Path == "/openai/v1/chat/completions" && r.Method == http.MethodPost:
		model, _ := body["model"].(string)
		messages, ok := body["messages"].([]any)
		if !bodyOK || model == "" || !ok || len(messages) == 0 {
			azureError(w, http.StatusBadRequest, "BadRequest", "The body needs a model and a non-empty messages list.")
			return
		}
		stream, _ := body["stream"].(bool)
		writeChatCompletion(w, model, messages, stream)
	case r.URL.Path == "/openai/v1/models" || r.URL.Path == "/openai/v1/chat/completions":
		azureError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "Method "+r.Method+" is not allowed.")
	default:
		azureError(w, http.StatusNotFound, "404", "Resource not found")
	}
}

// authorise returns "api-key" or "bearer" for an accepted credential, or "". An api-key header, when
// present, is the credential that counts, as on Azure.
func (u *AzureOpenAIUpstream) authorise(r *http.Request) string {
	if key := r.Header.Get("api-key"); key != "" {
		u.mu.Lock()
		want := u.apiKey
		u.mu.Unlock()
		if want != "" && subtle.ConstantTimeCompare([]byte(key), []byte(want)) == 1 {
			return "api-key"
		}
		return ""
	}
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	if token = strings.TrimSpace(token); token != "" && u.valid(token) {
		return "bearer"
	}
	return ""
}

// azureError writes Azure OpenAI's error shape.
func azureError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": code, "message": msg}})
}
