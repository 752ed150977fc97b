package codex

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofrs/flock"

	"github.com/tokenhost/tokenhost/internal/fakes"
	"github.com/tokenhost/tokenhost/sdk"
	"github.com/tokenhost/tokenhost/sdk/sdktest"
)

func TestConformance(t *testing.T) {
	e := newEnv(t, fakes.CodexAuthConfig{})
	e.seedExpired(nil)
	good := e.options
	sdktest.Run(t, sdktest.Suite{
		New:     New,
		Options: good(nil),
		BadOptions: map[string]map[string]any{
			"unknown option":        good(map[string]any{"tokn_url": "x"}),
			"http non-loopback":     good(map[string]any{"token_url": "http://auth.example/oauth/token"}),
			"ftp token_url":         good(map[string]any{"token_url": "ftp://auth.example/oauth/token"}),
			"relative token_url":    good(map[string]any{"token_url": "/oauth/token"}),
			"credentials in url":    good(map[string]any{"token_url": "https://user:pw@auth.example/oauth/token"}),
			"refresh_window abc":    good(map[string]any{"refresh_window": "abc"}),
			"negative window":       good(map[string]any{"refresh_window": "-1m"}),
			"zero lock_timeout":     good(map[string]any{"lock_timeout": "0s"}),
			"zero timeout":          good(map[string]any{"timeout": 0}),
			"empty client_id":       good(map[string]any{"client_id": " "}),
			"auth_file not string":  good(map[string]any{"auth_file": []any{"a", "b"}}),
			"client_id not string":  good(map[string]any{"client_id": 3.0}),
			"lock_timeout not text": good(map[string]any{"lock_timeout": true}),
		},
	})
}

