package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tokenhost/tokenhost/plugins/internal/tokenhttp"
	"github.com/tokenhost/tokenhost/sdk"
	"github.com/tokenhost/tokenhost/sdk/tokenkit"
)

// maxBody bounds how much of an endpoint's answer is read.
const maxBody = 1 << 20

// tokenResponse is a token endpoint's successful answer, mapped through token_response.
type tokenResponse struct {
	access, tokenType, refresh string
	scope                      string // the scopes granted, when the answer names them
	expiry                     time.Time
}

// failure is an answer that is not a token: an RFC 6749 §5.2 error, another status, or a 2xx that
// carries no token. Its text never quotes the body.
type failure struct {
	status int
	ct     string
	code   string // the OAuth error code, when the answer carried a quotable one
	desc   string // error_description, cleaned and shortened
	what   string // for a 2xx: what was wrong with it
}

// Error names the status and the OAuth error code (or what was wrong with a 2xx).
func (f *failure) Error() string {
	if f.code != "" {
		return fmt.Sprintf("%d %s", f.status, f.code)
	}
	return fmt.Sprintf("%d %s", f.status, f.what)
}

// post sends form to endpoint (a URL the plugin resolved) with the client's authentication and returns
// the decoded JSON object of a 2xx answer, or a *failure.
func (c *config) post(ctx context.Context, endpoint string, form url.Values, auth bool) (map[string]any, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, nil)
	if err != nil {
		return nil, sdk.Internal("cannot build a request to %s: %s", tokenkit.Display(endpoint), tokenhttp.Clean(err.Error(), tokenhttp.MaxDescription, c.redact()))
	}
	if auth {
		if err := c.auth.apply(form, req, endpoint); err != nil {
			return nil, err
		}
	}
	body := form.Encode()
	req.Body = io.NopCloser(strings.NewReader(body))
	req.ContentLength = int64(len(body))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil }
	c.setTokenHeaders(req)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, c.netError(endpoint, err)
	}
	defer resp.Body.Close()
	data, err := tokenhttp.ReadBody(resp.Body, maxBody)
	ct := resp.Header.Get("Content-Type")
	if errors.Is(err, tokenhttp.ErrTooLarge) {
		return nil, &failure{status: resp.StatusCode, ct: ct, what: fmt.Sprintf("with an answer of more than %d bytes (1 MiB), far more than a token response", maxBody)}
	}
	if err != nil {
		return nil, c.netError(endpoint, err)
	}
	var doc map[string]any
	jsonErr := json.Unmarshal(data, &doc)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		f := &failure{status: resp.StatusCode, ct: ct, what: "with " + tokenhttp.DescribeType(ct) + ", not a token response"}
		if jsonErr == nil {
			code, _ := doc["error"].(string)
			f.code = tokenkit.SafeCode(code)
			if d, ok := doc["error_description"].(string); ok && f.code != "" {
				f.desc = tokenhttp.Clean(d, tokenhttp.MaxDescription, c.redact())
			}
		}
		return nil, f
	}
	if jsonErr != nil || doc == nil {
		if mt, _, _ := mime.ParseMediaType(ct); mt == "application/x-www-form-urlencoded" || mt == "text/plain" {
			if v, err := url.ParseQuery(string(data)); err == nil && v.Get("access_token") != "" {
				doc = map[string]any{}
				for k := range v {
					doc[k] = v.Get(k)
				}
				return doc, nil
			}
		}
		return nil, &failure{status: resp.StatusCode, ct: ct, what: "with " + tokenhttp.DescribeType(ct) + ", not a token response"}
	}
	return doc, nil
}

// netError describes a request that got no answer.
func (c *config) netError(endpoint string, err error) error {
	if rerr := c.reachError(endpoint, err); rerr != nil {
		return rerr
	}
	ep := tokenkit.Display(endpoint)
	if tokenhttp.IsTimeout(err) {
		return sdk.Unavailable("%s did not answer within %s; it may be overloaded or unreachable (raise timeout if it is just slow)", ep, c.timeout)
	}
	return sdk.Unavailable("%s could not be reached: %s; try again once it answers", ep, tokenhttp.Clean(tokenhttp.NetReason(err), tokenhttp.MaxDescription, c.redact()))
}

