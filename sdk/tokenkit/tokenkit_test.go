package tokenkit_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/tokenhost/tokenhost/internal/fakes"
	"github.com/tokenhost/tokenhost/sdk"
	"github.com/tokenhost/tokenhost/sdk/sdktest"
	"github.com/tokenhost/tokenhost/sdk/tokenkit"
)

const secret = "tokenkit-client-secret-value"

// answering starts an endpoint that answers status with body, and records the last form and header.
func answering(t *testing.T, status int, body string) (url string, last *http.Request) {
	t.Helper()
	last = &http.Request{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		*last = *r
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/token?audience=secret-query", last
}

func TestPostForm(t *testing.T) {
	u, last := answering(t, 200, `{"jwt":"abc"}`)
	body, err := tokenkit.PostForm(t.Context(), u, url.Values{"client_secret": {secret}}, map[string]string{"X-Tenant": "t1"})
	if err != nil || string(body) != `{"jwt":"abc"}` {
		t.Fatalf("PostForm: %q, %v", body, err)
	}
	if last.PostForm.Get("client_secret") != secret || last.Header.Get("X-Tenant") != "t1" ||
		last.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		t.Errorf("the request did not carry the form and header")
	}

	cases := []struct {
		status int
		body   string
		kind   sdk.Kind
		code   string
	}{
		{401, `{"error":"invalid_grant","error_description":"BODYMARK ` + secret + `"}`, sdk.KindReauthRequired, "invalid_grant"},
		{400, `{"error":"invalid_client"}`, sdk.KindBadConfig, "invalid_client"},
		{503, `<html>BODYMARK</html>`, sdk.KindUnavailable, ""},
		{404, `BODYMARK`, sdk.KindInternal, ""},
		{400, `{"error":"` + secret + ` BODYMARK"}`, sdk.KindInternal, ""}, // not a code: never quoted
	}
	for _, c := range cases {
		u, _ := answering(t, c.status, c.body)
		_, err := tokenkit.PostForm(t.Context(), u, url.Values{"client_secret": {secret}}, nil)
		var he *tokenkit.HTTPError
		if !errors.As(err, &he) || he.Status != c.status || he.Code != c.code || sdk.KindOf(err) != c.kind {
			t.Errorf("%d %s: got %v (kind %s), want kind %s code %q", c.status, c.body, err, sdk.KindOf(err), c.kind, c.code)
			continue
		}
		for _, leak := range []string{"BODYMARK", secret, "secret-query"} {
			if strings.Contains(err.Error(), leak) {
				t.Errorf("%d: the message quotes %q: %s", c.status, leak, err)
			}
		}
	}

	_, err = tokenkit.PostForm(t.Context(), "http://127.0.0.1:1/token", nil, nil)
	if !sdk.IsKind(err, sdk.KindUnavailable) {
		t.Errorf("unreachable endpoint: %v, want Unavailable", err)
	}
}

// A redirect is an answer, not something to follow: the form (with its secret) goes nowhere else.
func TestPostFormFollowsNoRedirect(t *testing.T) {
	other, _ := answering(t, 200, `{}`)
	srv := httptest.NewServer(http.RedirectHandler(other, http.StatusTemporaryRedirect))
	t.Cleanup(srv.Close)
	if _, err := tokenkit.PostForm(t.Context(), srv.URL, url.Values{"client_secret": {secret}}, nil); err == nil {
		t.Fatal("a redirect was followed")
	}
}

// clientCredentials is a plugin in four lines: x/oauth2's client-credentials source, served as is.
func clientCredentials() sdk.Source {
	return tokenkit.FromTokenSource(sdk.Info{Name: "cc", Version: "1"}, func(ctx context.Context, o sdk.Options) (oauth2.TokenSource, error) {
		if err := o.Unknown("token_url", "client_id", "client_secret"); err != nil {
			return nil, err
		}
		tokenURL, _ := o.String("token_url", "")
		id, _ := o.String("client_id", "")
		sec, _ := o.String("client_secret", "")
		if tokenURL == "" {
			return nil, sdk.BadConfig("token_url", "is required")
		}
		return (&clientcredentials.Config{TokenURL: tokenURL, ClientID: id, ClientSecret: sec}).TokenSource(ctx), nil
	})
}

func TestFromTokenSourceConformance(t *testing.T) {
	idp := fakes.NewOAuthServer(fakes.OAuthConfig{ClientID: "app", ClientSecret: secret})
	t.Cleanup(idp.Close)
	sdktest.Run(t, sdktest.Suite{
		New:     clientCredentials,
		Options: map[string]any{"token_url": idp.TokenURL(), "client_id": "app", "client_secret": secret},
		BadOptions: map[string]map[string]any{
			"unknown option":    {"token_url": idp.TokenURL(), "client_id": "app", "client_secret": secret, "tokn_url": "x"},
			"missing token_url": {"client_id": "app", "client_secret": secret},
		},
	})
}

func TestFromTokenSourceErrors(t *testing.T) {
	idp := fakes.NewOAuthServer(fakes.OAuthConfig{ClientID: "app", ClientSecret: secret})
	t.Cleanup(idp.Close)
	src := clientCredentials()
	if _, err := src.Configure(t.Context(), map[string]any{"token_url": idp.TokenURL(), "client_id": "app", "client_secret": "wrong-secret-value"}); err != nil {
		t.Fatal(err)
	}
	_, err := src.Token(t.Context())
	if !sdk.IsKind(err, sdk.KindBadConfig) || strings.Contains(err.Error(), "wrong-secret-value") {
		t.Errorf("a wrong secret: %v (kind %s), want BadConfig (invalid_client) without the secret", err, sdk.KindOf(err))
	}
	idp.SetDown(true)
	if _, err := src.Refresh(t.Context(), sdk.Token{Value: "x"}); !sdk.IsKind(err, sdk.KindUnavailable) {
		t.Errorf("endpoint down: %v, want Unavailable", err)
	}
}