func TestInfo(t *testing.T) {
	e := newEnv(t, fakes.CodexAuthConfig{})
	// The file need not exist yet.
	info, err := New().Configure(t.Context(), e.options(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := sdk.Info{Name: Name, Version: Version, Upstream: DefaultUpstream, AllowedHosts: []string{"chatgpt.com"}, Mode: ModeChatGPT,
		MaxFetch: DefaultLockTimeout + DefaultTimeout + DefaultReuseWait, NoTokenCache: true}
	if !reflect.DeepEqual(info, want) {
		t.Errorf("Info %+v, want %+v", info, want)
	}
	if info.Upstream != "https://chatgpt.com/backend-api/codex" || info.Mode != "chatgpt sign-in (auth.json)" {
		t.Errorf("Info %+v", info)
	}
}

func TestBadConfigMessages(t *testing.T) {
	e := newEnv(t, fakes.CodexAuthConfig{})
	cases := []struct {
		name, key string
		extra     map[string]any
		want      []string
	}{
		{"suggests", "refresh_windw", map[string]any{"refresh_windw": "1m"}, []string{`did you mean "refresh_window"?`}},
		{"https", "token_url", map[string]any{"token_url": "http://auth.example/oauth/token"}, []string{"https", "loopback"}},
		{"duration", "refresh_window", map[string]any{"refresh_window": "abc"}, []string{"duration"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := New().Configure(t.Context(), e.options(c.extra))
			var se *sdk.Error
			if !errors.As(err, &se) || se.Kind != sdk.KindBadConfig || se.Key != c.key {
				t.Fatalf("got %v, want BadConfig for key %q", err, c.key)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not mention %q", err.Error(), w)
				}
			}
		})
	}
	for _, u := range []string{"http://127.0.0.1:1/token", "http://localhost:1/token", "http://[::1]:1/token", "https://auth.example/oauth/token"} {
		if _, err := New().Configure(t.Context(), e.options(map[string]any{"token_url": u})); err != nil {
			t.Errorf("token_url %s: %v", u, err)
		}
	}
}

func TestAuthFileDefault(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv(EnvCodexHome, "")
	cfg, err := parseConfig(map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(home, ".codex", "auth.json"); cfg.authFile != want {
		t.Errorf("default auth_file %s, want %s", cfg.authFile, want)
	}
	if cfg.tokenURL != DefaultTokenURL || cfg.clientID != DefaultClientID || cfg.refreshWindow != DefaultRefreshWindow ||
		cfg.lockTimeout != DefaultLockTimeout || cfg.timeout != DefaultTimeout {
		t.Errorf("defaults: %+v", cfg)
	}

	codexHome := filepath.Join(t.TempDir(), "ch")
	t.Setenv(EnvCodexHome, codexHome)
	if cfg, err = parseConfig(map[string]any{}); err != nil || cfg.authFile != filepath.Join(codexHome, "auth.json") {
		t.Errorf("with CODEX_HOME: %v %v", cfg, err)
	}
	if cfg, err = parseConfig(map[string]any{"auth_file": "~/x/auth.json"}); err != nil || cfg.authFile != filepath.Join(home, "x", "auth.json") {
		t.Errorf("~ not expanded: %v %v", cfg, err)
	}
}

// TestAuthFileTildeOfAnotherUser: auth_file "~bob/…" is refused with a message saying that only ~/ is
// expanded, rather than read as a relative path named "~bob".
func TestAuthFileTildeOfAnotherUser(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	_, err := parseConfig(map[string]any{"auth_file": "~bob/.codex/auth.json"})
	var se *sdk.Error
	if !errors.As(err, &se) || se.Kind != sdk.KindBadConfig || se.Key != "auth_file" || !strings.Contains(err.Error(), "only a leading ~/ is expanded, not ~bob") {
		t.Errorf("auth_file ~bob/.codex/auth.json: %v; want BadConfig saying ~bob is not expanded", err)
	}
}

func TestRefreshExpired(t *testing.T) {
	for _, key := range []any{nil, "sk-proj-abcdef0123456789"} {
		name := "api key null"
		if key != nil {
			name = "api key string"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, fakes.CodexAuthConfig{})
			agent := map[string]any{"id": "agent-1", "keys": []any{1.0, "two", nil}, "nested": map[string]any{"deep": true}}
			oldAccess, oldRefresh := e.seedExpired(map[string]any{
				"OPENAI_API_KEY":        key,
				"agent_identity":        agent,
				"personal_access_token": map[string]any{"kind": "pat", "value": "pat-opaque-value"},
				"some_future_number":    12.5,
			})
			// An unknown field inside tokens, added by hand.
			d := e.doc()
			d["tokens"].(map[string]any)["future_field"] = map[string]any{"a": []any{1.0, 2.0}}
			data, _ := json.MarshalIndent(d, "", "  ")
			e.write(string(data))

			src := e.source(nil)
			before := time.Now().Add(-time.Second)
			tok, err := src.Token(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			after := time.Now().Add(time.Second)
			if n := e.idp.Requests(); n != 1 || e.idp.Refreshes() != 1 {
				t.Fatalf("%d requests, %d refreshes; want exactly 1", n, e.idp.Refreshes())
			}
			if body := e.idp.LastBody(); !reflect.DeepEqual(body, map[string]any{"client_id": DefaultClientID, "grant_type": "refresh_token", "refresh_token": "<redacted>"}) {
				t.Errorf("refresh body %v", body)
			}
			if tok.Value == oldAccess || !e.idp.Valid(tok.Value) {
				t.Fatal("Token did not return a new valid access token")
			}
			if tok.Type != "Bearer" || tok.Headers[HeaderAccountID] != e.idp.AccountID() || len(tok.Headers) != 1 {
				t.Errorf("type %q headers %v, want Bearer and the account header", tok.Type, tok.Headers)
			}
			if c, _ := readClaims(tok.Value); !tok.Expiry.Equal(c.exp) || time.Until(tok.Expiry) < 50*time.Minute {
				t.Errorf("expiry %s, want the JWT exp %s about an hour away", tok.Expiry, c.exp)
			}

			doc := e.doc()
			tokens := e.tokens()
			if tokens["access_token"] != tok.Value {
				t.Error("auth.json does not hold the new access token")
			}
			newRT, _ := tokens["refresh_token"].(string)
			if newRT == "" || newRT == oldRefresh {
				t.Error("auth.json does not hold a rotated refresh token")
			}
			if id, _ := tokens["id_token"].(string); id == "" || id == e.idToken() {
				t.Error("auth.json does not hold the new id_token")
			}
			if tokens["account_id"] != e.idp.AccountID() {
				t.Errorf("account_id changed to %v", tokens["account_id"])
			}
			if !reflect.DeepEqual(tokens["future_field"], map[string]any{"a": []any{1.0, 2.0}}) {
				t.Errorf("unknown field inside tokens: %v", tokens["future_field"])
			}
			lr, err := time.Parse(time.RFC3339Nano, doc["last_refresh"].(string))
			if err != nil || lr.Before(before) || lr.After(after) || !strings.HasSuffix(doc["last_refresh"].(string), "Z") {
				t.Errorf("last_refresh %v (%v), want now in UTC", doc["last_refresh"], err)
			}
			if v, ok := doc["OPENAI_API_KEY"]; !ok || v != key {
				t.Errorf("OPENAI_API_KEY is %v (present %v), want %v", v, ok, key)
			}
			if !reflect.DeepEqual(doc["agent_identity"], agent) {
				t.Errorf("agent_identity changed: %v", doc["agent_identity"])
			}
			if !reflect.DeepEqual(doc["personal_access_token"], map[string]any{"kind": "pat", "value": "pat-opaque-value"}) {
				t.Errorf("personal_access_token changed: %v", doc["personal_access_token"])
			}
			if doc["some_future_number"] != 12.5 || doc["auth_mode"] != "chatgpt" {
				t.Errorf("fields changed: %v %v", doc["some_future_number"], doc["auth_mode"])
			}
			if len(doc) != 7 {
				t.Errorf("auth.json has %d top-level fields, want 7: %v", len(doc), slices.Sorted(mapsKeys(doc)))
			}
			raw, _ := os.ReadFile(e.path)
			if !strings.HasPrefix(string(raw), "{\n  \"") {
				t.Errorf("auth.json is not pretty-printed with two spaces: %.20q", raw)
			}
			st, err := os.Stat(e.path)
			if err != nil || st.Mode().Perm() != 0o600 {
				t.Errorf("mode %v (%v), want 0600", st.Mode().Perm(), err)
			}
			if names := dirEntries(t, e.dir); !reflect.DeepEqual(names, []string{"auth.json", "auth.json.lock", "auth.json.tokenhost.lock", "auth.lock"}) {
				t.Errorf("directory holds %v", names)
			}

			// The next Token is served from the file; the rotated refresh token is the live one.
			again, err := src.Token(t.Context())
			if err != nil || again.Value != tok.Value || e.idp.Requests() != 1 {
				t.Errorf("second Token: err %v, same %v, %d requests", err, again.Value == tok.Value, e.idp.Requests())
			}
			if _, err := e.idp.Rotate(newRT); err != nil {
				t.Errorf("the stored refresh token is not the live one: %v", err)
			}
		})
	}
}

func mapsKeys(m map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestRefreshFileAlreadyChanged(t *testing.T) {
	e := newEnv(t, fakes.CodexAuthConfig{})
	e.seedExpired(nil)
	src := e.source(nil)
	first, err := src.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// Another process refreshes and writes the file.
	rt := e.tokens()["refresh_token"].(string)
	other, err := e.idp.Rotate(rt)
	if err != nil {
		t.Fatal(err)
	}
	if err := fakes.WriteCodexAuth(e.path, other.AccessToken, other.RefreshToken, other.IDToken, "", nil); err != nil {
		t.Fatal(err)
	}
	requests := e.idp.Requests()
	got, err := src.Refresh(t.Context(), first)
	if err != nil {
		t.Fatal(err)
	}
	if got.Value != other.AccessToken || e.idp.Requests() != requests {
		t.Errorf("Refresh: returned the file's token %v, %d new requests; want the file's token and none", got.Value == other.AccessToken, e.idp.Requests()-requests)
	}
	// account_id is null here: the header comes from the id_token claim.
	if got.Headers[HeaderAccountID] != e.idp.AccountID() {
		t.Errorf("headers %v", got.Headers)
	}

	// Under the lock too: the pre-lock read saw the stale token, the locked re-read sees a new one.
	atPoints(src, map[string]func(){pointBeforeLock: func() {
		next, err := e.idp.Rotate(other.RefreshToken)
		if err != nil {
			t.Error(err)
			return
		}
		other = next
		if err := fakes.WriteCodexAuth(e.path, next.AccessToken, next.RefreshToken, next.IDToken, e.idp.AccountID(), nil); err != nil {
			t.Error(err)
		}
	}})
	got, err = src.Refresh(t.Context(), got)
	if err != nil {
		t.Fatal(err)
	}
	if got.Value != other.AccessToken || e.idp.Requests() != requests {
		t.Errorf("locked re-read: returned the file's token %v, %d new requests", got.Value == other.AccessToken, e.idp.Requests()-requests)
	}
}

func TestRefreshDiffersFromStale(t *testing.T) {
	e := newEnv(t, fakes.CodexAuthConfig{})
	e.seedExpired(nil)
	src := e.source(nil)
	a, err := src.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// The file holds a, still valid for an hour: Refresh(a) must still go to the endpoint.
	b, err := src.Refresh(t.Context(), a)
	if err != nil {
		t.Fatal(err)
	}
	if b.Value == a.Value || !e.idp.Valid(b.Value) || e.idp.Refreshes() != 2 {
		t.Errorf("Refresh: new %v, valid %v, %d refreshes; want a new valid token and 2 refreshes", b.Value != a.Value, e.idp.Valid(b.Value), e.idp.Refreshes())
	}
	if e.tokens()["access_token"] != b.Value {
		t.Error("the file does not hold the refreshed token")
	}
}

func TestReusedAfterAnotherProcessRotated(t *testing.T) {
	t.Run("file holds new tokens", func(t *testing.T) {
		e := newEnv(t, fakes.CodexAuthConfig{})
		access, rt := e.seedExpired(map[string]any{"agent_identity": "x"})
		// Another process redeemed rt a moment ago and is writing auth.json while our request is under way.
		other, err := e.idp.Rotate(rt)
		if err != nil {
			t.Fatal(err)
		}
		var hooked atomic.Int32
		e.setOnReused(func(string) {
			hooked.Add(1)
			if err := fakes.WriteCodexAuth(e.path, other.AccessToken, other.RefreshToken, other.IDToken, e.idp.AccountID(), nil); err != nil {
				t.Error(err)
			}
		})
		tok, err := e.source(nil).Token(t.Context())
		if err != nil {
			t.Fatalf("Token: %v", err)
		}
		if hooked.Load() != 1 || tok.Value != other.AccessToken || tok.Value == access {
			t.Errorf("reused answered %d times; returned the other process's token: %v", hooked.Load(), tok.Value == other.AccessToken)
		}
		if e.idp.Requests() != 1 || e.idp.Refreshes() != 0 {
			t.Errorf("%d requests, %d refreshes; want 1 and 0", e.idp.Requests(), e.idp.Refreshes())
		}
		if e.tokens()["refresh_token"] != other.RefreshToken {
			t.Error("the other process's refresh token was overwritten")
		}
	})

	t.Run("file holds only a new refresh token", func(t *testing.T) {
		e := newEnv(t, fakes.CodexAuthConfig{})
		access, rt := e.seedExpired(nil)
		other, err := e.idp.Rotate(rt)
		if err != nil {
			t.Fatal(err)
		}
		e.setOnReused(func(string) {
			if err := fakes.WriteCodexAuth(e.path, access, other.RefreshToken, "", e.idp.AccountID(), nil); err != nil {
				t.Error(err)
			}
		})
		tok, err := e.source(nil).Token(t.Context())
		if err != nil {
			t.Fatalf("Token: %v", err)
		}
		if !e.idp.Valid(tok.Value) || e.idp.Requests() != 2 || e.idp.Refreshes() != 1 {
			t.Errorf("valid %v, %d requests, %d refreshes; want a valid token from a second request with the new refresh token",
				e.idp.Valid(tok.Value), e.idp.Requests(), e.idp.Refreshes())
		}
		if rt2 := e.tokens()["refresh_token"]; rt2 == other.RefreshToken || rt2 == rt {
			t.Error("the file does not hold the refresh token of the second request")
		}
	})

	t.Run("file written after the first re-read", func(t *testing.T) {
		// The other program's write lands only after the plugin has looked once and found nothing new.
		e := newEnv(t, fakes.CodexAuthConfig{})
		_, rt := e.seedExpired(nil)
		other, err := e.idp.Rotate(rt)
		if err != nil {
			t.Fatal(err)
		}
		src := e.source(nil)
		var misses atomic.Int32
		atPoints(src, map[string]func(){pointRereadMiss: func() {
			if misses.Add(1) == 1 {
				if err := fakes.WriteCodexAuth(e.path, other.AccessToken, other.RefreshToken, other.IDToken, e.idp.AccountID(), nil); err != nil {
					t.Error(err)
				}
			}
		}})
		tok, err := src.Token(t.Context())
		if err != nil {
			t.Fatalf("Token: %v", err)
		}
		if tok.Value != other.AccessToken || misses.Load() != 1 || e.idp.Requests() != 1 {
			t.Errorf("returned the other program's token %v after %d misses, %d requests", tok.Value == other.AccessToken, misses.Load(), e.idp.Requests())
		}
	})

	t.Run("file unchanged", func(t *testing.T) {
		e := newEnv(t, fakes.CodexAuthConfig{})
		access, rt := e.seedExpired(nil)
		if _, err := e.idp.Rotate(rt); err != nil { // redeemed elsewhere, never written back
			t.Fatal(err)
		}
		before, _ := os.ReadFile(e.path)
		_, err := e.source(map[string]any{"reuse_wait": "200ms"}).Token(t.Context())
		assertKind(t, err, sdk.KindReauthRequired, "codex login", e.path, "refresh_token_reused")
		assertNoSecrets(t, err.Error(), access, rt, e.idToken())
		if e.idp.Requests() != 1 {
			t.Errorf("%d requests, want 1", e.idp.Requests())
		}
		if after, _ := os.ReadFile(e.path); string(after) != string(before) {
			t.Error("auth.json changed")
		}
	})
}

// scripted starts a token endpoint that answers every request with status, content type and body, where
// {RT} in body is replaced by the refresh token of the request (an endpoint that echoes it).
func scripted(t *testing.T, status int, ctype, body string) (url string, requests *atomic.Int64) {
	t.Helper()
	requests = &atomic.Int64{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		var req struct {
			RefreshToken string `json:"refresh_token"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		w.Header().Set("Content-Type", ctype)
		w.WriteHeader(status)
		_, _ = w.Write([]byte(strings.ReplaceAll(body, "{RT}", req.RefreshToken)))
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/oauth/token", requests
}

func TestEndpointErrors(t *testing.T) {
	// Every body carries BODYMARK, and most echo the refresh token: neither may reach the error.
	cases := []struct {
		name   string
		status int
		ctype  string
		body   string
		kind   sdk.Kind
		want   []string
	}{
		{"expired error.code", 401, "application/json", `{"error":{"code":"refresh_token_expired","message":"BODYMARK {RT}"}}`, sdk.KindReauthRequired, []string{"codex login", "expired", "401 refresh_token_expired"}},
		{"invalidated error string", 401, "application/json", `{"error":"refresh_token_invalidated","error_description":"BODYMARK {RT}"}`, sdk.KindReauthRequired, []string{"codex login", "revoked", "refresh_token_invalidated"}},
		{"reused top-level code", 400, "application/json", `{"code":"refresh_token_reused","message":"BODYMARK {RT}"}`, sdk.KindReauthRequired, []string{"codex login", "already used"}},
		{"other 401 code", 401, "application/json", `{"error":{"code":"token_revoked","message":"BODYMARK"}}`, sdk.KindReauthRequired, []string{"codex login", "401 token_revoked"}},
		{"401 without code", 401, "application/json", `{"detail":"BODYMARK {RT}"}`, sdk.KindReauthRequired, []string{"codex login", "401 with application/json"}},
		{"401 html", 401, "text/html", `<html>BODYMARK {RT}</html>`, sdk.KindReauthRequired, []string{"codex login", "401 with text/html"}},
		{"invalid_grant", 400, "application/json", `{"error":"invalid_grant","error_description":"BODYMARK"}`, sdk.KindReauthRequired, []string{"codex login"}},
		{"code echoes the token", 401, "application/json", `{"error":{"code":"{RT}","message":"BODYMARK"}}`, sdk.KindReauthRequired, []string{"codex login"}},
		{"503 html", 503, "text/html", `<html>BODYMARK {RT}</html>`, sdk.KindUnavailable, []string{"503", "try again later"}},
		{"500 json", 500, "application/json", `{"error":{"code":"server_error","message":"BODYMARK"}}`, sdk.KindUnavailable, []string{"500 server_error"}},
		{"429", 429, "application/json", `{"BODYMARK":1}`, sdk.KindUnavailable, []string{"429"}},
		{"200 html", 200, "text/html", `<html>BODYMARK</html>`, sdk.KindUnavailable, []string{"200", "text/html", "not a token response"}},
		{"200 no tokens", 200, "application/json", `{"BODYMARK":"{RT}"}`, sdk.KindUnavailable, []string{"without any token"}},
		{"invalid_client", 401, "application/json", `{"error":{"code":"invalid_client","message":"BODYMARK"}}`, sdk.KindBadConfig, []string{"client_id"}},
		{"404", 404, "text/plain", `BODYMARK`, sdk.KindInternal, []string{"404", "token_url"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, fakes.CodexAuthConfig{})
			access, rt := e.seedExpired(nil)
			url, n := scripted(t, c.status, c.ctype, c.body)
			before, _ := os.ReadFile(e.path)
			// A short reuse_wait: nobody rewrites the file here (the wait itself is TestReusedAfterAnotherProcessRotated's).
			src := e.source(map[string]any{"token_url": url, "reuse_wait": "100ms"})
			_, err := src.Token(t.Context())
			assertKind(t, err, c.kind, c.want...)
			if c.kind == sdk.KindReauthRequired && !strings.Contains(err.Error(), e.path) {
				t.Errorf("%q does not name the file", err)
			}
			assertNoSecrets(t, err.Error(), access, rt, e.idToken(), "BODYMARK")
			if n.Load() != 1 {
				t.Errorf("%d requests, want 1", n.Load())
			}
			if after, _ := os.ReadFile(e.path); string(after) != string(before) {
				t.Error("auth.json changed after a failed refresh")
			}
		})
	}
}

func TestEndpointUnreachable(t *testing.T) {
	e := newEnv(t, fakes.CodexAuthConfig{})
	e.seedExpired(nil)
	srv := httptest.NewServer(http.NotFoundHandler())
	dead := srv.URL + "/oauth/token"
	srv.Close()
	_, err := e.source(map[string]any{"token_url": dead}).Token(t.Context())
	assertKind(t, err, sdk.KindUnavailable, "could not be reached")

	// A token endpoint that does not answer in time.
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) })
	_, err = e.source(map[string]any{"token_url": slow.URL, "timeout": "100ms"}).Token(t.Context())
	assertKind(t, err, sdk.KindUnavailable, "did not answer within 100ms")
}

func TestTokenServesCurrentWhileEndpointDown(t *testing.T) {
	e := newEnv(t, fakes.CodexAuthConfig{})
	current := e.jwt(time.Now().Add(2 * time.Minute)) // inside the 5m window, not yet expired
	e.idp.SeedRefreshToken("rt-live")
	if err := fakes.WriteCodexAuth(e.path, current, "rt-live", e.idToken(), e.idp.AccountID(), nil); err != nil {
		t.Fatal(err)
	}
	e.idp.SetDown(true)
	src := e.source(nil)
	tok, err := src.Token(t.Context())
	if err != nil || tok.Value != current || e.idp.Requests() != 1 {
		t.Fatalf("Token while down: err %v, current %v, %d requests; want the current token after one try", err, tok.Value == current, e.idp.Requests())
	}
	_, err = src.Refresh(t.Context(), tok)
	assertKind(t, err, sdk.KindUnavailable, "503")

	e.idp.SetDown(false)
	tok, err = src.Token(t.Context())
	if err != nil || tok.Value == current || !e.idp.Valid(tok.Value) {
		t.Fatalf("after recovery: err %v, new %v", err, tok.Value != current)
	}
}

// A crash between writing the temporary file and renaming it leaves auth.json as it was and no temporary
// file behind. The refresh token redeemed is spent by then, so the new tokens are not lost: they are
// served from memory and written on the next call that can.
func TestWriteFailureKeepsOriginal(t *testing.T) {
	e := newEnv(t, fakes.CodexAuthConfig{})
	e.seedExpired(map[string]any{"agent_identity": map[string]any{"k": "v"}})
	original, err := os.ReadFile(e.path)
	if err != nil {
		t.Fatal(err)
	}
	var sawTemp atomic.Bool
	failing := func(tmp string) error {
		// The temporary file is complete and in the same directory when the "crash" happens.
		data, err := os.ReadFile(tmp)
		if err == nil && filepath.Dir(tmp) == e.dir && json.Valid(data) {
			sawTemp.Store(true)
		}
		return errors.New("injected crash between write and rename")
	}
	src := e.source(nil)
	src.probe.beforeRename = failing
	tok, err := src.Token(t.Context())
	if err != nil {
		t.Fatalf("the refresh succeeded at the endpoint, so the caller must get its token: %v", err)
	}
	if !e.idp.Valid(tok.Value) {
		t.Fatal("the token served is not the one the endpoint just issued")
	}
	if !sawTemp.Load() {
		t.Error("the hook did not see a complete temporary file in the auth file's directory")
	}
	after, err := os.ReadFile(e.path)
	if err != nil || string(after) != string(original) {
		t.Errorf("auth.json changed (err %v)", err)
	}
	if names := dirEntries(t, e.dir); !reflect.DeepEqual(names, []string{"auth.json", "auth.json.lock", "auth.json.tokenhost.lock", "auth.lock"}) {
		t.Errorf("directory holds %v; want auth.json and the locks only", names)
	}
	if st, _ := os.Stat(e.path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode().Perm())
	}

	// Still failing: the next call serves the same unsaved token without another refresh.
	refreshes := e.idp.Refreshes()
	again, err := src.Token(t.Context())
	if err != nil || again.Value != tok.Value || e.idp.Refreshes() != refreshes {
		t.Fatalf("second call: %v, same token %v, refreshes %d→%d", err, again.Value == tok.Value, refreshes, e.idp.Refreshes())
	}

	// The file becomes writable: the next call writes the unsaved tokens, unknown fields kept.
	src.probe.beforeRename = nil
	if got, err := src.Token(t.Context()); err != nil || got.Value != tok.Value {
		t.Fatalf("after the write works: %v", err)
	}
	saved := e.tokens()
	if saved["access_token"] != tok.Value {
		t.Fatal("auth.json does not hold the token that was unsaved")
	}
	rt, _ := saved["refresh_token"].(string)
	if _, err := e.idp.Rotate(rt); err != nil {
		t.Fatalf("auth.json's refresh token is not the live one: %v", err)
	}
	var doc map[string]any
	raw, _ := os.ReadFile(e.path)
	if json.Unmarshal(raw, &doc) != nil || doc["agent_identity"] == nil {
		t.Fatal("an unknown field was lost on the delayed write")
	}
}

// Unsaved tokens never overwrite an auth.json that another program rewrote meanwhile (a new `codex
// login`): the file is newer and wins.
func TestUnsavedTokensYieldToANewerFile(t *testing.T) {
	e := newEnv(t, fakes.CodexAuthConfig{})
	e.seedExpired(nil)
	src := e.source(nil)
	src.probe.beforeRename = func(string) error { return errors.New("read-only file system") }
	if _, err := src.Token(t.Context()); err != nil {
		t.Fatal(err)
	}
	login := e.idp.Issue() // the user signs in again; the Codex CLI writes the file
	if err := fakes.WriteCodexAuth(e.path, login.AccessToken, login.RefreshToken, login.IDToken, "", nil); err != nil {
		t.Fatal(err)
	}
	src.probe.beforeRename = nil
	got, err := src.Token(t.Context())
	if err != nil || got.Value != login.AccessToken {
		t.Fatalf("got %v, want the token of the new sign-in", err)
	}
	if saved := e.tokens(); saved["refresh_token"] != login.RefreshToken {
		t.Fatal("the unsaved tokens overwrote the newer sign-in")
	}
}

func TestWriteThroughSymlink(t *testing.T) {
	e := newEnv(t, fakes.CodexAuthConfig{})
	e.seedExpired(nil)
	real := filepath.Join(e.dir, "real-auth.json")
	if err := os.Rename(e.path, real); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real-auth.json", e.path); err != nil {
		t.Skip("symlinks unsupported:", err)
	}
	tok, err := e.source(nil).Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(e.path); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Error("auth.json is no longer a symlink")
	}
	if e.tokens()["access_token"] != tok.Value {
		t.Error("the link's target does not hold the new token")
	}
}

func TestMalformed(t *testing.T) {
	e0 := newEnv(t, fakes.CodexAuthConfig{})
	secretish := "header-seg.payload-seg" // a two-segment "JWT"
	noExp := func(exp any) string {
		return fakes.MakeCodexJWT(map[string]any{"exp": exp, fakes.CodexAuthClaim: map[string]any{"chatgpt_account_id": "acct"}})
	}
	file := func(access string) string {
		b, _ := json.Marshal(map[string]any{"OPENAI_API_KEY": nil, "tokens": map[string]any{"access_token": access, "refresh_token": "rt-x", "account_id": "acct", "id_token": e0.idToken()}})
		return string(b)
	}
	cases := []struct {
		name  string
		setup func(e *env)
		kind  sdk.Kind
		want  []string
	}{
		{"not JSON", func(e *env) { e.write(`{"tokens": {"access_token": "abc"`) }, sdk.KindInternal, []string{"not valid JSON"}},
		{"top-level array", func(e *env) { e.write(`[1,2]`) }, sdk.KindInternal, []string{"not a JSON object"}},
		{"missing tokens", func(e *env) {
			e.write(`{"auth_mode":"chatgpt","OPENAI_API_KEY":null,"last_refresh":"2025-08-01T12:00:00Z"}`)
		}, sdk.KindReauthRequired, []string{"no tokens", "codex login"}},
		{"tokens null no key", func(e *env) { e.write(`{"OPENAI_API_KEY":null,"tokens":null}`) }, sdk.KindReauthRequired, []string{"no tokens", "codex login"}},
		{"tokens not object", func(e *env) { e.write(`{"tokens":"x"}`) }, sdk.KindInternal, []string{"tokens field that is not a JSON object"}},
		{"no refresh or access token", func(e *env) { e.write(`{"tokens":{"id_token":null}}`) }, sdk.KindReauthRequired, []string{"codex login"}},
		{"JWT with two segments", func(e *env) { e.write(file(secretish)) }, sdk.KindInternal, []string{"tokens.access_token", "2 dot-separated segments"}},
		{"non-numeric exp", func(e *env) { e.write(file(noExp("tomorrow"))) }, sdk.KindInternal, []string{"non-numeric exp"}},
		{"payload not base64", func(e *env) { e.write(file("a.%%%.c")) }, sdk.KindInternal, []string{"not base64url"}},
		{"access_token a number", func(e *env) { e.write(`{"tokens":{"access_token":5,"refresh_token":"r"}}`) }, sdk.KindInternal, []string{"tokens.access_token that is not a string"}},
		{"bad id_token without account_id", func(e *env) {
			e.write(`{"tokens":{"access_token":"` + noExp(4102444800) + `","refresh_token":"r","id_token":"x.y","account_id":null}}`)
		}, sdk.KindInternal, []string{"tokens.id_token"}},
		{"empty file", func(e *env) { e.write("") }, sdk.KindInternal, []string{"is empty"}},
		{"whitespace file", func(e *env) { e.write(" \n\t") }, sdk.KindInternal, []string{"is empty"}},
		{"directory", func(e *env) {
			if err := os.Mkdir(e.path, 0o700); err != nil {
				t.Fatal(err)
			}
		}, sdk.KindInternal, []string{"is a directory"}},
		{"no file", func(e *env) {}, sdk.KindReauthRequired, []string{"does not exist", "codex login"}},
		{"no directory", func(e *env) { e.path = filepath.Join(e.dir, "missing", "auth.json") }, sdk.KindReauthRequired, []string{"does not exist", "codex login"}},
		{"apikey mode without key", func(e *env) { e.write(`{"auth_mode":"apikey","OPENAI_API_KEY":null}`) }, sdk.KindReauthRequired, []string{"no OPENAI_API_KEY", "codex login"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, fakes.CodexAuthConfig{})
			c.setup(e)
			src := New().(*source)
			// Configure does not need a usable file.
			if _, err := src.Configure(t.Context(), e.options(nil)); err != nil {
				t.Fatalf("Configure: %v", err)
			}
			_, err := src.Token(t.Context())
			assertKind(t, err, c.kind, append([]string{e.path}, c.want...)...)
			_, err = src.Refresh(t.Context(), sdk.Token{Value: "whatever"})
			assertKind(t, err, c.kind, e.path)
			assertNoSecrets(t, err.Error(), secretish, "rt-x")
			if e.idp.Requests() != 0 {
				t.Errorf("%d token requests for a malformed file", e.idp.Requests())
			}
		})
	}
}

func TestAPIKeyMode(t *testing.T) {
	const key = "sk-test-0123456789abcdef"
	for name, content := range map[string]string{
		"explicit":             `{"auth_mode":"apikey","OPENAI_API_KEY":"` + key + `","tokens":null}`,
		"explicit with tokens": `{"auth_mode":"apikey","OPENAI_API_KEY":"` + key + `","tokens":{"access_token":"a.b","refresh_token":"r"}}`,
		"inferred":             `{"OPENAI_API_KEY":"` + key + `"}`,
		"inferred null tokens": `{"OPENAI_API_KEY":"` + key + `","tokens":null,"last_refresh":null}`,
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, fakes.CodexAuthConfig{})
			e.write(content)
			src := New().(*source)
			info, err := src.Configure(t.Context(), e.options(nil))
			if err != nil {
				t.Fatal(err)
			}
			if info.Mode != ModeAPIKey || !strings.Contains(info.Mode, "api key") {
				t.Errorf("Mode %q, want %q", info.Mode, ModeAPIKey)
			}
			if info.Upstream != APIKeyUpstream || len(info.AllowedHosts) != 1 || info.AllowedHosts[0] != "api.openai.com" {
				t.Errorf("an API key must go to the OpenAI API, not the ChatGPT backend: upstream %q, hosts %v", info.Upstream, info.AllowedHosts)
			}
			tok, err := src.Token(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if tok.Value != key || !tok.Expiry.IsZero() || tok.Headers != nil || tok.Type != "Bearer" {
				t.Errorf("token: key %v, expiry %v, headers %v", tok.Value == key, tok.Expiry, tok.Headers)
			}
			_, err = src.Refresh(t.Context(), tok)
			assertKind(t, err, sdk.KindReauthRequired, "API key", e.path, "codex login")
			assertNoSecrets(t, err.Error(), key)
			if got, err := src.Refresh(t.Context(), sdk.Token{Value: "an-older-key"}); err != nil || got.Value != key {
				t.Errorf("Refresh of another key: %v", err)
			}
			if e.idp.Requests() != 0 {
				t.Errorf("%d token requests in API-key mode", e.idp.Requests())
			}
		})
	}

	// A ChatGPT file that also holds a key stays a ChatGPT sign-in.
	e := newEnv(t, fakes.CodexAuthConfig{})
	e.seedExpired(map[string]any{"OPENAI_API_KEY": key})
	src := New().(*source)
	info, err := src.Configure(t.Context(), e.options(nil))
	if err != nil || info.Mode != ModeChatGPT {
		t.Fatalf("Mode %q, err %v", info.Mode, err)
	}
	if tok, err := src.Token(t.Context()); err != nil || tok.Value == key {
		t.Errorf("chatgpt file with a key: err %v, served the key %v", err, tok.Value == key)
	}
}

