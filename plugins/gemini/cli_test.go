package gemini

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/internal/fakes"
	"github.com/tokenhost/tokenhost/sdk"
	"github.com/tokenhost/tokenhost/sdk/sdktest"
)

func TestConformance(t *testing.T) {
	isolate(t)
	g := newGoogle(t, fakes.GoogleTokenConfig{})
	path := credsPath(t)
	writeExpired(t, path, nil)
	good := func(extra map[string]any) map[string]any { return cliOptions(g, path, extra) }
	sdktest.Run(t, sdktest.Suite{
		New:     New,
		Options: good(nil),
		BadOptions: map[string]map[string]any{
			"unknown option":            good(map[string]any{"creds_fil": "x"}),
			"unknown source":            good(map[string]any{"source": "gemini"}),
			"http token_url":            good(map[string]any{"token_url": "http://oauth2.example/token"}),
			"credentials in token_url":  good(map[string]any{"token_url": "https://u:p@oauth2.example/token"}),
			"adc_file with gemini_cli":  good(map[string]any{"adc_file": "/tmp/adc.json"}),
			"empty client_secret":       good(map[string]any{"client_secret": ""}),
			"client_secret not string":  good(map[string]any{"client_secret": 42}),
			"zero lock_timeout":         good(map[string]any{"lock_timeout": "0s"}),
			"negative refresh_window":   good(map[string]any{"refresh_window": "-1m"}),
			"extra host not googleapis": good(map[string]any{"extra_hosts": []any{"llm.evil.example"}}),
			"extra host url":            good(map[string]any{"extra_hosts": []any{"https://x.googleapis.com/"}}),
			"extra host *.googleapis":   good(map[string]any{"extra_hosts": []any{"*.googleapis.com"}}),
			"quota project with slash":  good(map[string]any{"quota_project": "a/b"}),
			"static without token":      {"source": SourceStatic},
			"static token with newline": {"source": SourceStatic, "token": "ya29.static\nsecret-value"},
			"client_secret with static": {"source": SourceStatic, "token": "ya29.static-token-value", "client_secret": "another-secret-value"},
			"empty scopes":              {"source": SourceADC, "scopes": []any{}},
			"metadata_host with path":   {"source": SourceMetadata, "metadata_host": "127.0.0.1:1/x"},
			"token with gemini_cli":     good(map[string]any{"token": "ya29.some-static-token"}),
		},
	})
}

