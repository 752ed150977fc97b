package fakes

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

type codexAnswer struct {
	status int
	body   map[string]any
}

// codexRefresh posts a refresh request as the Codex CLI does.
func codexRefresh(t *testing.T, s *CodexAuthServer, ctype string, body map[string]any) codexAnswer {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(s.TokenURL(), ctype, strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return codexAnswer{resp.StatusCode, out}
}

func refreshBody(rt string) map[string]any {
	return map[string]any{"client_id": DefaultCodexClientID, "grant_type": "refresh_token", "refresh_token": rt}
}

func errCode(a codexAnswer) string {
	e, _ := a.body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func jwtClaims(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %d segments", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestCodexAuthRotation(t *testing.T) {
	s := NewCodexAuthServer(CodexAuthConfig{AccountID: "acct-1", AccessLife: 10 * time.Minute})
	defer s.Close()
	s.SeedRefreshToken("rt-0")

	ok := codexRefresh(t, s, "application/json", refreshBody("rt-0"))
	if ok.status != 200 {
		t.Fatalf("status %d %v", ok.status, ok.body)
	}
	access, _ := ok.body["access_token"].(string)
	rt1, _ := ok.body["refresh_token"].(string)
	id, _ := ok.body["id_token"].(string)
	if access == "" || rt1 == "" || rt1 == "rt-0" || id == "" {
		t.Fatalf("answer lacks tokens: %v", ok.body)
	}
	for _, jwt := range []string{access, id} {
		c := jwtClaims(t, jwt)
		auth, _ := c[CodexAuthClaim].(map[string]any)
		if auth["chatgpt_account_id"] != "acct-1" {
			t.Errorf("claims %v lack the account", c)
		}
	}
	exp, _ := jwtClaims(t, access)["exp"].(float64)
	if d := time.Until(time.Unix(int64(exp), 0)); d < 9*time.Minute || d > 11*time.Minute {
		t.Errorf("access token expires in %s, want about 10m", d)
	}
	if !s.Valid(access) || s.Valid("nope") || s.Refreshes() != 1 || s.AccountID() != "acct-1" {
		t.Error("Valid, Refreshes or AccountID is wrong")
	}
	if lb := s.LastBody(); lb["refresh_token"] != "<redacted>" || lb["client_id"] != DefaultCodexClientID {
		t.Errorf("LastBody %v", lb)
	}

	// Single use: the old one is now reused, an unknown one invalidated.
	if a := codexRefresh(t, s, "application/json", refreshBody("rt-0")); a.status != 401 || errCode(a) != "refresh_token_reused" {
		t.Errorf("reuse: %d %v", a.status, a.body)
	}
	if a := codexRefresh(t, s, "application/json", refreshBody("rt-unknown")); a.status != 401 || errCode(a) != "refresh_token_invalidated" {
		t.Errorf("unknown: %d %v", a.status, a.body)
	}
	// Wire checks.
	if a := codexRefresh(t, s, "application/x-www-form-urlencoded", refreshBody(rt1)); a.status != 400 {
		t.Errorf("form body: %d", a.status)
	}
	bad := refreshBody(rt1)
	bad["client_id"] = "other"
	if a := codexRefresh(t, s, "application/json", bad); a.status != 401 || errCode(a) != "invalid_client" {
		t.Errorf("wrong client: %d %v", a.status, a.body)
	}
	bad = refreshBody(rt1)
	bad["grant_type"] = "authorization_code"
	if a := codexRefresh(t, s, "application/json", bad); a.status != 400 || errCode(a) != "unsupported_grant_type" {
		t.Errorf("wrong grant: %d %v", a.status, a.body)
	}
	// rt1 survived the rejected requests.
	if a := codexRefresh(t, s, "application/json", refreshBody(rt1)); a.status != 200 {
		t.Errorf("rt1: %d %v", a.status, a.body)
	}
	if s.Requests() != 7 || s.Refreshes() != 2 {
		t.Errorf("%d requests, %d refreshes; want 7 and 2", s.Requests(), s.Refreshes())
	}

	s.RevokeAll()
	if s.Valid(access) {
		t.Error("RevokeAll left a token valid")
	}
	s.SetDown(true)
	if a := codexRefresh(t, s, "application/json", refreshBody("x")); a.status != 503 {
		t.Errorf("down: %d", a.status)
	}
}

func TestCodexAuthRotateAndHook(t *testing.T) {
	var hooked atomic.Int32
	s := NewCodexAuthServer(CodexAuthConfig{OnReused: func(string) { hooked.Add(1) }})
	defer s.Close()
	first := s.Issue()
	next, err := s.Rotate(first.RefreshToken)
	if err != nil || !s.Valid(next.AccessToken) || next.RefreshToken == first.RefreshToken {
		t.Fatalf("Rotate: %v", err)
	}
	if _, err := s.Rotate(first.RefreshToken); err == nil || err.Error() != "refresh_token_reused" {
		t.Errorf("second Rotate: %v", err)
	}
	if a := codexRefresh(t, s, "application/json", refreshBody(first.RefreshToken)); errCode(a) != "refresh_token_reused" || hooked.Load() != 1 {
		t.Errorf("reuse over HTTP: %v, hook ran %d times", a.body, hooked.Load())
	}
	if s.Refreshes() != 0 || s.Requests() != 1 || s.Reused() != 1 {
		t.Errorf("Rotate counted: %d refreshes, %d requests, %d reused", s.Refreshes(), s.Requests(), s.Reused())
	}
}

func TestCodexAuthHold(t *testing.T) {
	s := NewCodexAuthServer(CodexAuthConfig{})
	defer s.Close()
	s.SeedRefreshToken("rt")
	release := s.Hold()
	done := make(chan int, 1)
	go func() {
		b, _ := json.Marshal(refreshBody("rt"))
		resp, err := http.Post(s.TokenURL(), "application/json", strings.NewReader(string(b)))
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	if err := s.WaitHeld(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	if s.Refreshes() != 0 {
		t.Error("a held request was answered")
	}
	release()
	if status := <-done; status != 200 {
		t.Errorf("after release: %d", status)
	}
}

func TestWriteCodexAuth(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.json")
	if err := WriteCodexAuth(path, "acc", "ref", "", "", map[string]any{"agent_identity": map[string]any{"a": 1}}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	tokens, _ := doc["tokens"].(map[string]any)
	if doc["auth_mode"] != "chatgpt" || doc["OPENAI_API_KEY"] != nil || tokens["access_token"] != "acc" || tokens["refresh_token"] != "ref" {
		t.Errorf("doc %v", doc)
	}
	if v, ok := tokens["account_id"]; !ok || v != nil {
		t.Errorf("account_id %v (present %v), want null", v, ok)
	}
	if _, ok := tokens["id_token"]; ok {
		t.Error("an empty id_token was written")
	}
	if _, ok := doc["OPENAI_API_KEY"]; !ok {
		t.Error("OPENAI_API_KEY missing")
	}
	if _, err := time.Parse(time.RFC3339Nano, doc["last_refresh"].(string)); err != nil || doc["agent_identity"] == nil {
		t.Errorf("last_refresh %v, agent_identity %v", doc["last_refresh"], doc["agent_identity"])
	}
	if !strings.HasPrefix(string(data), "{\n  \"") {
		t.Error("not pretty-printed")
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode().Perm())
	}
}

func TestCodexUpstream(t *testing.T) {
	valid := func(tok string) bool { return tok == "good" }
	u := NewCodexUpstream(valid, "acct-1")
	defer u.Close()
	if !strings.HasSuffix(u.URL(), "/backend-api/codex") {
		t.Fatalf("URL %s", u.URL())
	}
	post := func(token, header, account string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, u.URL()+"/responses", strings.NewReader(`{"model":"gpt-5-codex","input":[],"stream":true}`))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if header != "" {
			req.Header[header] = []string{account} // the exact spelling, not canonicalised
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for _, c := range []struct {
		name                   string
		token, header, account string
		status                 int
	}{
		{"ok", "good", "ChatGPT-Account-ID", "acct-1", 200},
		{"lower-case header", "good", "chatgpt-account-id", "acct-1", 200},
		{"bad token", "bad", "ChatGPT-Account-ID", "acct-1", 401},
		{"no token", "", "ChatGPT-Account-ID", "acct-1", 401},
		{"no account", "good", "", "", 401},
		{"wrong account", "good", "ChatGPT-Account-ID", "acct-2", 401},
		{"account case differs", "good", "ChatGPT-Account-ID", "ACCT-1", 401},
	} {
		resp := post(c.token, c.header, c.account)
		if resp.StatusCode != c.status {
			t.Errorf("%s: status %d, want %d", c.name, resp.StatusCode, c.status)
		}
		if c.status == 200 {
			if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
				t.Errorf("%s: content type %q", c.name, ct)
			}
			var events []string
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				if ev, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
					events = append(events, ev)
				}
			}
			if len(events) < 2 || events[0] != "response.created" || events[len(events)-1] != "response.completed" {
				t.Errorf("%s: events %v", c.name, events)
			}
		}
		resp.Body.Close()
	}
	if u.Requests() != 7 || u.Rejected() != 5 {
		t.Errorf("%d requests, %d rejected; want 7 and 5", u.Requests(), u.Rejected())
	}
}
