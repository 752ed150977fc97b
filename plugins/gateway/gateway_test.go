package gateway

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/internal/fakes"
	"github.com/tokenhost/tokenhost/plugins/internal/flight"
	"github.com/tokenhost/tokenhost/sdk"
	"github.com/tokenhost/tokenhost/sdk/sdktest"
)

const (
	clientID     = "gateway-client"
	clientSecret = "gw-s3cret-Value+/=&%" // needs form-urlencoding in Basic credentials
)

func newIdP(t *testing.T) *fakes.OAuthServer {
	t.Helper()
	s := fakes.NewOAuthServer(fakes.OAuthConfig{ClientID: clientID, ClientSecret: clientSecret})
	t.Cleanup(s.Close)
	return s
}

func options(idp *fakes.OAuthServer, extra map[string]any) map[string]any {
	o := map[string]any{"token_url": idp.TokenURL(), "client_id": clientID, "client_secret": clientSecret}
	for k, v := range extra {
		if v == nil {
			delete(o, k)
			continue
		}
		o[k] = v
	}
	return o
}

func configure(t *testing.T, opts map[string]any) *source {
	t.Helper()
	src := New().(*source)
	if _, err := src.Configure(t.Context(), opts); err != nil {
		t.Fatalf("Configure: %s", sdk.RedactString(err.Error(), clientSecret))
	}
	return src
}

// assertNoSecret fails if msg holds the client secret; it never prints the secret.
func assertNoSecret(t *testing.T, msg string) {
	t.Helper()
	if strings.Contains(msg, clientSecret) {
		t.Errorf("message holds the client secret (%s)", sdk.Fingerprint(clientSecret))
	}
}

func TestConformance(t *testing.T) {
	for _, style := range []string{"basic", "post"} {
		t.Run(style, func(t *testing.T) {
			idp := newIdP(t)
			good := func(extra map[string]any) map[string]any {
				return options(idp, merge(map[string]any{"auth_style": style}, extra))
			}
			sdktest.Run(t, sdktest.Suite{
				New:     New,
				Options: good(nil),
				BadOptions: map[string]map[string]any{
					"empty":                 {},
					"missing token_url":     good(map[string]any{"token_url": nil}),
					"missing client_id":     good(map[string]any{"client_id": nil}),
					"missing client_secret": good(map[string]any{"client_secret": nil}),
					"unknown option":        good(map[string]any{"tokn_url": "x"}),
					"unsupported grant":     good(map[string]any{"grant": "password"}),
					"http non-loopback":     good(map[string]any{"token_url": "http://idp.example/oauth2/token"}),
					"ftp token_url":         good(map[string]any{"token_url": "ftp://idp.example/token"}),
					"credentials in url":    good(map[string]any{"token_url": "https://user:pw@idp.example/token"}),
					"bad auth_style":        good(map[string]any{"auth_style": "jwt"}),
					"bad timeout":           good(map[string]any{"timeout": "soon"}),
					"zero timeout":          good(map[string]any{"timeout": "0s"}),
					"scopes wrong type":     good(map[string]any{"scopes": 3.0}),
					"override secret":       good(map[string]any{"extra_params": map[string]any{"client_secret": "another-s3cret-value"}}),
					"override grant_type":   good(map[string]any{"extra_params": map[string]any{"grant_type": "password"}}),
					"override scope":        good(map[string]any{"extra_params": map[string]any{"scope": "x"}}),
					"audience twice":        good(map[string]any{"audience": "a", "extra_params": map[string]any{"audience": "b"}}),
					"secret wrong type":     good(map[string]any{"client_secret": []any{"list-s3cret-value"}}),
				},
			})
		})
	}
}

