package core

import (
	"context"
	"log/slog"
	"net/url"

	"github.com/tokenhost/tokenhost/sdk"
)

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

// Headers returns every header a request to the upstream carries for tok: the credential header, with
// its scheme, and the token's extra headers (e.g. ChatGPT-Account-ID).
func (e *Endpoint) Headers(tok sdk.Token) map[string]string {
	out := make(map[string]string, len(tok.Headers)+1)
	for k, v := range tok.Headers {
		out[k] = v
	}
	out[e.Header] = credential(e.Scheme, tok.Value)
	return out
}

// Endpoint returns the provider's resolved endpoint, starting its plugin if needed. After the first call
// it costs a map lookup and an atomic load, so a proxy may call it per request.
func (h *Host) Endpoint(ctx context.Context, provider string) (*Endpoint, error) {
	p, err := h.provider(provider)
	if err != nil {
		return nil, err
	}
	return p.endpoint(ctx)
}

// endpoint returns p's resolved endpoint, starting its plugin if needed.
func (p *provider) endpoint(ctx context.Context) (*Endpoint, error) {
	s := p.settings.Load()
	if s == nil {
		var err error
		if s, err = p.start(ctx); err != nil {
			return nil, err
		}
	}
	return &s.endpoint, nil
}

// Logger returns the logger the host writes to.
func (h *Host) Logger() *slog.Logger { return h.log }

// credential returns the header value of a token: scheme, a space and the token, or the bare token when
// scheme is "".
func credential(scheme, tok string) string {
	if scheme == "" {
		return tok
	}
	return scheme + " " + tok
}
