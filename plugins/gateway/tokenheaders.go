package gateway

import (
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/tokenhost/tokenhost/plugins/internal/tokenhttp"
	"github.com/tokenhost/tokenhost/sdk"
	"golang.org/x/net/http/httpguts"
)

// reservedTokenHeaders are headers token_headers may not set: the plugin sets them on every request to the
// identity provider.
var reservedTokenHeaders = []string{"Authorization", "Content-Type", "Host", "Content-Length"}

// parseTokenHeaders reads token_headers: headers sent on every request to the identity provider (discovery,
// token, device authorization, token exchange and revocation). It returns the headers and the values of
// the secret-named ones, which no message may quote.
func parseTokenHeaders(o sdk.Options) (http.Header, []string, error) {
	raw, err := o.StringMap("token_headers")
	if err != nil || len(raw) == 0 {
		return nil, nil, err
	}
	names := make([]string, 0, len(raw))
	for k := range raw {
		names = append(names, k)
	}
	sort.Strings(names)
	h := make(http.Header, len(raw))
	var secrets []string
	for _, k := range names {
		v := raw[k]
		ck := http.CanonicalHeaderKey(k)
		at := "token_headers." + k
		if tokenhttp.HasControl(k) {
			at = "token_headers"
		}
		switch {
		case !httpguts.ValidHeaderFieldName(k):
			return nil, nil, sdk.BadConfig(at, "%q is not a valid header name (letters, digits and !#$%%&'*+-.^_`|~ only)", k)
		case strings.HasSuffix(strings.ToLower(k), "_env") || strings.HasSuffix(strings.ToLower(k), "_file"):
			return nil, nil, sdk.BadConfig(at, "reached the plugin unresolved: the host reads a header's value from NAME_env or NAME_file only when NAME marks a secret (it holds secret, password, passphrase or apikey, or ends in _token or _key); write the value itself, or use such a name")
		case slices.Contains(reservedTokenHeaders, ck):
			return nil, nil, sdk.BadConfig(at, "%s is set by the plugin on every request to the identity provider; it cannot be a token header (client authentication is client_auth's)", ck)
		case h[ck] != nil:
			return nil, nil, sdk.BadConfig(at, "names the header %s twice (header names ignore case); give it once", ck)
		case v == "":
			return nil, nil, sdk.BadConfig(at, "is empty; give the header's value, or leave the header out")
		case !httpguts.ValidHeaderFieldValue(v):
			return nil, nil, sdk.BadConfig(at, "is not a valid header value: it holds control characters or a line break")
		}
		h.Set(ck, v)
		if sdk.IsSecretKey(k) {
			secrets = append(secrets, v)
		}
	}
	return h, secrets, nil
}

// setTokenHeaders adds token_headers to a request for the identity provider.
func (c *config) setTokenHeaders(req *http.Request) {
	for k, v := range c.tokenHeaders {
		req.Header[k] = slices.Clone(v)
	}
}
