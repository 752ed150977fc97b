// Package tokenkit holds what most tokenhost plugins do, so a small plugin stays small: post a form to a
// token endpoint and read its answer with errors of the right kind (PostForm), classify an OAuth error
// answer (Classify), and serve any golang.org/x/oauth2 TokenSource as a plugin (FromTokenSource). The
// built-in plugins use the same classification.
package tokenkit

import (
	"encoding/json"
	"net/http"

	"github.com/tokenhost/tokenhost/sdk"
)

// Classify returns the kind of a token endpoint's error answer from its HTTP status and its error code
// (RFC 6749 §5.2; "" when the answer carried none). The code decides when it is one of the standard ones:
//
//   - invalid_grant: KindReauthRequired — the grant (a refresh token, a sign-in, an assertion) is no longer
//     accepted, and only signing in again or a new credential helps;
//   - invalid_request, invalid_client, unauthorized_client, unsupported_grant_type, invalid_scope,
//     access_denied, invalid_target (RFC 8707): KindBadConfig — the request as configured is refused;
//   - temporarily_unavailable, server_error: KindUnavailable.
//
// Any other code, or none, is KindUnavailable when the status is transient (5xx, 408, 429) and otherwise
// KindInternal, the one fallback: a refusal the plugin cannot explain. A plugin handles its provider's own
// codes (and any code it must read differently, such as invalid_grant in a grant without a user) before
// calling Classify, and picks the option to blame and the next step for the kind it returns.
func Classify(status int, code string) sdk.Kind {
	switch code {
	case "invalid_grant":
		return sdk.KindReauthRequired
	case "invalid_request", "invalid_client", "unauthorized_client", "unsupported_grant_type", "invalid_scope",
		"access_denied", "invalid_target":
		return sdk.KindBadConfig
	case "temporarily_unavailable", "server_error":
		return sdk.KindUnavailable
	}
	if Transient(status) {
		return sdk.KindUnavailable
	}
	return sdk.KindInternal
}

// Transient reports whether an HTTP status says "try again later": 5xx, 408 and 429.
func Transient(status int) bool {
	return status >= 500 || status == http.StatusTooManyRequests || status == http.StatusRequestTimeout
}

// SafeCode returns code when it looks like an error code (1 to 64 letters, digits and _ . : -) and so can
// be quoted in a message, else "": an endpoint's error field is never quoted when it could hold anything
// else.
func SafeCode(code string) string {
	if len(code) == 0 || len(code) > 64 {
		return ""
	}
	for _, r := range code {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == ':' || r == '-'
		if !ok {
			return ""
		}
	}
	return code
}

// ErrorCode returns the RFC 6749 error code of a JSON error answer ({"error": "invalid_grant", …}), or ""
// when there is none or it does not look like a code; nothing else of the body is ever returned.
func ErrorCode(body []byte) string {
	var answer struct {
		Error any `json:"error"`
	}
	if json.Unmarshal(body, &answer) != nil {
		return ""
	}
	code, _ := answer.Error.(string)
	return SafeCode(code)
}
