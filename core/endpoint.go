package core

import (
	"context"
	"log/slog"
	"net/url"
)

// Endpoint is where a provider's requests go and which header carries its credential, resolved from the
// config and the plugin's Info. It never holds a token; it is shared, so callers must not modify it.
type Endpoint struct {
	// Upstream is the provider's upstream base URL.
	Upstream *url.URL
	// Header is the canonical name of the header the credential travels in.
	Header string
}

// Endpoint returns the provider's resolved endpoint, starting its plugin if needed. After the first call
// it costs a map lookup and an atomic load, so a proxy may call it per request.
func (h *Host) Endpoint(ctx context.Context, provider string) (*Endpoint, error) {
	p, err := h.provider(provider)
	if err != nil {
		return nil, err
	}
	s := p.settings.Load()
	if s == nil {
		if s, err = p.start(ctx); err != nil {
			return nil, err
		}
	}
	return &s.endpoint, nil
}

// Logger returns the logger the host writes to.
func (h *Host) Logger() *slog.Logger { return h.log }