func TestAccountID(t *testing.T) {
	e := newEnv(t, fakes.CodexAuthConfig{})
	fresh := e.jwt(time.Now().Add(time.Hour))
	idFor := func(acct any) string {
		return fakes.MakeCodexJWT(map[string]any{fakes.CodexAuthClaim: map[string]any{"chatgpt_account_id": acct}})
	}
	cases := []struct {
		name, id, account, want string
	}{
		{"from tokens.account_id", idFor("from-claim"), "from-field", "from-field"},
		{"from the id_token claim", idFor("from-claim"), "", "from-claim"},
		{"neither", idFor(nil), "", ""},
		{"no id_token", "", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := fakes.WriteCodexAuth(e.path, fresh, "rt", c.id, c.account, nil); err != nil {
				t.Fatal(err)
			}
			tok, err := e.source(nil).Token(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			got, ok := tok.Headers[HeaderAccountID]
			if got != c.want || ok != (c.want != "") || (c.want == "" && tok.Headers != nil) {
				t.Errorf("headers %v, want account %q", tok.Headers, c.want)
			}
		})
	}
}

func TestExpiryRules(t *testing.T) {
	day := 24 * time.Hour
	cases := []struct {
		name        string
		exp         time.Time
		lastRefresh any
		window      string
		refresh     bool
	}{
		{"expired", time.Now().Add(-time.Minute), "now", "", true},
		{"within window", time.Now().Add(4 * time.Minute), "now", "", true},
		{"outside window", time.Now().Add(6 * time.Minute), "now", "", false},
		{"custom window", time.Now().Add(6 * time.Minute), "now", "10m", true},
		{"zero window", time.Now().Add(time.Minute), "now", "0s", false},
		{"no exp, recent", time.Time{}, time.Now().Add(-day).UTC().Format(time.RFC3339), "", false},
		{"no exp, 9 days", time.Time{}, time.Now().Add(-9 * day).UTC().Format(time.RFC3339), "", true},
		{"no exp, no last_refresh", time.Time{}, nil, "", true},
		{"no exp, bad last_refresh", time.Time{}, "last tuesday", "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, fakes.CodexAuthConfig{})
			e.idp.SeedRefreshToken("rt")
			extra := map[string]any{"last_refresh": c.lastRefresh}
			if c.lastRefresh == "now" {
				extra = nil
			}
			access := e.jwt(c.exp)
			if err := fakes.WriteCodexAuth(e.path, access, "rt", e.idToken(), "", extra); err != nil {
				t.Fatal(err)
			}
			opts := map[string]any{}
			if c.window != "" {
				opts["refresh_window"] = c.window
			}
			tok, err := e.source(opts).Token(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if refreshed := e.idp.Refreshes() == 1; refreshed != c.refresh || (tok.Value != access) != c.refresh {
				t.Errorf("refreshed %v (%d requests), want %v", refreshed, e.idp.Requests(), c.refresh)
			}
			if !c.refresh && !tok.Expiry.Equal(time.Unix(c.exp.Unix(), 0)) && !c.exp.IsZero() {
				t.Errorf("expiry %s, want %s", tok.Expiry, c.exp)
			}
			if !c.refresh && c.exp.IsZero() && !tok.Expiry.IsZero() {
				t.Errorf("expiry %s, want zero (unknown)", tok.Expiry)
			}
		})
	}
}

