package core

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/tokenhost/tokenhost/sdk"
)

// Provider is a handle on one configured provider, by name. Every call looks the provider up in the
// configuration in effect, so a handle, and the clients and transports it hands out, stays valid across
// Reload and always uses the provider as the latest configuration has it; a call holds the provider
// until it returns, so a reload stops a replaced plugin only after the calls that use it. Once a reload
// removes the provider, calls fail with an error naming it; a reload that adds it back makes the handle
// work again. A Provider is safe for concurrent use.
type Provider struct {
	h    *Host
	name string
}

// Provider returns a handle on the provider or group name; an unknown name is an error that lists the configured
// providers.
func (h *Host) Provider(name string) (*Provider, error) {
	if _, g := h.lookup(name); g != nil {
		return &Provider{h: h, name: name}, nil
	}
	if _, err := h.provider(name); err != nil {
		return nil, err
	}
	return &Provider{h: h, name: name}, nil
}

// Client returns an *http.Client that authenticates requests to the provider's upstream and never
// follows a redirect with credentials to another host: the Client of h.Provider(name).
func (h *Host) Client(name string) (*http.Client, error) {
	p, err := h.Provider(name)
	if err != nil {
		return nil, err
	}
	return p.Client(), nil
}

// Name returns the provider's name.
func (p *Provider) Name() string { return p.name }

// Client returns an *http.Client with the provider's wrapper as transport and a redirect policy that
// strips credentials before following a redirect to a host that may not receive them.
func (p *Provider) Client() *http.Client {
	return &http.Client{Transport: handleTransport{p}, CheckRedirect: p.checkRedirect}
}

// Transport returns the provider's shared wrapper as an http.RoundTripper over Options.Base: it injects
// the token into requests bound for the upstream (or allowed_hosts) and resends once after a rejection.
func (p *Provider) Transport() http.RoundTripper { return handleTransport{p} }

// Token returns a valid token from the provider's shared cache, fetching it through the plugin when
// needed.
func (p *Provider) Token(ctx context.Context) (sdk.Token, error) {
	if _, g := p.h.lookup(p.name); g != nil {
		return g.token(ctx)
	}
	q, err := p.hold()
	if err != nil {
		return sdk.Token{}, err
	}
	defer q.uses.release()
	if q.settings.Load() == nil {
		if _, err := q.start(ctx); err != nil {
			return sdk.Token{}, err
		}
	}
	e, err := q.cache.get(ctx)
	if err != nil {
		return sdk.Token{}, err
	}
	return e.tok, nil
}

// Upstream returns the provider's upstream base URL (the config's, else the plugin's default), starting
// the plugin if needed; SDKs take it as their base URL.
func (p *Provider) Upstream(ctx context.Context) (string, error) {
	if _, g := p.h.lookup(p.name); g != nil {
		return g.base.String(), nil
	}
	q, err := p.hold()
	if err != nil {
		return "", err
	}
	defer q.uses.release()
	s := q.settings.Load()
	if s == nil {
		if s, err = q.start(ctx); err != nil {
			return "", err
		}
	}
	return s.upstream.String(), nil
}

// hold resolves the provider in the configuration in effect and holds it for one call (the caller
// releases q.uses): a reload that replaces or removes it meanwhile stops its plugin only afterwards.
func (p *Provider) hold() (*provider, error) {
	q, err := p.h.acquire(p.name)
	if err != nil {
		return nil, p.gone()
	}
	return q, nil
}

// gone is the error of a call through a handle whose provider a reload removed.
func (p *Provider) gone() error {
	cfg := p.h.gen.Load().cfg
	known := "none"
	if names := cfg.Names(); len(names) > 0 {
		known = strings.Join(names, ", ")
	}
	return &ProviderError{Provider: p.name, Err: fmt.Errorf(
		"provider %s is no longer configured: a configuration reload removed it (configured: %s); add it back under providers: in %s, or use another provider",
		p.name, known, cfg.Source)}
}

// checkRedirect is the redirect policy of the provider's wrapper in effect; with the provider removed it
// strips the Authorization header and stops at the redirect.
func (p *Provider) checkRedirect(req *http.Request, via []*http.Request) error {
	q, err := p.h.provider(p.name)
	if err != nil {
		req.Header.Del("Authorization")
		if _, g := p.h.lookup(p.name); g != nil {
			return nil // the group's RoundTrip routes the redirected request, or refuses one off its base URL
		}
		return p.gone()
	}
	return q.transport().checkRedirect(req, via)
}

// handleTransport is a Provider's transport: each request goes through the wrapper of the provider the
// configuration in effect has, which it holds until the round trip returns.
type handleTransport struct{ p *Provider }

// RoundTrip sends req through the provider's wrapper.
func (t handleTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	q, g := t.p.h.lookup(t.p.name)
	if g != nil {
		return g.RoundTrip(req)
	}
	if q == nil || !q.uses.acquire() {
		var err error
		if q, err = t.p.hold(); err != nil {
			closeBody(req)
			return nil, err
		}
	}
	defer q.uses.release()
	return q.transport().RoundTrip(req)
}
