package codex

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/tokenhost/tokenhost/plugins/internal/tokenhttp"
	"github.com/tokenhost/tokenhost/sdk"
	"github.com/tokenhost/tokenhost/sdk/tokenkit"
)

// maxResponse bounds how much of a token endpoint's answer is read.
const maxResponse = 1 << 20

// Error codes of the token endpoint that mean the refresh token is dead for good.
const (
	codeExpired     = "refresh_token_expired"
	codeReused      = "refresh_token_reused"
	codeInvalidated = "refresh_token_invalidated"
)

// codeInvalidGrant is RFC 6749's code for a refresh token the endpoint refused; like codeReused it may mean
// another program redeemed the token first.
const codeInvalidGrant = "invalid_grant"

// refreshRequest is the JSON body the Codex CLI sends to refresh.
type refreshRequest struct {
	ClientID     string `json:"client_id"`
	GrantType    string `json:"grant_type"`
	RefreshToken string `json:"refresh_token"`
}

// refreshResponse is a successful answer; every field is optional.
type refreshResponse struct {
	IDToken      *string `json:"id_token"`
	AccessToken  *string `json:"access_token"`
	RefreshToken *string `json:"refresh_token"`
}

// requestRefresh trades refreshToken for new tokens at the token endpoint. On failure it returns the
// endpoint's error code (when it sent one) beside an sdk error that never holds a token or the response
// body. path is the auth file, named in messages that tell the user to sign in again.
func (c *config) requestRefresh(ctx context.Context, path, refreshToken string) (tokenUpdate, string, error) {
	body, err := json.Marshal(refreshRequest{ClientID: c.clientID, GrantType: "refresh_token", RefreshToken: refreshToken})
	if err != nil {
		return tokenUpdate{}, "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.tokenURL, bytes.NewReader(body))
	if err != nil {
		return tokenUpdate{}, "", sdk.Internal("cannot build a request to %s", c.endpoint)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "tokenhost-codex/"+Version)

	resp, err := c.client.Do(req)
	if err != nil {
		if tokenhttp.IsTimeout(err) {
			return tokenUpdate{}, "", sdk.Unavailable("token endpoint %s did not answer within %s; try again later (raise timeout if it is just slow)", c.endpoint, c.timeout)
		}
		if errors.Is(err, context.Canceled) {
			return tokenUpdate{}, "", err
		}
		return tokenUpdate{}, "", sdk.Unavailable("token endpoint %s could not be reached (%s); try again later", c.endpoint, tokenhttp.NetReason(err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return tokenUpdate{}, "", sdk.Unavailable("token endpoint %s answered %d but the answer could not be read; try again later", c.endpoint, resp.StatusCode)
	}
	ct := resp.Header.Get("Content-Type")

	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		var r refreshResponse
		if err := json.Unmarshal(raw, &r); err != nil || bytes.TrimSpace(raw)[0] != '{' {
			return tokenUpdate{}, "", sdk.Unavailable("token endpoint %s answered %d with %s, not a token response; try again later", c.endpoint, resp.StatusCode, tokenhttp.DescribeType(ct))
		}
		u := tokenUpdate{idToken: deref(r.IDToken), accessToken: deref(r.AccessToken), refreshToken: deref(r.RefreshToken)}
		for _, v := range []string{u.idToken, u.accessToken, u.refreshToken} {
			if tokenhttp.HasControl(v) {
				return tokenUpdate{}, "", sdk.Unavailable("token endpoint %s returned a token with control characters; try again later", c.endpoint)
			}
		}
		return u, "", nil
	}

	code := errorCode(raw)
	if code != "" && sdk.RedactString(code, refreshToken) != code {
		code = "" // an endpoint that echoes the refresh token as a code
	}
	return tokenUpdate{}, code, c.classify(path, resp.StatusCode, code, ct)
}

// classify maps a failed refresh to an error kind and a next step.
func (c *config) classify(path string, status int, code, ct string) error {
	what := fmt.Sprintf("%d", status)
	if code != "" {
		what += " " + code
	} else {
		what += " with " + tokenhttp.DescribeType(ct)
	}
	reauth := func(why string) error {
		return sdk.ReauthRequired("the ChatGPT sign-in in %s can no longer be refreshed: %s (token endpoint %s answered %s); sign in again with `codex login`", path, why, c.endpoint, what)
	}
	switch code { // the ChatGPT token endpoint's own codes for a dead refresh token
	case codeExpired:
		return reauth("the refresh token has expired")
	case codeReused:
		return reauth("the refresh token was already used, and no other program has stored a newer one")
	case codeInvalidated:
		return reauth("the refresh token was revoked")
	}
	kind := tokenkit.Classify(status, code)
	if status == http.StatusUnauthorized && kind != sdk.KindBadConfig {
		kind = sdk.KindReauthRequired // the endpoint answers 401 to a refresh token it no longer takes, whatever the code
	}
	switch {
	case code == "invalid_client" || code == "unauthorized_client":
		return sdk.BadConfig("client_id", "token endpoint %s rejected the client (%s); leave client_id out to use the Codex CLI's client %s", c.endpoint, what, DefaultClientID)
	case kind == sdk.KindReauthRequired:
		return reauth("the token endpoint refused the refresh token")
	case kind == sdk.KindUnavailable:
		return sdk.Unavailable("token endpoint %s is failing (%s); try again later", c.endpoint, what)
	case kind == sdk.KindBadConfig:
		return sdk.BadConfig("", "token endpoint %s refused the refresh (%s); check token_url and client_id", c.endpoint, what)
	}
	return sdk.Internal("token endpoint %s refused the refresh (%s); check token_url and client_id", c.endpoint, what)
}

// errorCode reads an error code from error.code, or error as a string, or a top-level code; it returns ""
// when there is none or it does not look like a code (so nothing else of the body is ever quoted).
func errorCode(body []byte) string {
	var r struct {
		Error json.RawMessage `json:"error"`
		Code  any             `json:"code"`
	}
	if json.Unmarshal(body, &r) != nil {
		return ""
	}
	var code string
	var s string
	var obj struct {
		Code any `json:"code"`
	}
	switch {
	case len(r.Error) > 0 && json.Unmarshal(r.Error, &obj) == nil && isString(obj.Code):
		code = obj.Code.(string)
	case len(r.Error) > 0 && json.Unmarshal(r.Error, &s) == nil:
		code = s
	case isString(r.Code):
		code = r.Code.(string)
	}
	return tokenkit.SafeCode(code)
}

func isString(v any) bool { _, ok := v.(string); return ok }

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
