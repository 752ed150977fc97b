package tokenkit

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tokenhost/tokenhost/sdk"
)

// MaxAnswer bounds how much of a token endpoint's answer PostForm reads.
const MaxAnswer = 1 << 20

// Timeout bounds one request of PostForm's default client.
const Timeout = 30 * time.Second

// client is PostForm's default client: it follows no redirect, so a credential never goes to a host it
// was not meant for.
var client = &http.Client{
	Timeout:       Timeout,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// HTTPError is PostForm's error for an answer outside 2xx: the status, the RFC 6749 error code (when the
// answer carried a safe one), and the *sdk.Error of the kind Classify gives, which it unwraps to, so the
// host sees the right kind. Its text never quotes the answer beyond the code.
type HTTPError struct {
	Status int    // the HTTP status
	Code   string // the OAuth error code, or ""
	err    *sdk.Error
}

// Error describes the refusal and the next step.
func (e *HTTPError) Error() string { return e.err.Error() }

// Unwrap returns the *sdk.Error carrying the kind.
func (e *HTTPError) Unwrap() error { return e.err }

// PostForm posts form (application/x-www-form-urlencoded) to tokenURL with the extra header fields, and
// returns the body of a 2xx answer (at most MaxAnswer bytes). Failures are errors a plugin can return as
// they are: a network failure or timeout is sdk.Unavailable; an answer outside 2xx is an *HTTPError whose
// kind Classify decides. No message holds the form, a header value or the answer's body.
func PostForm(ctx context.Context, tokenURL string, form url.Values, header map[string]string) ([]byte, error) {
	where := Display(tokenURL)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, sdk.BadConfig("", "cannot send a request to %s: the token URL is not valid", where)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, sdk.Unavailable("token endpoint %s could not be reached or did not answer in time; try again later", where)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswer))
	if err != nil {
		return nil, sdk.Unavailable("token endpoint %s answered %d but the answer could not be read; try again later", where, resp.StatusCode)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return body, nil
	}
	code := ErrorCode(body)
	return nil, &HTTPError{Status: resp.StatusCode, Code: code, err: refusal(where, resp.StatusCode, code)}
}

// refusal words an error answer by its kind.
func refusal(where string, status int, code string) *sdk.Error {
	what := fmt.Sprint(status)
	if code != "" {
		what += " " + code
	}
	kind := Classify(status, code)
	next := map[sdk.Kind]string{
		sdk.KindReauthRequired: "the credential is no longer accepted; renew it",
		sdk.KindBadConfig:      "check the plugin's options (client id, secret, scopes)",
		sdk.KindUnavailable:    "try again later",
	}[kind]
	if next == "" {
		next = "check the token URL"
	}
	return &sdk.Error{Kind: kind, Message: fmt.Sprintf("token endpoint %s answered %s; %s", where, what, next)}
}

// Display returns scheme://host/path of a URL, the part that is safe to show: no user information, no
// query (which can carry secrets), no fragment.
func Display(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "the token endpoint"
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}