func merge(a, b map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func TestConfigureInfo(t *testing.T) {
	idp := newIdP(t)
	for style, want := range map[string]string{"": "client_credentials (basic)", "basic": "client_credentials (basic)",
		"post": "client_credentials (post)", "client_secret_post": "client_credentials (post)"} {
		opts := options(idp, nil)
		if style != "" {
			opts["auth_style"] = style
		}
		info, err := New().Configure(t.Context(), opts)
		if err != nil {
			t.Fatalf("auth_style %q: %v", style, err)
		}
		if info.Name != Name || info.Version != Version || info.Mode != want || info.Upstream != "" {
			t.Errorf("auth_style %q: Info %+v, want mode %q and no upstream", style, info, want)
		}
	}
	// check's MODE column: a public client reads as one, not as "(none)", which looks like "no sign-in".
	if got := (&clientAuth{method: authNone}).label(); got != "public client" {
		t.Errorf("a public client's label in the mode = %q, want public client", got)
	}
}

func TestBadConfigMessages(t *testing.T) {
	idp := newIdP(t)
	cases := []struct {
		name, key string
		extra     map[string]any
		want      []string
	}{
		{"unknown option suggests", "tokn_url", map[string]any{"tokn_url": "x"}, []string{`did you mean "token_url"?`}},
		{"unsupported grant lists", "grant", map[string]any{"grant": "password"}, []string{"password", "client_credentials"}},
		{"plain http elsewhere", "token_url", map[string]any{"token_url": "http://idp.example/oauth2/token"}, []string{"https", "loopback"}},
		{"reserved extra param", "extra_params.client_secret", map[string]any{"extra_params": map[string]any{"client_secret": "zzz-other-secret"}}, []string{"cannot override"}},
		{"scope via extra_params", "extra_params.scope", map[string]any{"extra_params": map[string]any{"scope": "a"}}, []string{"scopes option"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := New().Configure(t.Context(), options(idp, c.extra))
			var se *sdk.Error
			if !errors.As(err, &se) || se.Kind != sdk.KindBadConfig || se.Key != c.key {
				t.Fatalf("got %v, want BadConfig for key %q", err, c.key)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not mention %q", err.Error(), w)
				}
			}
			assertNoSecret(t, err.Error())
			if strings.Contains(err.Error(), "zzz-other-secret") {
				t.Error("message holds the extra_params secret value")
			}
		})
	}

	// Loopback hosts may use plain http.
	for _, u := range []string{"http://127.0.0.1:1/token", "http://localhost:1/token", "http://[::1]:1/token"} {
		if _, err := New().Configure(t.Context(), options(idp, map[string]any{"token_url": u})); err != nil {
			t.Errorf("token_url %s: %v", u, err)
		}
	}
}

func TestWrongSecret(t *testing.T) {
	idp := newIdP(t)
	for _, style := range []string{"basic", "post"} {
		t.Run(style, func(t *testing.T) {
			wrong := "wrong-" + clientSecret
			src := configure(t, options(idp, map[string]any{"auth_style": style, "client_secret": wrong}))
			_, err := src.Token(t.Context())
			if err == nil {
				t.Fatal("Token succeeded with a wrong secret")
			}
			msg := err.Error()
			if !sdk.IsKind(err, sdk.KindBadConfig) || !strings.Contains(msg, "invalid_client") || !strings.Contains(msg, "401") ||
				!strings.Contains(msg, "check client_id and client_secret") || !strings.Contains(msg, idp.TokenURL()) {
				t.Errorf("error %q (kind %s) should be BadConfig naming the endpoint, 401 invalid_client and the next step", msg, sdk.KindOf(err))
			}
			if strings.Contains(msg, wrong) {
				t.Errorf("message holds the configured secret (%s)", sdk.Fingerprint(wrong))
			}
			assertNoSecret(t, msg)
		})
	}
}