func TestRefreshExpiredFile(t *testing.T) {
	isolate(t)
	g := newGoogle(t, fakes.GoogleTokenConfig{})
	path := credsPath(t)
	unknown := map[string]any{"custom_field": map[string]any{"nested": []any{1.0, "two", nil}}, "account": "user@example.com"}
	old := writeExpired(t, path, unknown)
	src := configure(t, cliOptions(g, path, nil))

	before := time.Now()
	tok, err := src.Token(t.Context())
	if err != nil {
		t.Fatalf("Token: %s", sdk.RedactString(err.Error(), testClientSecret))
	}
	after := time.Now()
	if tok.Value == old || !g.Valid(tok.Value) {
		t.Fatalf("Token returned %s, want a fresh token from the endpoint", sdk.Fingerprint(tok.Value))
	}
	if n := g.Refreshes(); n != 1 {
		t.Fatalf("endpoint saw %d refreshes, want 1", n)
	}
	form := g.LastForm()
	for k, want := range map[string]string{"grant_type": "refresh_token", "client_id": testClientID, "client_secret": "[redacted]", "refresh_token": "[redacted]"} {
		if got := form.Get(k); got != want {
			t.Errorf("form %s = %q, want %q", k, got, want)
		}
	}
	if len(form) != 4 {
		t.Errorf("form has fields %v, want exactly grant_type, refresh_token, client_id, client_secret", reflect.ValueOf(form).MapKeys())
	}

	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, want 0600", st.Mode().Perm())
	}
	doc := readDoc(t, path)
	if got := str(t, doc["access_token"]); got != tok.Value {
		t.Errorf("file holds access token %s, want the new %s", sdk.Fingerprint(got), sdk.Fingerprint(tok.Value))
	}
	if got := str(t, doc["refresh_token"]); got != testRefresh {
		t.Errorf("file lost its refresh token (now %s)", sdk.Fingerprint(got))
	}
	raw := string(doc["expiry_date"])
	ms, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		t.Fatalf("expiry_date %s is not an integer number of milliseconds", raw)
	}
	lo, hi := before.Add(fakes.DefaultGoogleExpiresIn).UnixMilli()-1, after.Add(fakes.DefaultGoogleExpiresIn).UnixMilli()+1
	if ms < lo || ms > hi {
		t.Errorf("expiry_date %d, want within [%d, %d] (now + expires_in)", ms, lo, hi)
	}
	if tok.Expiry.UnixMilli() != ms {
		t.Errorf("token expiry %d ms, file says %d", tok.Expiry.UnixMilli(), ms)
	}
	if _, ok := doc["expires_in"]; ok {
		t.Error("file holds expires_in; the Gemini CLI stores expiry_date only")
	}
	for k, want := range unknown {
		var got any
		if err := json.Unmarshal(doc[k], &got); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("unknown field %s = %s, want %v", k, doc[k], want)
		}
	}
	for _, k := range []string{"scope", "token_type", "id_token"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("file lost field %s", k)
		}
	}

	// The refreshed file serves the next call without another request.
	reqs := g.Requests()
	again, err := src.Token(t.Context())
	if err != nil || again.Value != tok.Value {
		t.Fatalf("second Token: %v, same token: %v", err, again.Value == tok.Value)
	}
	if g.Requests() != reqs {
		t.Error("a fresh file still caused a token request")
	}
}

func TestRotatedRefreshTokenIsStored(t *testing.T) {
	isolate(t)
	g := newGoogle(t, fakes.GoogleTokenConfig{RotateRefreshTokens: true})
	path := credsPath(t)
	writeExpired(t, path, nil)
	src := configure(t, cliOptions(g, path, nil))
	if _, err := src.Token(t.Context()); err != nil {
		t.Fatalf("Token: %v", sdk.KindOf(err))
	}
	rt := str(t, readDoc(t, path)["refresh_token"])
	if rt == testRefresh || rt == "" {
		t.Fatal("a rotated refresh token was not stored")
	}
	// The old one is retired, so a second refresh works only with the stored one.
	tok, _ := src.Token(t.Context())
	if _, err := src.Refresh(t.Context(), tok); err != nil {
		t.Fatalf("Refresh with the rotated refresh token: %v", sdk.KindOf(err))
	}
}

func TestFractionalExpiry(t *testing.T) {
	isolate(t)
	g := newGoogle(t, fakes.GoogleTokenConfig{})

	t.Run("fresh", func(t *testing.T) {
		path := credsPath(t)
		ms := float64(time.Now().Add(time.Hour).UnixMilli()) + 0.375
		if err := fakes.WriteGeminiCreds(path, "ya29.fresh-token-value", testRefresh, time.Time{}, map[string]any{"expiry_date": ms}); err != nil {
			t.Fatal(err)
		}
		src := configure(t, cliOptions(g, path, nil))
		reqs := g.Requests()
		tok, err := src.Token(t.Context())
		if err != nil {
			t.Fatal(sdk.KindOf(err), err)
		}
		if tok.Value != "ya29.fresh-token-value" || g.Requests() != reqs {
			t.Fatal("a fresh token with a fractional expiry_date was not served from the file")
		}
		want := time.Unix(0, int64(math.Round(ms*1e6)))
		if d := tok.Expiry.Sub(want); d < -time.Microsecond || d > time.Microsecond {
			t.Errorf("expiry %s, want %s", tok.Expiry, want)
		}
	})
	t.Run("expired", func(t *testing.T) {
		path := credsPath(t)
		ms := float64(time.Now().Add(-time.Minute).UnixMilli()) + 0.5
		if err := fakes.WriteGeminiCreds(path, "ya29.old-token-value", testRefresh, time.Time{}, map[string]any{"expiry_date": ms}); err != nil {
			t.Fatal(err)
		}
		src := configure(t, cliOptions(g, path, nil))
		tok, err := src.Token(t.Context())
		if err != nil {
			t.Fatal(sdk.KindOf(err))
		}
		if tok.Value == "ya29.old-token-value" {
			t.Fatal("an expired token with a fractional expiry_date was served")
		}
		if raw := string(readDoc(t, path)["expiry_date"]); strings.ContainsAny(raw, ".eE") {
			t.Errorf("expiry_date written as %s, want integer milliseconds", raw)
		}
	})
}

