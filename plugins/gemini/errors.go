package gemini

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/tokenhost/tokenhost/plugins/internal/tokenhttp"
	"github.com/tokenhost/tokenhost/sdk"
	"github.com/tokenhost/tokenhost/sdk/tokenkit"
)

// Next steps, by kind of credential, for errors only signing in again fixes.
const (
	nextGeminiCLI      = "sign in again with the Gemini CLI: run `gemini` and choose /auth (Login with Google)"
	nextADCUser        = "run `gcloud auth application-default login` to sign in again"
	nextADCMissing     = "run `gcloud auth application-default login`, set GOOGLE_APPLICATION_CREDENTIALS or adc_file to a credentials file, or use source metadata on Google Cloud"
	nextServiceAccount = "the service account or its key may have been deleted or disabled, or this machine's clock is off: check the clock, or create a new key (`gcloud iam service-accounts keys create`) and point adc_file or GOOGLE_APPLICATION_CREDENTIALS at it"
)

// endpoint describes the token endpoint of one request, for error messages.
type endpoint struct {
	display   string   // scheme://host/path, safe to show
	next      string   // what the user does when the grant is refused
	clientKey string   // option blamed for invalid_client ("" when the client comes from a file)
	redact    []string // secrets to remove from anything quoted
}

// oauthBody is the error part of an RFC 6749 §5.2 response, or of a Google API error.
type oauthBody struct {
	code string
	desc string
	json bool // the body was a JSON object
}

// parseErrorBody reads the error code and description of a token endpoint answer. It never returns more of
// the body than those two fields.
func parseErrorBody(body []byte) oauthBody {
	var m map[string]json.RawMessage
	if json.Unmarshal(bytes.TrimSpace(body), &m) != nil || m == nil {
		return oauthBody{}
	}
	out := oauthBody{json: true}
	var s string
	if json.Unmarshal(m["error"], &s) == nil {
		out.code = s
		_ = json.Unmarshal(m["error_description"], &out.desc)
		return out
	}
	var g struct {
		Status  string `json:"status"`
		Message string `json:"message"`
	}
	if json.Unmarshal(m["error"], &g) == nil {
		out.code, out.desc = strings.ToLower(g.Status), g.Message
	}
	return out
}

// responseError describes a token endpoint answer that is not a token: what failed and what to do next.
func responseError(ep endpoint, status int, contentType string, body []byte) error {
	b := parseErrorBody(body)
	if !b.json {
		what := fmt.Sprintf("answered %d with %s, not a token response", status, tokenhttp.DescribeType(contentType))
		if status >= 300 && status < 400 {
			return sdk.Unavailable("token endpoint %s answered %d, a redirect, which is not followed; check token_url and any proxy in between", ep.display, status)
		}
		return sdk.Unavailable("token endpoint %s %s; it may be down or behind a proxy or captive portal, try again later", ep.display, what)
	}
	code := tokenhttp.Clean(b.code, 64, ep.redact)
	detail := fmt.Sprintf("%d %s", status, code)
	if d := tokenhttp.Clean(b.desc, tokenhttp.MaxDescription, ep.redact); d != "" {
		detail += ": " + d
	}
	rfc := code
	if c, ok := googleCodes[code]; ok {
		rfc = c
	}
	switch tokenkit.Classify(status, rfc) {
	case sdk.KindReauthRequired:
		return sdk.ReauthRequired("token endpoint %s refused the sign-in (%s); %s", ep.display, detail, ep.next)
	case sdk.KindUnavailable:
		return sdk.Unavailable("token endpoint %s is failing (%s); try again later", ep.display, detail)
	case sdk.KindBadConfig:
		switch rfc {
		case "invalid_client", "unauthorized_client":
			if ep.clientKey != "" {
				return sdk.BadConfig(ep.clientKey, "token endpoint %s rejected the OAuth client (%s); check client_id and client_secret (leave both out to use the Gemini CLI's)", ep.display, detail)
			}
			return sdk.ReauthRequired("token endpoint %s rejected the OAuth client in the credentials file (%s); %s", ep.display, detail, ep.next)
		case "invalid_scope":
			return sdk.BadConfig("scopes", "token endpoint %s rejected the requested scopes (%s); check scopes", ep.display, detail)
		}
		return sdk.BadConfig("", "token endpoint %s refused the token request (%s)", ep.display, detail)
	}
	return sdk.Internal("token endpoint %s refused the token request (%s)", ep.display, detail)
}

// googleCodes maps the error codes Google's endpoints send besides RFC 6749's to the RFC 6749 code that
// means the same for tokenhost (Google API errors carry a status such as UNAUTHENTICATED, lowercased).
var googleCodes = map[string]string{
	"invalid_rapt":    "invalid_grant", // a reauthentication policy wants the user to sign in again
	"unauthenticated": "invalid_client",
	"unavailable":     "temporarily_unavailable",
	"internal":        "server_error",
}

// transportError describes a token request that got no answer.
func transportError(ep endpoint, err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	if tokenhttp.IsTimeout(err) {
		return sdk.Unavailable("token endpoint %s did not answer in time; it may be overloaded or unreachable (raise timeout if it is just slow)", ep.display)
	}
	return sdk.Unavailable("token endpoint %s could not be reached: %s", ep.display, tokenhttp.Clean(tokenhttp.NetReason(err), tokenhttp.MaxDescription, ep.redact))
}