func TestAuthStyleOnTheWire(t *testing.T) {
	idp := newIdP(t)
	for _, style := range []string{"basic", "post"} {
		src := configure(t, options(idp, map[string]any{"auth_style": style}))
		if _, err := src.Token(t.Context()); err != nil {
			t.Fatalf("%s: %v", style, err)
		}
		if got := idp.LastAuthStyle(); got != style {
			t.Errorf("auth_style %s: the server saw %q", style, got)
		}
		form := idp.LastForm()
		if style == "post" && form.Get("client_id") != clientID {
			t.Errorf("post: client_id %q in the form, want %q", form.Get("client_id"), clientID)
		}
		if style == "basic" && form.Has("client_id") {
			t.Error("basic: client_id was also sent in the form")
		}
	}
}

func TestFormParameters(t *testing.T) {
	idp := newIdP(t)
	src := configure(t, options(idp, map[string]any{
		"scopes":       []any{"read", "write admin"},
		"audience":     "https://llm.corp.example",
		"extra_params": map[string]any{"resource": "urn:llm", "tenant": "t-1"},
	}))
	if _, err := src.Token(t.Context()); err != nil {
		t.Fatal(err)
	}
	f := idp.LastForm()
	for k, want := range map[string]string{
		"grant_type": "client_credentials", "scope": "read write admin", "audience": "https://llm.corp.example",
		"resource": "urn:llm", "tenant": "t-1",
	} {
		if got := f.Get(k); got != want {
			t.Errorf("form %s = %q, want %q", k, got, want)
		}
	}

	// A single string is a space-separated scope list too.
	src = configure(t, options(idp, map[string]any{"scopes": "a b"}))
	if _, err := src.Token(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := idp.LastForm().Get("scope"); got != "a b" {
		t.Errorf("scope %q, want %q", got, "a b")
	}
}

func TestTokenCachedAndExpiry(t *testing.T) {
	idp := newIdP(t)
	src := configure(t, options(idp, nil))
	before := time.Now()
	a, err := src.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if a.Type != "Bearer" || a.Expiry.Before(before.Add(59*time.Minute)) || a.Expiry.After(time.Now().Add(time.Hour+time.Second)) {
		t.Errorf("type %q expiry %s, want Bearer about an hour from now", a.Type, a.Expiry)
	}
	b, err := src.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if a.Value != b.Value || idp.Requests() != 1 {
		t.Errorf("second Token: same value %v, %d token requests; want the cached token and 1 request", a.Value == b.Value, idp.Requests())
	}

	// A token with no more than MinRemaining left is not served from the cache.
	idp.SetExpiresIn(MinRemaining)
	src = configure(t, options(idp, nil))
	if _, err := src.Token(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Token(t.Context()); err != nil {
		t.Fatal(err)
	}
	if idp.Requests() != 3 {
		t.Errorf("%d token requests, want 3: a token about to expire must be fetched again", idp.Requests())
	}
}

func TestRefresh(t *testing.T) {
	idp := newIdP(t)
	src := configure(t, options(idp, nil))
	a, err := src.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	issued := idp.Issued()
	b, err := src.Refresh(t.Context(), a)
	if err != nil {
		t.Fatal(err)
	}
	if b.Value == a.Value || b.Value == "" {
		t.Fatal("Refresh did not return a new token")
	}
	if got := idp.Issued() - issued; got != 1 {
		t.Errorf("Refresh issued %d tokens, want exactly 1", got)
	}
	if c, _ := src.Token(t.Context()); c.Value != b.Value {
		t.Error("Token after Refresh does not return the refreshed token")
	}

	// A second Refresh of the same stale token gets the newer cached token without a request.
	c, err := src.Refresh(t.Context(), a)
	if err != nil {
		t.Fatal(err)
	}
	if c.Value != b.Value || idp.Issued()-issued != 1 {
		t.Errorf("refreshing an already replaced token: same as cache %v, %d issued; want the cached token, 1 issued", c.Value == b.Value, idp.Issued()-issued)
	}

	// Concurrent refreshes of one stale token share one fetch.
	var wg sync.WaitGroup
	vals := make([]string, 20)
	errs := make([]error, 20)
	release := idp.Hold()
	joined := sync.WaitGroup{}
	joined.Add(len(vals))
	src.sf = flight.Observed(joined.Done)
	for i := range vals {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tk, err := src.Refresh(context.Background(), b)
			vals[i], errs[i] = tk.Value, err
		}()
	}
	joined.Wait()
	release()
	wg.Wait()
	src.sf = new(flight.Group)
	for i := range vals {
		if errs[i] != nil || vals[i] != vals[0] || vals[i] == b.Value {
			t.Fatalf("concurrent Refresh %d: err %v, same as first %v", i, errs[i], vals[i] == vals[0])
		}
	}
	if got := idp.Issued() - issued; got != 2 {
		t.Errorf("%d tokens issued in all, want 2", got)
	}
}

func TestConcurrentColdTokenOneRequest(t *testing.T) {
	idp := newIdP(t)
	src := configure(t, options(idp, nil))
	const n = 50
	release := idp.Hold()
	var joined, done sync.WaitGroup
	joined.Add(n)
	src.sf = flight.Observed(joined.Done) // joined runs once a caller has joined the in-flight fetch
	vals := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		done.Add(1)
		go func() {
			defer done.Done()
			tk, err := src.Token(context.Background())
			vals[i], errs[i] = tk.Value, err
		}()
	}
	// Every caller has joined the one fetch, which cannot finish while the endpoint is held.
	joined.Wait()
	release()
	done.Wait()
	for i := range n {
		if errs[i] != nil || vals[i] == "" || vals[i] != vals[0] {
			t.Fatalf("caller %d: err %v, empty %v, same as first %v", i, errs[i], vals[i] == "", vals[i] == vals[0])
		}
	}
	if idp.Requests() != 1 || idp.Issued() != 1 {
		t.Errorf("%d token requests, %d issued; want exactly 1", idp.Requests(), idp.Issued())
	}
}