func TestTokenURLEnvOverride(t *testing.T) {
	e := newEnv(t, fakes.CodexAuthConfig{})
	e.seedExpired(nil)
	t.Setenv(EnvTokenURLOverride, e.idp.TokenURL())
	if _, err := e.source(map[string]any{"token_url": nil}).Token(t.Context()); err != nil {
		t.Fatal(err)
	}
	if e.idp.Refreshes() != 1 {
		t.Errorf("%d refreshes at the override endpoint, want 1", e.idp.Refreshes())
	}

	// The option wins over the environment.
	t.Setenv(EnvTokenURLOverride, "http://127.0.0.1:1/unused")
	src := e.source(nil)
	tok, _ := src.Token(t.Context())
	if _, err := src.Refresh(t.Context(), tok); err != nil || e.idp.Refreshes() != 2 {
		t.Errorf("token_url option: err %v, %d refreshes", err, e.idp.Refreshes())
	}

	// A bad override is a configuration error that names the variable.
	t.Setenv(EnvTokenURLOverride, "http://auth.example/oauth/token")
	_, err := New().Configure(t.Context(), e.options(map[string]any{"token_url": nil}))
	assertKind(t, err, sdk.KindBadConfig, EnvTokenURLOverride, "https")
}

// TestTwoInstancesOneRefresh runs two plugin instances on one auth.json, both holding the expired token
// when they go for the lock: the flock serialises them and the second re-reads instead of refreshing.
func TestTwoInstancesOneRefresh(t *testing.T) {
	e := newEnv(t, fakes.CodexAuthConfig{})
	_, oldRT := e.seedExpired(nil)
	a, b := e.source(nil), e.source(nil)
	var arrived sync.WaitGroup
	arrived.Add(2)
	barrier := func() { arrived.Done(); arrived.Wait() } // neither locks before both read the expired file
	atPoints(a, map[string]func(){pointBeforeLock: barrier})
	atPoints(b, map[string]func(){pointBeforeLock: barrier})

	var wg sync.WaitGroup
	toks := make([]sdk.Token, 2)
	errs := make([]error, 2)
	for i, src := range []*source{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			toks[i], errs[i] = src.Token(context.Background())
		}()
	}
	wg.Wait()
	for i := range errs {
		if errs[i] != nil {
			t.Fatalf("instance %d: %v", i, errs[i])
		}
	}
	if toks[0].Value != toks[1].Value || !e.idp.Valid(toks[0].Value) {
		t.Error("the instances returned different tokens, or an invalid one")
	}
	if e.idp.Requests() != 1 || e.idp.Refreshes() != 1 {
		t.Errorf("%d requests, %d refreshes; want exactly 1", e.idp.Requests(), e.idp.Refreshes())
	}
	if rt := e.tokens()["refresh_token"]; rt == oldRT || rt == "" {
		t.Error("auth.json does not hold the rotated refresh token")
	}
}

