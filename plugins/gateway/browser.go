package gateway

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/tokenhost/tokenhost/sdk"
	"github.com/tokenhost/tokenhost/sdk/tokenkit"
)

// callbackPath is the path of the loopback redirect URI.
const callbackPath = "/callback"

// callback is what the browser brought back to the loopback redirect.
type callback struct {
	code, errCode string
}

// browserLogin runs the authorization code grant with PKCE (S256) and an RFC 8252 loopback redirect to
// 127.0.0.1 on a random port: it shows the authorization URL (the host opens it), waits for the redirect,
// checks state, closes the port, and redeems the code.
func (s *source) browserLogin(ctx context.Context, c *config, ui sdk.UI) (tokenResponse, error) {
	authURL, err := c.endpoints.authorize(ctx, c)
	if err != nil {
		return tokenResponse{}, err
	}
	tokenURL, err := c.endpoints.token(ctx, c)
	if err != nil {
		return tokenResponse{}, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return tokenResponse{}, sdk.Internal("cannot listen on 127.0.0.1 for the sign-in's redirect: %v", err)
	}
	redirect := "http://" + ln.Addr().String() + callbackPath
	state := randomString()
	verifier := oauth2.GenerateVerifier()
	oc := &oauth2.Config{ClientID: c.auth.id, Endpoint: oauth2.Endpoint{AuthURL: authURL, TokenURL: tokenURL}, RedirectURL: redirect, Scopes: c.scopes}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}
	for k := range c.params {
		opts = append(opts, oauth2.SetAuthURLParam(k, c.params.Get(k)))
	}
	link := oc.AuthCodeURL(state, opts...)

	got := make(chan callback, 1)
	srv := &http.Server{Handler: callbackHandler(state, got), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	if err := ui.Show(ctx, sdk.Prompt{Message: "Sign in at this page in a browser on this machine; it returns to " + redirect + " when you are done.", URL: link, Open: true}); err != nil {
		return tokenResponse{}, err
	}
	var cb callback
	select {
	case <-ctx.Done():
		return tokenResponse{}, ctx.Err()
	case cb = <-got:
	}
	// The redirect with the right state ends the listening: the port accepts nothing more, and the
	// request that brought the code still gets its page.
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	_ = srv.Shutdown(sctx)
	cancel()
	if cb.errCode != "" {
		if cb.errCode == "access_denied" {
			return tokenResponse{}, sdk.ReauthRequired("the sign-in was denied at the identity provider; run `tokenhost login` again to retry")
		}
		return tokenResponse{}, sdk.BadConfig("authorization_url", "the identity provider ended the sign-in with %s; check client_id, scopes and the client's redirect URIs (http://127.0.0.1 with any port)", cb.errCode)
	}
	f := url.Values{"grant_type": {"authorization_code"}, "code": {cb.code}, "redirect_uri": {redirect}, "code_verifier": {verifier}}
	if r := c.params.Get("resource"); r != "" {
		f.Set("resource", r) // RFC 8707: on the token request too
	}
	return c.hiding(cb.code, verifier).request(ctx, f)
}

// callbackHandler answers the loopback redirect: a request with the right state delivers its code (or
// error) once; anything else gets a 400 and is ignored.
func callbackHandler(state string, got chan<- callback) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != callbackPath {
			http.NotFound(w, r)
			return
		}
		q := r.URL.Query()
		if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1 {
			http.Error(w, "This sign-in link does not belong to the running `tokenhost login` (state mismatch).", http.StatusBadRequest)
			return
		}
		cb := callback{code: q.Get("code"), errCode: tokenkit.SafeCode(q.Get("error"))}
		if cb.code == "" && cb.errCode == "" {
			http.Error(w, "The redirect carries neither a code nor an error.", http.StatusBadRequest)
			return
		}
		select {
		case got <- cb:
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			if cb.errCode != "" {
				fmt.Fprintln(w, "Sign-in failed; see the terminal.")
				return
			}
			fmt.Fprintln(w, "Signed in. You can close this page and return to the terminal.")
		default:
			http.Error(w, "This sign-in was already completed.", http.StatusConflict)
		}
	})
}

// randomString returns 32 random bytes, base64url encoded.
func randomString() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// errNoLogin is Login's error for a grant that has no interactive sign-in.
func errNoLogin(grant string) error {
	return sdk.BadConfig("grant", "grant %s has no interactive sign-in; `tokenhost login` works with grant device_code, authorization_code or refresh_token (see docs/providers/gateway.md)", grant)
}

// isNotFound reports whether err says an endpoint is not configured or published.
func isNotFound(err error) bool {
	var se *sdk.Error
	return errors.As(err, &se) && se.Kind == sdk.KindBadConfig && strings.HasSuffix(se.Key, "_url")
}