func TestEndpointDown(t *testing.T) {
	idp := newIdP(t)
	idp.SetDown(true)
	src := configure(t, options(idp, nil))
	_, err := src.Token(t.Context())
	if !sdk.IsKind(err, sdk.KindUnavailable) {
		t.Fatalf("got %v (kind %s), want Unavailable", err, sdk.KindOf(err))
	}
	for _, w := range []string{"503", "text/html", "not a token response", idp.TokenURL()} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%q does not mention %q", err.Error(), w)
		}
	}
	if strings.Contains(err.Error(), "<html") || strings.Contains(err.Error(), "maintenance") {
		t.Errorf("message quotes the response body: %q", err.Error())
	}
	idp.SetDown(false)
	if _, err := src.Token(t.Context()); err != nil {
		t.Errorf("after recovery: %v", err)
	}
}

func TestEndpointAnswers(t *testing.T) {
	cases := []struct {
		name    string
		status  int
		ctype   string
		body    string
		kind    sdk.Kind
		key     string
		want    []string
		notWant []string
	}{
		{"200 without access_token", 200, "application/json", `{"token_type":"Bearer"}`, sdk.KindUnavailable, "", []string{"200", "without an access_token"}, nil},
		{"200 html", 200, "text/html", `<html>login</html>`, sdk.KindUnavailable, "", []string{"200", "text/html", "not a token response"}, []string{"login"}},
		{"invalid_scope", 400, "application/json", `{"error":"invalid_scope","error_description":"scope x unknown"}`, sdk.KindBadConfig, "scopes", []string{"400 invalid_scope: scope x unknown", "check scopes"}, nil},
		{"unauthorized_client", 400, "application/json", `{"error":"unauthorized_client"}`, sdk.KindBadConfig, "client_id", []string{"unauthorized_client"}, nil},
		{"echoed secret redacted", 401, "application/json", `{"error":"invalid_client","error_description":"bad secret ` + clientSecret + `"}`, sdk.KindBadConfig, "client_secret", []string{"invalid_client", sdk.Fingerprint(clientSecret)}, nil},
		{"long description truncated", 400, "application/json", `{"error":"invalid_request","error_description":"` + strings.Repeat("x", 500) + `"}`, sdk.KindBadConfig, "", []string{strings.Repeat("x", 200) + "…"}, []string{strings.Repeat("x", 201)}},
		{"server_error", 500, "application/json", `{"error":"server_error"}`, sdk.KindUnavailable, "", []string{"500 server_error"}, nil},
		{"429 plain", 429, "text/plain", `slow down`, sdk.KindUnavailable, "", []string{"429"}, nil},
		{"404", 404, "text/html", `<h1>nope</h1>`, sdk.KindBadConfig, "token_url", []string{"404", "check token_url"}, []string{"nope"}},
		{"redirect", 302, "text/html", ``, sdk.KindBadConfig, "token_url", []string{"302", "redirect"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if c.status == 302 {
					w.Header().Set("Location", "https://elsewhere.example/token")
				}
				w.Header().Set("Content-Type", c.ctype)
				w.WriteHeader(c.status)
				_, _ = w.Write([]byte(c.body))
			}))
			defer srv.Close()
			src := configure(t, map[string]any{"token_url": srv.URL + "/token", "client_id": clientID, "client_secret": clientSecret})
			_, err := src.Token(t.Context())
			var se *sdk.Error
			if !errors.As(err, &se) || se.Kind != c.kind || se.Key != c.key {
				t.Fatalf("got %v, want kind %s key %q", err, c.kind, c.key)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not mention %q", err.Error(), w)
				}
			}
			for _, w := range c.notWant {
				if strings.Contains(err.Error(), w) {
					t.Errorf("%q should not contain %q", err.Error(), w)
				}
			}
			assertNoSecret(t, err.Error())
		})
	}
}