func TestConcurrentCallsShareOneRefresh(t *testing.T) {
	e := newEnv(t, fakes.CodexAuthConfig{})
	stale, _ := e.seedExpired(nil)
	src := e.source(nil)
	const n = 20
	var locked atomic.Int32
	var joined, done sync.WaitGroup
	joined.Add(n)
	atPoints(src, map[string]func(){pointLocked: func() { locked.Add(1) }, pointJoined: joined.Done})
	release := e.idp.Hold()
	toks := make([]sdk.Token, n)
	errs := make([]error, n)
	for i := range n {
		done.Add(1)
		go func() {
			defer done.Done()
			if i%2 == 0 {
				toks[i], errs[i] = src.Token(context.Background())
			} else {
				toks[i], errs[i] = src.Refresh(context.Background(), sdk.Token{Value: stale})
			}
		}()
	}
	joined.Wait() // every caller joined the refresh, which cannot finish while the endpoint is held
	release()
	done.Wait()
	for i := range n {
		if errs[i] != nil || toks[i].Value != toks[0].Value || toks[i].Value == stale {
			t.Fatalf("caller %d: err %v, same as first %v", i, errs[i], toks[i].Value == toks[0].Value)
		}
	}
	if locked.Load() != 1 || e.idp.Requests() != 1 {
		t.Errorf("%d locked refreshes, %d requests; want 1 and 1", locked.Load(), e.idp.Requests())
	}
}

