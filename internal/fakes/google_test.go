package fakes

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	gClientID     = "gemini-client.apps.googleusercontent.com"
	gClientSecret = "GOCSPX-fake-secret"
	gRefresh      = "1//fake-refresh"
)

type googleTokenResponse struct {
	AccessToken      string `json:"access_token"`
	RefreshToken     string `json:"refresh_token"`
	ExpiresIn        int64  `json:"expires_in"`
	TokenType        string `json:"token_type"`
	Scope            string `json:"scope"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

func postGoogle(t *testing.T, s *GoogleTokenServer, form url.Values) (int, googleTokenResponse) {
	t.Helper()
	resp, err := http.PostForm(s.TokenURL(), form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr googleTokenResponse
	body, _ := io.ReadAll(resp.Body)
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(body, &tr); err != nil {
			t.Fatalf("body is not JSON: %v", err)
		}
	}
	return resp.StatusCode, tr
}

func refreshForm(rt string) url.Values {
	return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {gClientID}, "client_secret": {gClientSecret}}
}

func newGoogleServer(t *testing.T, cfg GoogleTokenConfig) *GoogleTokenServer {
	t.Helper()
	cfg.ClientID, cfg.ClientSecret = gClientID, gClientSecret
	s := NewGoogleTokenServer(cfg)
	s.AddRefreshToken(gRefresh)
	t.Cleanup(s.Close)
	return s
}

func TestGoogleRefreshGrant(t *testing.T) {
	s := newGoogleServer(t, GoogleTokenConfig{})
	status, tr := postGoogle(t, s, refreshForm(gRefresh))
	if status != 200 || tr.AccessToken == "" || tr.ExpiresIn != 3599 || tr.TokenType != "Bearer" || tr.Scope != GeminiScopes || tr.RefreshToken != "" {
		t.Fatalf("refresh grant: %d %+v", status, tr)
	}
	if !s.Valid(tr.AccessToken) || s.Refreshes() != 1 || s.Issued() != 1 {
		t.Fatal("issued token not valid or not counted")
	}
	if f := s.LastForm(); f.Get("client_secret") != "[redacted]" || f.Get("refresh_token") != "[redacted]" || f.Get("client_id") != gClientID {
		t.Errorf("LastForm %v", f)
	}
	s.RevokeAll()
	if s.Valid(tr.AccessToken) {
		t.Error("RevokeAll left the token valid")
	}
	if status, _ := postGoogle(t, s, refreshForm(gRefresh)); status != 200 {
		t.Error("RevokeAll revoked the refresh token")
	}

	status, tr = postGoogle(t, s, refreshForm("1//unknown"))
	if status != 400 || tr.Error != "invalid_grant" || tr.ErrorDescription != "Token has been expired or revoked." {
		t.Fatalf("unknown refresh token: %d %+v", status, tr)
	}
	bad := refreshForm(gRefresh)
	bad.Set("client_secret", "wrong")
	if status, tr := postGoogle(t, s, bad); status != 401 || tr.Error != "invalid_client" {
		t.Fatalf("wrong client secret: %d %+v", status, tr)
	}
	s.RevokeRefreshToken(gRefresh)
	if status, tr := postGoogle(t, s, refreshForm(gRefresh)); status != 400 || tr.Error != "invalid_grant" {
		t.Fatalf("revoked refresh token: %d %+v", status, tr)
	}
}

func TestGoogleRotationAndLifetime(t *testing.T) {
	s := newGoogleServer(t, GoogleTokenConfig{RotateRefreshTokens: true, ExpiresIn: 2 * time.Second})
	_, tr := postGoogle(t, s, refreshForm(gRefresh))
	if tr.RefreshToken == "" || tr.ExpiresIn != 2 {
		t.Fatalf("rotation/lifetime: %+v", tr)
	}
	if status, _ := postGoogle(t, s, refreshForm(gRefresh)); status != 400 {
		t.Error("the redeemed refresh token still works after rotation")
	}
	if status, _ := postGoogle(t, s, refreshForm(tr.RefreshToken)); status != 200 {
		t.Error("the rotated refresh token does not work")
	}
}

func TestGoogleFailureModes(t *testing.T) {
	s := newGoogleServer(t, GoogleTokenConfig{})
	s.SetDown(true)
	resp, err := http.PostForm(s.TokenURL(), refreshForm(gRefresh))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("down: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s.SetDown(false)
	s.SetError(400, "invalid_rapt", "reauth related error")
	if status, tr := postGoogle(t, s, refreshForm(gRefresh)); status != 400 || tr.Error != "invalid_rapt" {
		t.Fatalf("SetError: %d %+v", status, tr)
	}
	s.SetError(0, "", "")
	if status, _ := postGoogle(t, s, refreshForm(gRefresh)); status != 200 {
		t.Fatal("SetError(0) did not restore normal answers")
	}

	release := s.Hold()
	done := make(chan int, 1)
	go func() {
		resp, err := http.PostForm(s.TokenURL(), refreshForm(gRefresh))
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.WaitHeld(ctx, 1); err != nil || s.Held() != 1 {
		t.Fatal("the request was not held")
	}
	release()
	if got := <-done; got != 200 {
		t.Fatalf("released request: %d", got)
	}
}

// signJWT makes an RS256 assertion.
func signJWT(t *testing.T, key *rsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	in := enc(map[string]any{"alg": "RS256", "typ": "JWT", "kid": "k1"}) + "." + enc(claims)
	sum := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return in + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestGoogleJWTBearer(t *testing.T) {
	s := newGoogleServer(t, GoogleTokenConfig{})
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	const email = "sa@project.iam.gserviceaccount.com"
	s.AddServiceAccount(email, &key.PublicKey)
	now := time.Now().Unix()
	good := map[string]any{"iss": email, "aud": s.TokenURL(), "scope": "https://www.googleapis.com/auth/cloud-platform", "iat": now, "exp": now + 3600}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for kk, vv := range good {
			m[kk] = vv
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	form := func(a string) url.Values { return url.Values{"grant_type": {JWTBearerGrant}, "assertion": {a}} }

	status, tr := postGoogle(t, s, form(signJWT(t, key, good)))
	if status != 200 || !s.Valid(tr.AccessToken) || tr.Scope != good["scope"] || s.Assertions() != 1 {
		t.Fatalf("valid assertion: %d %+v", status, tr)
	}
	if c := s.LastClaims(); c["iss"] != email || c["aud"] != s.TokenURL() {
		t.Errorf("LastClaims %v", c)
	}
	for name, a := range map[string]string{
		"wrong key":      signJWT(t, other, good),
		"wrong aud":      signJWT(t, key, with("aud", "https://oauth2.googleapis.com/token")),
		"unknown iss":    signJWT(t, key, with("iss", "x@y")),
		"no scope":       signJWT(t, key, with("scope", nil)),
		"expired":        signJWT(t, key, with("exp", now-10)),
		"too long":       signJWT(t, key, with("exp", now+7200)),
		"future iat":     signJWT(t, key, with("iat", now+600)),
		"not a JWT":      "abc",
		"tampered claim": tamper(signJWT(t, key, good)),
	} {
		if status, tr := postGoogle(t, s, form(a)); status != 400 || tr.Error != "invalid_grant" {
			t.Errorf("%s: %d %+v, want 400 invalid_grant", name, status, tr)
		}
	}
	if s.Assertions() != 1 {
		t.Errorf("rejected assertions issued tokens (%d)", s.Assertions())
	}
}

// tamper swaps the claims of a JWT for others, keeping the signature.
func tamper(jwt string) string {
	parts := strings.Split(jwt, ".")
	b, _ := json.Marshal(map[string]any{"iss": "sa@project.iam.gserviceaccount.com", "scope": "all", "aud": "x", "iat": 1, "exp": 2})
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
}

func TestCodeAssistUpstream(t *testing.T) {
	s := newGoogleServer(t, GoogleTokenConfig{})
	_, tr := postGoogle(t, s, refreshForm(gRefresh))
	up := NewCodeAssistUpstream(s.Valid)
	t.Cleanup(up.Close)
	body := `{"model":"gemini-2.5-pro","project":"p","request":{"contents":[{"role":"user","parts":[{"text":"hello there"}]}]}}`
	call := func(method, token, query string) (*http.Response, []byte) {
		req, _ := http.NewRequest(http.MethodPost, up.URL()+CodeAssistPrefix+method+query, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	resp, b := call("generateContent", tr.AccessToken, "")
	var out struct {
		Response struct {
			Candidates []struct {
				Content struct {
					Role  string `json:"role"`
					Parts []struct {
						Text string `json:"text"`
					} `json:"parts"`
				} `json:"content"`
			} `json:"candidates"`
		} `json:"response"`
	}
	if resp.StatusCode != 200 || json.Unmarshal(b, &out) != nil || len(out.Response.Candidates) != 1 ||
		out.Response.Candidates[0].Content.Role != "model" || out.Response.Candidates[0].Content.Parts[0].Text != "echo: hello there" {
		t.Fatalf("generateContent: %d %s", resp.StatusCode, b)
	}
	if resp, _ := call("generateContent", "ya29.bogus", ""); resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("bad token: %d", resp.StatusCode)
	}
	if resp, _ := call("generateContent", "", ""); resp.StatusCode != 401 {
		t.Fatalf("no token: %d", resp.StatusCode)
	}
	if up.Requests() != 3 || up.Rejected() != 2 {
		t.Fatalf("counters: requests %d rejected %d", up.Requests(), up.Rejected())
	}
	resp, b = call("streamGenerateContent", tr.AccessToken, "?alt=sse")
	var text strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			if err := json.Unmarshal([]byte(data), &out); err != nil {
				t.Fatalf("event is not JSON: %v", err)
			}
			text.WriteString(out.Response.Candidates[0].Content.Parts[0].Text)
		}
	}
	if resp.StatusCode != 200 || text.String() != "echo: hello there" {
		t.Fatalf("streamGenerateContent: %d %q", resp.StatusCode, text.String())
	}
	if resp, _ := call("nope", tr.AccessToken, ""); resp.StatusCode != 404 {
		t.Fatalf("unknown method: %d", resp.StatusCode)
	}
	s.RevokeAll()
	if resp, _ := call("generateContent", tr.AccessToken, ""); resp.StatusCode != 401 {
		t.Fatalf("revoked token: %d", resp.StatusCode)
	}
}

func TestWriteGeminiCreds(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".gemini", "oauth_creds.json")
	exp := time.UnixMilli(1754000000123)
	if err := WriteGeminiCreds(path, "ya29.a", "1//r", exp, map[string]any{"id_token": nil, "extra": "x"}); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v", st.Mode().Perm(), err)
	}
	raw, _ := os.ReadFile(path)
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if string(doc["expiry_date"]) != "1754000000123" || string(doc["access_token"]) != `"ya29.a"` || string(doc["refresh_token"]) != `"1//r"` ||
		string(doc["extra"]) != `"x"` || doc["id_token"] != nil || string(doc["token_type"]) != `"Bearer"` {
		t.Fatalf("file: %s", raw)
	}
	if !strings.Contains(string(raw), "\n  \"") {
		t.Error("not two-space indented like the Gemini CLI writes it")
	}
}

// TestGoogleConcurrent checks the fake under concurrent use (run with -race).
func TestGoogleConcurrent(t *testing.T) {
	s := newGoogleServer(t, GoogleTokenConfig{})
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.PostForm(s.TokenURL(), refreshForm(gRefresh))
			if err == nil {
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	if s.Refreshes() != 20 || s.Requests() != 20 {
		t.Fatalf("refreshes %d requests %d", s.Refreshes(), s.Requests())
	}
}