func TestTimeoutAndRefused(t *testing.T) {
	idp := newIdP(t)
	release := idp.Hold()
	defer release()
	src := configure(t, options(idp, map[string]any{"timeout": "200ms"}))
	_, err := src.Token(t.Context())
	if !sdk.IsKind(err, sdk.KindUnavailable) || !strings.Contains(err.Error(), "did not answer within 200ms") {
		t.Errorf("held endpoint: got %v (kind %s), want Unavailable 'did not answer within 200ms'", err, sdk.KindOf(err))
	}

	// A port nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	src = configure(t, map[string]any{"token_url": "http://" + addr + "/token", "client_id": clientID, "client_secret": clientSecret})
	_, err = src.Token(t.Context())
	if !sdk.IsKind(err, sdk.KindUnavailable) || !strings.Contains(err.Error(), "could not be reached") {
		t.Errorf("refused: got %v (kind %s), want Unavailable 'could not be reached'", err, sdk.KindOf(err))
	}
}

func TestCancelWhileFetching(t *testing.T) {
	idp := newIdP(t)
	release := idp.Hold()
	defer release()
	src := configure(t, options(idp, nil))
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, err := src.Token(ctx)
		errc <- err
	}()
	wctx, wcancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer wcancel()
	if err := idp.WaitHeld(wctx, 1); err != nil {
		t.Fatalf("the token request never arrived: %v", err)
	}
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second): // hang guard
		t.Fatal("Token did not return after its context was cancelled")
	}

	// The detached fetch still completes and fills the cache for the next caller.
	release()
	if _, err := src.Token(t.Context()); err != nil {
		t.Fatal(err)
	}
	if idp.Issued() != 1 {
		t.Errorf("%d tokens issued, want 1 (the detached fetch's)", idp.Issued())
	}
}

func TestNotConfigured(t *testing.T) {
	if _, err := New().Token(t.Context()); err == nil {
		t.Error("Token before Configure succeeded")
	}
	if _, err := New().Refresh(t.Context(), sdk.Token{}); err == nil {
		t.Error("Refresh before Configure succeeded")
	}
}
