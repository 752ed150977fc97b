// Package hostapi is what tokenhost's own packages reach of a core.Host beyond the embedder API: package
// proxy holds a provider for the length of one request (so a reload does not stop its plugin under the
// request), forwards to its resolved endpoint, rebuilds its route table when the configuration generation
// changes and logs to the host's logger; cmd/tokenhost formats headers from the endpoint and logs reloads
// with the generation. Only packages of this module can import it, so none of this is part of core's API.
//
// Package core registers the accessor in its init (Register); Of then works for every *core.Host:
//
//	in := hostapi.Of(h)
//	ref, err := in.Acquire("corp")
package hostapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/sdk"
)

// Host is a core.Host as the proxy and the tokenhost command see it.
type Host interface {
	// Acquire resolves provider in the configuration in effect and holds it until Release, which the
	// caller must call exactly once when done (a proxy: after the response body has been sent).
	Acquire(provider string) (Ref, error)
	// Endpoint returns provider's resolved endpoint, starting its plugin if needed. After the first call it
	// costs a map lookup and an atomic load.
	Endpoint(ctx context.Context, provider string) (*Endpoint, error)
	// Generation returns the configuration generation in effect: 1 after Open, one more after each Reload.
	Generation() int64
	// Logger returns the logger the host writes to.
	Logger() *slog.Logger
	// Current returns provider's token from its shared cache, fetching it when needed, and when it is due
	// (zero: never).
	Current(ctx context.Context, provider string) (sdk.Token, time.Time, error)
	// Rejected reports that a caller outside the wrapper had a request with rejected refused, and returns
	// the token to use instead as the wrapper would after a 401: a newer cached one, rejected itself while
	// min_refresh_interval throttles it, else the plugin's Refresh(rejected); with when it is due.
	Rejected(ctx context.Context, provider string, rejected sdk.Token) (sdk.Token, time.Time, error)
}

// Ref is one provider as the configuration generation current at Acquire has it, held by one request: a
// reload that replaces or removes the provider meanwhile does not stop its plugin until Release, so the
// request finishes on what it started with.
type Ref interface {
	// ForwardTransport returns the held provider's shared wrapper for a caller that hands each request
	// over entirely, as a reverse proxy does with its outbound copy: the credential is then set on the
	// request's own headers rather than on a copy, which saves the copy.
	ForwardTransport() http.RoundTripper
	// Endpoint returns the held provider's resolved endpoint, starting its plugin if needed.
	Endpoint(ctx context.Context) (*Endpoint, error)
	// Config returns the held provider's configuration.
	Config() *config.Provider
	// Release lets a reload stop the provider if it replaced or removed it; later calls do nothing.
	Release()
}

// Endpoint is where a provider's requests go and which header carries its credential, resolved from the
// config and the plugin's Info. It never holds a token; it is shared, so callers must not modify it.
type Endpoint struct {
	// Upstream is the provider's upstream base URL.
	Upstream *url.URL
	// Header is the canonical name of the header the credential travels in.
	Header string
	// Scheme is the prefix before the credential in Header ("Bearer"), or "" for the bare value.
	Scheme string
}

// Credential returns Header's value for the credential tok: Scheme, a space and tok, or tok alone when
// Scheme is "".
func (e *Endpoint) Credential(tok string) string {
	if e.Scheme == "" {
		return tok
	}
	return e.Scheme + " " + tok
}

// Headers returns every header a request to the upstream carries for tok: the credential header, with
// its scheme, and the token's extra headers (e.g. ChatGPT-Account-ID).
func (e *Endpoint) Headers(tok sdk.Token) map[string]string {
	out := make(map[string]string, len(tok.Headers)+1)
	for k, v := range tok.Headers {
		out[k] = v
	}
	out[e.Header] = e.Credential(tok.Value)
	return out
}

// access is what package core registered: it returns the internals of a *core.Host.
var access func(host any) (Host, bool)

// Register sets how Of reaches a host's internals. Package core calls it once, from its init.
func Register(f func(host any) (Host, bool)) { access = f }

// Of returns the internals of host, which must be a *core.Host (anything else is a bug in the caller,
// which this package's only callers, tokenhost's own packages, would not survive their tests with).
func Of(host any) Host {
	if access != nil {
		if in, ok := access(host); ok {
			return in
		}
	}
	panic(fmt.Sprintf("hostapi.Of: %T is not a *core.Host opened by package core", host))
}
