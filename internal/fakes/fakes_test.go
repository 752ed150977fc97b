package fakes

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testID     = "client-a"
	testSecret = "s3cret+value/with=odd&chars"
)

// tokenResponse is the JSON an OAuthServer answers.
type tokenResponse struct {
	AccessToken      string `json:"access_token"`
	TokenType        string `json:"token_type"`
	ExpiresIn        int64  `json:"expires_in"`
	Scope            string `json:"scope"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

type tokenReq struct {
	basic      bool // client_secret_basic
	post       bool // client_secret_post
	id, secret string
	form       url.Values
}

func postToken(t *testing.T, s *OAuthServer, r tokenReq) (*http.Response, tokenResponse) {
	t.Helper()
	resp, tr, err := doToken(s, r)
	if err != nil {
		t.Fatal(err)
	}
	return resp, tr
}

// doToken sends a token request; it is safe to call from any goroutine.
func doToken(s *OAuthServer, r tokenReq) (*http.Response, tokenResponse, error) {
	form := url.Values{"grant_type": {"client_credentials"}}
	for k, v := range r.form {
		form[k] = v
	}
	if r.post {
		form.Set("client_id", r.id)
		form.Set("client_secret", r.secret)
	}
	var tr tokenResponse
	req, err := http.NewRequest(http.MethodPost, s.TokenURL(), strings.NewReader(form.Encode()))
	if err != nil {
		return nil, tr, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if r.basic {
		req.SetBasicAuth(url.QueryEscape(r.id), url.QueryEscape(r.secret))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, tr, err
	}
	defer resp.Body.Close()
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil {
			return nil, tr, fmt.Errorf("decoding token response: %w", err)
		}
	}
	return resp, tr, nil
}

func newTestServer(t *testing.T, expiresIn time.Duration) *OAuthServer {
	s := NewOAuthServer(OAuthConfig{ClientID: testID, ClientSecret: testSecret, ExpiresIn: expiresIn})
	t.Cleanup(s.Close)
	return s
}

func TestOAuthServerAuthStyles(t *testing.T) {
	s := newTestServer(t, 0)
	for _, style := range []string{"basic", "post"} {
		t.Run(style, func(t *testing.T) {
			resp, tr := postToken(t, s, tokenReq{basic: style == "basic", post: style == "post", id: testID, secret: testSecret,
				form: url.Values{"scope": {"read write"}, "audience": {"api://x"}}})
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d (%s), want 200", resp.StatusCode, tr.Error)
			}
			if got := resp.Header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", got)
			}
			if tr.AccessToken == "" || tr.TokenType != "Bearer" || tr.ExpiresIn != 3600 || tr.Scope != "read write" {
				t.Errorf("response: token set %v, type %q, expires_in %d, scope %q", tr.AccessToken != "", tr.TokenType, tr.ExpiresIn, tr.Scope)
			}
			if !s.Valid(tr.AccessToken) {
				t.Error("issued token is not Valid")
			}
			if got := s.LastAuthStyle(); got != style {
				t.Errorf("LastAuthStyle %q, want %q", got, style)
			}
			f := s.LastForm()
			if _, ok := f["client_secret"]; ok {
				t.Error("LastForm keeps client_secret")
			}
			if f.Get("audience") != "api://x" || f.Get("scope") != "read write" || f.Get("grant_type") != "client_credentials" {
				t.Errorf("LastForm lacks the request's parameters: %v", f)
			}
		})
	}
	if s.Issued() != 2 || s.Requests() != 2 {
		t.Errorf("Issued %d, Requests %d; want 2, 2", s.Issued(), s.Requests())
	}
}

func TestOAuthServerRejects(t *testing.T) {
	s := newTestServer(t, 0)
	cases := []struct {
		name   string
		req    tokenReq
		status int
		code   string
	}{
		{"wrong secret basic", tokenReq{basic: true, id: testID, secret: "wrong-secret"}, 401, "invalid_client"},
		{"wrong secret post", tokenReq{post: true, id: testID, secret: "wrong-secret"}, 401, "invalid_client"},
		{"wrong id", tokenReq{basic: true, id: "other", secret: testSecret}, 401, "invalid_client"},
		{"both styles", tokenReq{basic: true, post: true, id: testID, secret: testSecret}, 401, "invalid_client"},
		{"no client auth", tokenReq{}, 401, "invalid_client"},
		{"wrong grant", tokenReq{basic: true, id: testID, secret: testSecret, form: url.Values{"grant_type": {"password"}}}, 400, "unsupported_grant_type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, tr := postToken(t, s, c.req)
			if resp.StatusCode != c.status || tr.Error != c.code {
				t.Fatalf("got %d %q, want %d %q", resp.StatusCode, tr.Error, c.status, c.code)
			}
			if c.status == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") {
				t.Errorf("401 without WWW-Authenticate: Basic")
			}
			if tr.AccessToken != "" {
				t.Error("an error response carries an access token")
			}
		})
	}
	if s.Issued() != 0 || s.Requests() != int64(len(cases)) {
		t.Errorf("Issued %d, Requests %d; want 0, %d", s.Issued(), s.Requests(), len(cases))
	}

	resp, err := http.Get(s.TokenURL())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: status %d, want 405", resp.StatusCode)
	}
}

func TestOAuthServerValidity(t *testing.T) {
	s := newTestServer(t, 0)
	get := func() string {
		_, tr := postToken(t, s, tokenReq{basic: true, id: testID, secret: testSecret})
		if tr.AccessToken == "" {
			t.Fatal("no token issued")
		}
		return tr.AccessToken
	}
	a, b := get(), get()
	if a == b {
		t.Fatal("two requests got the same token")
	}
	if s.Valid("not-a-token") {
		t.Error("an unknown token is Valid")
	}
	s.Revoke(a)
	if s.Valid(a) || !s.Valid(b) {
		t.Errorf("after Revoke(a): Valid(a)=%v Valid(b)=%v", s.Valid(a), s.Valid(b))
	}
	s.RevokeAll()
	if s.Valid(b) {
		t.Error("RevokeAll left a token valid")
	}
	if c := get(); !s.Valid(c) {
		t.Error("a token issued after RevokeAll is not Valid")
	}

	// Expiry by the server's clock: a 1ns lifetime is over by the time Valid runs.
	s.SetExpiresIn(time.Nanosecond)
	_, tr := postToken(t, s, tokenReq{basic: true, id: testID, secret: testSecret})
	if tr.ExpiresIn != 1 {
		t.Errorf("expires_in %d for a sub-second lifetime, want 1", tr.ExpiresIn)
	}
	if s.Valid(tr.AccessToken) {
		t.Error("an expired token is Valid")
	}
}

func TestOAuthServerDown(t *testing.T) {
	s := newTestServer(t, 0)
	s.SetDown(true)
	resp, _ := postToken(t, s, tokenReq{basic: true, id: testID, secret: testSecret})
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("down: %d %s, want 503 text/html", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s.SetDown(false)
	if resp, _ := postToken(t, s, tokenReq{basic: true, id: testID, secret: testSecret}); resp.StatusCode != 200 {
		t.Errorf("back up: status %d", resp.StatusCode)
	}
}

func TestOAuthServerHold(t *testing.T) {
	s := newTestServer(t, 0)
	release := s.Hold()
	const n = 3
	var wg sync.WaitGroup
	codes := make(chan int, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, _, err := doToken(s, tokenReq{basic: true, id: testID, secret: testSecret})
			if err != nil {
				codes <- -1
				return
			}
			codes <- resp.StatusCode
		}()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.WaitHeld(ctx, n); err != nil {
		t.Fatalf("requests were not held: %v", err)
	}
	if s.Issued() != 0 {
		t.Fatal("a held request was answered")
	}
	release()
	release() // idempotent
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 200 {
			t.Errorf("status %d after release", c)
		}
	}
	if s.Held() != 0 || s.Issued() != n {
		t.Errorf("Held %d Issued %d, want 0 %d", s.Held(), s.Issued(), n)
	}
}

func chat(t *testing.T, u *Upstream, token, body string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u.URL()+"/chat/completions", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

const chatBody = `{"model":"m1","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hello there"}]}`

func TestUpstreamAuth(t *testing.T) {
	u := NewUpstream(func(tok string) bool { return tok == "good-token" })
	t.Cleanup(u.Close)

	resp, b := chat(t, u, "bad-token", chatBody, nil)
	if resp.StatusCode != 401 {
		t.Fatalf("bad token: status %d, want 401", resp.StatusCode)
	}
	var e struct {
		Error struct{ Message, Type, Code string }
	}
	if err := json.Unmarshal(b, &e); err != nil || e.Error.Code != "invalid_api_key" || e.Error.Type != "invalid_request_error" {
		t.Errorf("401 body is not an OpenAI error: %s", b)
	}
	if resp, _ := chat(t, u, "", chatBody, nil); resp.StatusCode != 401 {
		t.Errorf("no token: status %d, want 401", resp.StatusCode)
	}

	resp, b = chat(t, u, "good-token", chatBody, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("good token: status %d: %s", resp.StatusCode, b)
	}
	var c struct {
		Object  string
		Model   string
		Choices []struct {
			Message struct{ Role, Content string }
		}
		Usage struct {
			TotalTokens int `json:"total_tokens"`
		}
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	if c.Object != "chat.completion" || c.Model != "m1" || len(c.Choices) != 1 ||
		c.Choices[0].Message.Role != "assistant" || c.Choices[0].Message.Content != "echo: hello there" || c.Usage.TotalTokens == 0 {
		t.Errorf("unexpected completion: %s", b)
	}

	if resp, _ := chat(t, u, "good-token", `{"model":`, nil); resp.StatusCode != 400 {
		t.Errorf("malformed body: status %d, want 400", resp.StatusCode)
	}
	if resp, _ := chat(t, u, "good-token", `{"model":"m1"}`, nil); resp.StatusCode != 400 {
		t.Errorf("body without messages: status %d, want 400", resp.StatusCode)
	}
	if u.Requests() != 5 || u.Rejected() != 2 || u.Bodies() != 4 {
		t.Errorf("Requests %d Rejected %d Bodies %d, want 5 2 4", u.Requests(), u.Rejected(), u.Bodies())
	}

	req, _ := http.NewRequest(http.MethodGet, u.URL()+"/models", nil)
	req.Header.Set("Authorization", "Bearer good-token")
	mresp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer mresp.Body.Close()
	var models struct {
		Object string
		Data   []struct{ ID string }
	}
	if err := json.NewDecoder(mresp.Body).Decode(&models); err != nil || models.Object != "list" || len(models.Data) != 1 {
		t.Errorf("models: %d %+v %v", mresp.StatusCode, models, err)
	}
}

func TestUpstreamStreaming(t *testing.T) {
	u := NewUpstream(func(tok string) bool { return tok == "good-token" })
	t.Cleanup(u.Close)
	body := `{"model":"m1","stream":true,"messages":[{"role":"user","content":[{"type":"text","text":"hi all"}]}]}`
	req, _ := http.NewRequest(http.MethodPost, u.URL()+"/chat/completions", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer good-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("status %d, type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var text strings.Builder
	events, done := 0, false
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		if line == "[DONE]" {
			done = true
			break
		}
		events++
		var chunk struct {
			Object  string
			Choices []struct {
				Delta struct{ Content string }
			}
		}
		if err := json.Unmarshal([]byte(line), &chunk); err != nil || chunk.Object != "chat.completion.chunk" {
			t.Fatalf("bad chunk %q: %v", line, err)
		}
		text.WriteString(chunk.Choices[0].Delta.Content)
	}
	if !done || events < 3 || text.String() != "echo: hi all" {
		t.Errorf("done %v, %d events, text %q", done, events, text.String())
	}
}

func TestUpstreamNonceAndHeaderCheck(t *testing.T) {
	u := NewUpstream(func(tok string) bool { return tok == "good-token" })
	t.Cleanup(u.Close)
	withNonce := `{"model":"m1","nonce":"n-123","messages":[{"role":"user","content":"x"}]}`
	if resp, b := chat(t, u, "good-token", withNonce, map[string]string{NonceHeader: "n-123"}); resp.StatusCode != 200 {
		t.Errorf("matching nonce: status %d: %s", resp.StatusCode, b)
	}
	if resp, _ := chat(t, u, "good-token", withNonce, map[string]string{NonceHeader: "n-999"}); resp.StatusCode != 400 {
		t.Errorf("mismatched nonce: status %d, want 400", resp.StatusCode)
	}
	if resp, _ := chat(t, u, "good-token", chatBody, map[string]string{NonceHeader: "n-123"}); resp.StatusCode != 400 {
		t.Errorf("missing nonce: status %d, want 400", resp.StatusCode)
	}

	u.SetHeaderCheck("chatgpt-account-id", func(v string) bool { return v == "acct-1" })
	if resp, _ := chat(t, u, "good-token", chatBody, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("missing required header: status %d, want 403", resp.StatusCode)
	}
	if resp, _ := chat(t, u, "good-token", chatBody, map[string]string{"ChatGPT-Account-ID": "acct-1"}); resp.StatusCode != 200 {
		t.Errorf("with required header: status %d", resp.StatusCode)
	}
	u.SetHeaderCheck("ChatGPT-Account-ID", nil)
	if resp, _ := chat(t, u, "good-token", chatBody, nil); resp.StatusCode != 200 {
		t.Errorf("after clearing the check: status %d", resp.StatusCode)
	}
}