func TestCallerCancelDoesNotLoseRefresh(t *testing.T) {
	e := newEnv(t, fakes.CodexAuthConfig{})
	e.seedExpired(nil)
	src := e.source(nil)
	release := e.idp.Hold()
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, err := src.Token(ctx)
		errc <- err
	}()
	if err := e.idp.WaitHeld(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Token returned %v", err)
	}
	release()
	// The refresh went on: the next caller joins it or reads its result, with no second request.
	tok, err := src.Token(t.Context())
	if err != nil || !e.idp.Valid(tok.Value) || e.idp.Requests() != 1 {
		t.Fatalf("after cancel: err %v, valid %v, %d requests", err, e.idp.Valid(tok.Value), e.idp.Requests())
	}
	if e.tokens()["access_token"] != tok.Value {
		t.Error("the refresh of the cancelled caller was not written back")
	}
}

// TestLockTimeout: another tokenhost process holding tokenhost's own lock for all of lock_timeout makes the
// refresh fail as Unavailable, naming that lock, before any request.
func TestLockTimeout(t *testing.T) {
	e := newEnv(t, fakes.CodexAuthConfig{})
	e.seedExpired(nil)
	own := e.path + ownLockSuffix
	other := flock.New(own)
	if err := other.Lock(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Unlock() })
	_, err := e.source(map[string]any{"lock_timeout": "50ms"}).Token(t.Context())
	assertKind(t, err, sdk.KindUnavailable, own, "lock_timeout")
	if e.idp.Requests() != 0 {
		t.Errorf("%d requests without the lock", e.idp.Requests())
	}
	if err := other.Unlock(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.source(nil).Token(t.Context()); err != nil || e.idp.Refreshes() != 1 {
		t.Errorf("after the lock was released: %v, %d refreshes", err, e.idp.Refreshes())
	}
}