func TestNoRefreshToken(t *testing.T) {
	isolate(t)
	g := newGoogle(t, fakes.GoogleTokenConfig{})
	path := credsPath(t)
	if err := fakes.WriteGeminiCreds(path, "ya29.expired-token-value", "", time.Now().Add(-time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	src := configure(t, cliOptions(g, path, nil))
	_, err := src.Token(t.Context())
	wantKind(t, err, sdk.KindReauthRequired)
	for _, want := range []string{path, "refresh_token", "gemini", "/auth"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if g.Requests() != 0 {
		t.Error("a file without a refresh token caused a token request")
	}
}

func TestFileProblems(t *testing.T) {
	isolate(t)
	g := newGoogle(t, fakes.GoogleTokenConfig{})
	secret := "ya29.secret-in-a-broken-file"
	cases := []struct {
		name    string
		content string // "" means no file
		kind    sdk.Kind
		want    string
	}{
		{"missing", "", sdk.KindReauthRequired, "does not exist"},
		{"not json", `{"access_token": "` + secret + `",`, sdk.KindInternal, "not valid JSON"},
		{"array", `["` + secret + `"]`, sdk.KindInternal, "not a JSON object"},
		{"bad expiry", `{"access_token": "` + secret + `", "expiry_date": "soon"}`, sdk.KindInternal, "expiry_date"},
		{"token not a string", `{"access_token": 12345678, "refresh_token": "` + secret + `"}`, sdk.KindInternal, "access_token"},
		{"no tokens", `{"scope": "x", "token_type": "Bearer"}`, sdk.KindReauthRequired, "neither"},
		{"adc file", `{"type": "authorized_user", "refresh_token": "` + secret + `"}`, sdk.KindInternal, "adc_file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := credsPath(t)
			if c.content != "" {
				if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(c.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			src := configure(t, cliOptions(g, path, nil))
			_, err := src.Token(t.Context())
			wantKind(t, err, c.kind)
			msg := err.Error()
			if !strings.Contains(msg, path) || !strings.Contains(msg, c.want) {
				t.Errorf("error %q does not name the file and %q", msg, c.want)
			}
			assertNoSecrets(t, msg, secret)
			if c.kind == sdk.KindReauthRequired && !strings.Contains(msg, "/auth") {
				t.Errorf("error %q does not give the next step", msg)
			}
		})
	}
}

func TestEndpointErrors(t *testing.T) {
	isolate(t)
	cases := []struct {
		name  string
		setup func(g *fakes.GoogleTokenServer)
		opts  map[string]any
		kind  sdk.Kind
		want  []string
	}{
		{"invalid_grant", func(g *fakes.GoogleTokenServer) { g.RevokeRefreshToken(testRefresh) }, nil,
			sdk.KindReauthRequired, []string{"invalid_grant", "gemini", "/auth"}},
		{"invalid_rapt", func(g *fakes.GoogleTokenServer) {
			g.SetError(http.StatusBadRequest, "invalid_rapt", "reauth related error (invalid_rapt)")
		}, nil, sdk.KindReauthRequired, []string{"invalid_rapt", "/auth"}},
		{"wrong client secret", nil, map[string]any{"client_secret": "GOCSPX-wrong-secret-value"},
			sdk.KindBadConfig, []string{"invalid_client", "client_secret"}},
		{"down (HTML 503)", func(g *fakes.GoogleTokenServer) { g.SetDown(true) }, nil,
			sdk.KindUnavailable, []string{"503", "text/html"}},
		{"server_error", func(g *fakes.GoogleTokenServer) { g.SetError(http.StatusInternalServerError, "server_error", "") }, nil,
			sdk.KindUnavailable, []string{"500", "try again"}},
		{"unreachable", func(g *fakes.GoogleTokenServer) { g.Close() }, nil,
			sdk.KindUnavailable, []string{"could not be reached"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := newGoogle(t, fakes.GoogleTokenConfig{})
			path := credsPath(t)
			old := writeExpired(t, path, nil)
			if c.setup != nil {
				c.setup(g)
			}
			src := configure(t, cliOptions(g, path, c.opts))
			before, _ := os.ReadFile(path)
			_, err := src.Token(t.Context())
			wantKind(t, err, c.kind)
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", sdk.RedactString(err.Error(), testClientSecret, testRefresh), w)
				}
			}
			assertNoSecrets(t, err.Error(), old, "GOCSPX-wrong-secret-value")
			if after, _ := os.ReadFile(path); string(after) != string(before) {
				t.Error("a failed refresh changed the file")
			}
			var se *sdk.Error
			if !errors.As(err, &se) {
				t.Error("error is not an *sdk.Error")
			}
		})
	}
}

func TestRefreshPrefersTokenOnDisk(t *testing.T) {
	isolate(t)
	g := newGoogle(t, fakes.GoogleTokenConfig{})
	path := credsPath(t)
	if err := fakes.WriteGeminiCreds(path, "ya29.newer-on-disk", testRefresh, time.Now().Add(time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	src := configure(t, cliOptions(g, path, nil))
	tok, err := src.Refresh(t.Context(), sdk.Token{Value: "ya29.the-rejected-one"})
	if err != nil || tok.Value != "ya29.newer-on-disk" {
		t.Fatalf("Refresh = %s, %v; want the newer token on disk", sdk.Fingerprint(tok.Value), err)
	}
	if g.Requests() != 0 {
		t.Fatal("Refresh reached the endpoint although the file already held a newer token")
	}
	// Rejecting the token on disk forces a real refresh.
	next, err := src.Refresh(t.Context(), tok)
	if err != nil {
		t.Fatal(sdk.KindOf(err))
	}
	if next.Value == tok.Value || g.Refreshes() != 1 {
		t.Fatalf("Refresh of the token on disk did not refresh (refreshes %d)", g.Refreshes())
	}
}

func TestConcurrentInstancesRefreshOnce(t *testing.T) {
	isolate(t)
	g := newGoogle(t, fakes.GoogleTokenConfig{})
	path := credsPath(t)
	writeExpired(t, path, nil)

	var mu sync.Mutex
	locking := 0
	lockingCh := make(chan struct{}, 2)
	srcs := []*source{configure(t, cliOptions(g, path, nil)), configure(t, cliOptions(g, path, nil))}
	for _, s := range srcs {
		s.probe.locking = func() {
			mu.Lock()
			locking++
			mu.Unlock()
			lockingCh <- struct{}{}
		}
	}
	release := g.Hold()
	defer release()

	type result struct {
		tok sdk.Token
		err error
	}
	results := make(chan result, len(srcs))
	for _, s := range srcs {
		go func() {
			tok, err := s.Token(t.Context())
			results <- result{tok, err}
		}()
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for range srcs {
		select {
		case <-lockingCh:
		case <-ctx.Done():
			t.Fatal("both instances did not reach the lock")
		}
	}
	if err := g.WaitHeld(ctx, 1); err != nil {
		t.Fatal("no refresh reached the endpoint")
	}
	release() // one instance holds the lock and a request; the other waits for the lock
	var toks []string
	for range srcs {
		r := <-results
		if r.err != nil {
			t.Fatalf("Token: %s: %v", sdk.KindOf(r.err), r.err)
		}
		toks = append(toks, r.tok.Value)
	}
	if n := g.Refreshes(); n != 1 {
		t.Fatalf("%d refreshes reached the endpoint, want 1", n)
	}
	if toks[0] != toks[1] {
		t.Fatal("the instances returned different tokens")
	}
}

func TestCrashBeforeRenameKeepsFile(t *testing.T) {
	isolate(t)
	g := newGoogle(t, fakes.GoogleTokenConfig{})
	path := credsPath(t)
	writeExpired(t, path, map[string]any{"keep": "me"})
	original, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	src := configure(t, cliOptions(g, path, nil))
	sawTemp := ""
	src.probe.beforeRename = func(tmp string) error {
		sawTemp = tmp
		if _, err := os.Stat(tmp); err != nil {
			t.Errorf("the temporary file is missing before the rename: %v", err)
		}
		return errors.New("simulated crash")
	}
	// The refresh succeeded at the endpoint, so the caller gets the new token even though it could not be
	// stored; it is served from memory until a write succeeds.
	first, err := src.Token(t.Context())
	if err != nil || !g.Valid(first.Value) {
		t.Fatalf("after a failed write-back: %v (valid %v)", err, err == nil && g.Valid(first.Value))
	}
	refreshes := g.Refreshes()
	if again, err := src.Token(t.Context()); err != nil || again.Value != first.Value || g.Refreshes() != refreshes {
		t.Fatalf("the unsaved sign-in was not served from memory: %v", err)
	}
	if sawTemp == "" || filepath.Dir(sawTemp) != filepath.Dir(path) {
		t.Fatalf("the temporary file %q is not in the file's directory", sawTemp)
	}
	after, err := os.ReadFile(path)
	if err != nil || string(after) != string(original) {
		t.Fatal("the crash changed oauth_creds.json")
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if n := e.Name(); n != filepath.Base(path) && n != filepath.Base(path)+".lock" {
			t.Errorf("left behind %s", n)
		}
	}

	// Without the crash, the next call writes the unsaved sign-in, other fields kept.
	src.probe.beforeRename = nil
	tok, err := src.Token(t.Context())
	if err != nil {
		t.Fatal(sdk.KindOf(err))
	}
	doc := readDoc(t, path)
	if got := str(t, doc["access_token"]); got != tok.Value || tok.Value != first.Value {
		t.Fatal("the file was not updated with the unsaved sign-in after recovery")
	}
	if str(t, doc["keep"]) != "me" {
		t.Fatal("an unknown field was lost on the delayed write")
	}
}

// An unsaved sign-in never overwrites an oauth_creds.json another program rewrote meanwhile.
func TestUnsavedSignInYieldsToANewerFile(t *testing.T) {
	isolate(t)
	g := newGoogle(t, fakes.GoogleTokenConfig{})
	path := credsPath(t)
	writeExpired(t, path, nil)
	src := configure(t, cliOptions(g, path, nil))
	src.probe.beforeRename = func(string) error { return errors.New("read-only file system") }
	if _, err := src.Token(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The user signs in again in the Gemini CLI, which writes a fresh file.
	const fresh = "ya29.fresh-sign-in-0123456789"
	if err := fakes.WriteGeminiCreds(path, fresh, "1//fresh-refresh", time.Now().Add(time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	src.probe.beforeRename = nil
	tok, err := src.Token(t.Context())
	if err != nil || tok.Value != fresh {
		t.Fatalf("got %v, want the new sign-in's token", err)
	}
	if str(t, readDoc(t, path)["refresh_token"]) != "1//fresh-refresh" {
		t.Fatal("the unsaved sign-in overwrote the newer file")
	}
}

func TestRefreshHoldsLockAcrossWrite(t *testing.T) {
	isolate(t)
	g := newGoogle(t, fakes.GoogleTokenConfig{})
	path := credsPath(t)
	writeExpired(t, path, nil)
	src := configure(t, cliOptions(g, path, map[string]any{"lock_timeout": "200ms"}))
	other := configure(t, cliOptions(g, path, map[string]any{"lock_timeout": "200ms"}))
	// While src is between write and rename, its lock must still be held: other times out on it.
	src.probe.beforeRename = func(string) error {
		_, err := other.Refresh(t.Context(), sdk.Token{Value: "ya29.whatever"})
		if sdk.KindOf(err) != sdk.KindUnavailable || !strings.Contains(err.Error(), "lock") {
			t.Errorf("a second instance was not kept out by the lock: %v", err)
		}
		return nil
	}
	if _, err := src.Token(t.Context()); err != nil {
		t.Fatal(sdk.KindOf(err), err)
	}
}

func TestGeminiCLIHome(t *testing.T) {
	isolate(t)
	home := t.TempDir()
	t.Setenv(envGeminiHome, home)
	path := filepath.Join(home, ".gemini", "oauth_creds.json")
	if err := fakes.WriteGeminiCreds(path, "ya29.cli-home-token", testRefresh, time.Now().Add(time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	src := New()
	info, err := src.Configure(t.Context(), map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(info.Mode, "gemini cli") || !strings.Contains(info.Mode, path) {
		t.Errorf("Mode %q, want the gemini cli source on %s", info.Mode, path)
	}
	tok, err := src.Token(t.Context())
	if err != nil || tok.Value != "ya29.cli-home-token" {
		t.Fatalf("Token from $GEMINI_CLI_HOME/.gemini/oauth_creds.json: %v", err)
	}
}

func TestEndpointDownServesUnexpiredToken(t *testing.T) {
	isolate(t)
	g := newGoogle(t, fakes.GoogleTokenConfig{})
	g.SetDown(true)
	path := credsPath(t)
	// Due for refresh (inside the 5m window) but not expired.
	if err := fakes.WriteGeminiCreds(path, "ya29.still-valid-token", testRefresh, time.Now().Add(2*time.Minute), nil); err != nil {
		t.Fatal(err)
	}
	src := configure(t, cliOptions(g, path, nil))
	tok, err := src.Token(t.Context())
	if err != nil || tok.Value != "ya29.still-valid-token" {
		t.Fatalf("Token while the endpoint is down = %s, %v; want the unexpired stored token", sdk.Fingerprint(tok.Value), err)
	}
	if g.Requests() != 1 {
		t.Errorf("%d token requests, want 1 (the failed refresh)", g.Requests())
	}
	// Refresh of that token must not pretend: the endpoint is down.
	_, err = src.Refresh(t.Context(), tok)
	wantKind(t, err, sdk.KindUnavailable)
}

func TestSymlinkedFileStaysSymlink(t *testing.T) {
	isolate(t)
	g := newGoogle(t, fakes.GoogleTokenConfig{})
	target := credsPath(t)
	writeExpired(t, target, nil)
	link := filepath.Join(t.TempDir(), "oauth_creds.json")
	if err := os.Symlink(target, link); err != nil {
		t.Skip("symlinks not available:", err)
	}
	src := configure(t, cliOptions(g, link, nil))
	tok, err := src.Token(t.Context())
	if err != nil {
		t.Fatal(sdk.KindOf(err))
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatal("the refresh replaced the symlink with a file")
	}
	if got := str(t, readDoc(t, target)["access_token"]); got != tok.Value {
		t.Fatal("the symlink's target was not updated")
	}
}
