package fakes

// The request rules of the ChatGPT Codex backend, for a CodexUpstream as strict as the real one.

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
)

// CodexBackendRules wraps next with the checks the ChatGPT Codex backend makes of a POST …/responses body
// beyond the Responses API's own: a non-empty "instructions" string, "input" as a list of items (not a
// string), "store" given as false and "stream" as true. A request that breaks one is answered 400 with
// the backend's {"detail": …} body ("Instructions are required", "Input must be a list", "Store must be
// set to false", "Stream must be set to true") without reaching next; any other request reaches next with
// its body intact.
func CodexBackendRules(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/responses") {
			next.ServeHTTP(w, r)
			return
		}
		raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxUpstreamBody))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"detail": "the request body could not be read"})
			return
		}
		var body map[string]any
		if json.Unmarshal(raw, &body) == nil && body != nil {
			if detail := codexBodyProblem(body); detail != "" {
				writeJSON(w, http.StatusBadRequest, map[string]any{"detail": detail})
				return
			}
		}
		r.Body = io.NopCloser(bytes.NewReader(raw))
		next.ServeHTTP(w, r)
	})
}

// codexBodyProblem returns the backend's detail message for the first rule body breaks, or "".
func codexBodyProblem(body map[string]any) string {
	if s, _ := body["instructions"].(string); strings.TrimSpace(s) == "" {
		return "Instructions are required"
	}
	if _, ok := body["input"].([]any); !ok {
		return "Input must be a list"
	}
	if store, ok := body["store"].(bool); !ok || store {
		return "Store must be set to false"
	}
	if stream, _ := body["stream"].(bool); !stream {
		return "Stream must be set to true"
	}
	return ""
}

// NewStrictCodexUpstream is NewCodexUpstream behind CodexBackendRules: the body rules are checked first,
// then the token and the account header.
func NewStrictCodexUpstream(valid func(string) bool, accountID string) *CodexUpstream {
	if valid == nil {
		valid = func(string) bool { return false }
	}
	u := &CodexUpstream{valid: valid, accountID: accountID}
	mux := http.NewServeMux()
	mux.HandleFunc(CodexBasePath+"/", u.handle)
	u.srv = httptest.NewServer(CodexBackendRules(mux))
	return u
}