func TestTokenBeforeConfigure(t *testing.T) {
	_, err := New().Token(t.Context())
	assertKind(t, err, sdk.KindInternal, "Configure")
}

// TestAgainstFakeBackend sends the plugin's token and headers to the fake Codex backend, through a revocation.
func TestAgainstFakeBackend(t *testing.T) {
	e := newEnv(t, fakes.CodexAuthConfig{})
	e.seedExpired(nil)
	up := fakes.NewCodexUpstream(e.idp.Valid, e.idp.AccountID())
	t.Cleanup(up.Close)
	src := e.source(nil)
	call := func(tok sdk.Token) int {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, up.URL()+"/responses", strings.NewReader(`{"model":"m","input":[]}`))
		req.Header.Set("Authorization", "Bearer "+tok.Value)
		for k, v := range tok.Headers {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	tok, err := src.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := call(tok); got != 200 {
		t.Fatalf("backend answered %d", got)
	}
	e.idp.RevokeAll()
	if got := call(tok); got != 401 {
		t.Fatalf("revoked token: backend answered %d", got)
	}
	tok, err = src.Refresh(t.Context(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if got := call(tok); got != 200 || up.Rejected() != 1 {
		t.Errorf("after Refresh: %d, %d rejected", got, up.Rejected())
	}
}