// token sends a token request and maps the answer through token_response.
func (c *config) token(ctx context.Context, form url.Values) (tokenResponse, error) {
	ep, err := c.endpoints.token(ctx, c)
	if err != nil {
		return tokenResponse{}, err
	}
	doc, err := c.post(ctx, ep, form, true)
	if err != nil {
		return tokenResponse{}, err
	}
	tr, err := c.mapping.parse(doc, time.Now())
	if err != nil {
		return tokenResponse{}, &failure{status: http.StatusOK, what: err.Error()}
	}
	if tokenhttp.HasControl(tr.access) {
		return tokenResponse{}, &failure{status: http.StatusOK, what: "with an access token holding control characters, which cannot be sent in a header"}
	}
	if len(tr.access) > sdk.MaxTokenBytes {
		return tokenResponse{}, &failure{status: http.StatusOK, what: fmt.Sprintf("with an access token of %d bytes, more than the %d a token may have", len(tr.access), sdk.MaxTokenBytes)}
	}
	return tr, nil
}

// mapping is the token_response option: where a non-standard endpoint puts the token and its expiry.
type mapping struct {
	tokenField  string // dotted path; default access_token
	expiryField string // dotted path; default expires_in
	format      string // seconds | unix | rfc3339
}

// Expiry formats of token_response.expiry_format.
const (
	expirySeconds = "seconds"
	expiryUnix    = "unix"
	expiryRFC3339 = "rfc3339"
)

// parse reads a token response document. Its errors quote no value from it.
func (m mapping) parse(doc map[string]any, now time.Time) (tokenResponse, error) {
	access, _ := lookup(doc, m.tokenField).(string)
	if access == "" {
		return tokenResponse{}, fmt.Errorf("without an %s", m.tokenField)
	}
	tr := tokenResponse{access: access}
	tr.tokenType, _ = doc["token_type"].(string)
	if tr.tokenType == "" || strings.EqualFold(tr.tokenType, "N_A") || strings.EqualFold(tr.tokenType, "bearer") {
		tr.tokenType = "Bearer"
	}
	tr.refresh, _ = doc["refresh_token"].(string)
	tr.scope, _ = doc["scope"].(string)
	exp, err := readExpiry(lookup(doc, m.expiryField), m.format, now)
	if err != nil {
		return tokenResponse{}, fmt.Errorf("with a %s that %s", m.expiryField, err)
	}
	tr.expiry = exp
	return tr, nil
}

// readExpiry turns an expiry value into a time: seconds from now, Unix seconds, or RFC 3339. A missing
// value is the zero time (unknown).
func readExpiry(v any, format string, now time.Time) (time.Time, error) {
	if v == nil {
		return time.Time{}, nil
	}
	var n float64
	switch t := v.(type) {
	case float64:
		n = t
	case string:
		if format == expiryRFC3339 {
			ts, err := time.Parse(time.RFC3339, t)
			if err != nil {
				return time.Time{}, fmt.Errorf("is not an RFC 3339 time")
			}
			return ts, nil
		}
		if _, err := fmt.Sscan(t, &n); err != nil {
			return time.Time{}, fmt.Errorf("is not a number")
		}
	default:
		return time.Time{}, fmt.Errorf("is not a number or a string")
	}
	switch format {
	case expiryUnix:
		return time.Unix(int64(n), 0), nil
	case expiryRFC3339:
		return time.Time{}, fmt.Errorf("is not an RFC 3339 time")
	}
	if n <= 0 {
		return time.Time{}, nil
	}
	return now.Add(time.Duration(n * float64(time.Second))), nil
}

// lookup follows a dotted path through nested JSON objects.
func lookup(doc map[string]any, path string) any {
	var cur any = doc
	for _, part := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
	}
	return cur
}

// decodeJSON decodes a 2xx JSON answer into v; its error is a phrase that quotes nothing from the body.
func decodeJSON(resp *http.Response, v any) error {
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("with %s", tokenhttp.DescribeType(resp.Header.Get("Content-Type")))
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(v); err != nil {
		return fmt.Errorf("with a body that is not the expected JSON")
	}
	return nil
}
