package core

import (
	"fmt"
	"net"
	"net/textproto"
	"net/url"
	"strings"

	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/internal/hostapi"
	"github.com/tokenhost/tokenhost/internal/netaddr"
	"github.com/tokenhost/tokenhost/sdk"
)

// settings are a provider's resolved routing and header rules: the config merged with the plugin's Info.
type settings struct {
	upstream     *url.URL
	upstreamHost string // host:port as requests carry it, for the fast comparison
	hosts        map[string]bool
	wildcards    []wildcard // "*.example.com[:port]" entries
	header       string     // canonical header name
	scheme       string     // prefix before the value, "" for none
	info         sdk.Info
	endpoint     hostapi.Endpoint // upstream and header, as the proxy gets them (internal/hostapi)
}

// resolveSettings merges the provider's config with the plugin's Info defaults.
func resolveSettings(cfg *config.Provider, info sdk.Info) (*settings, error) {
	raw, key := cfg.Upstream, "providers."+cfg.Name+".upstream"
	if raw == "" {
		raw = info.Upstream
	}
	if raw == "" {
		return nil, badSettings(cfg.Name, "%s: required (plugin %s has no default upstream); set it to the API base URL, e.g. https://llm.example.com/v1 (%s)", key, cfg.Plugin, pluginDocs(cfg.Plugin))
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, badSettings(cfg.Name, "%s: %q is not an absolute http(s) URL", key, raw)
	}
	if u.Scheme == "http" && !netaddr.IsLoopback(u.Hostname()) {
		return nil, badSettings(cfg.Name, "%s: must be an https URL (http is allowed only for loopback hosts)", key)
	}
	s := &settings{upstream: u, upstreamHost: u.Host, hosts: map[string]bool{}, info: info}
	s.hosts[normHostPort(u.Scheme, u.Host)] = true
	for i, h := range append(append([]string{}, info.AllowedHosts...), cfg.AllowedHosts...) {
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "" {
			continue
		}
		if msg := config.AllowedHostProblem(h); msg != "" {
			if i < len(info.AllowedHosts) {
				return nil, providerErrorf(cfg.Name, "plugin %s reports an allowed host the host refuses: %s; report it to the plugin's author", cfg.Plugin, msg)
			}
			return nil, badSettings(cfg.Name, "providers.%s.allowed_hosts: %s", cfg.Name, msg)
		}
		if strings.HasPrefix(h, "*.") {
			s.wildcards = append(s.wildcards, parseWildcard(h))
			continue
		}
		if _, _, err := net.SplitHostPort(h); err != nil {
			h = net.JoinHostPort(strings.Trim(h, "[]"), "443")
		}
		s.hosts[h] = true
	}
	switch {
	case cfg.Header != "":
		s.header = cfg.Header
		s.scheme = "Bearer"
	case info.Header != "":
		s.header, s.scheme = info.Header, info.Scheme
	default:
		s.header, s.scheme = "Authorization", "Bearer"
	}
	if cfg.SchemeSet {
		s.scheme = cfg.Scheme
	}
	s.header = textproto.CanonicalMIMEHeaderKey(s.header)
	s.endpoint = hostapi.Endpoint{Upstream: u, Header: s.header, Scheme: s.scheme}
	return s, nil
}

// allowed reports whether a request to u may carry the provider's token: its host is the upstream's or
// an allowed one, and the token would not travel in clear text to a non-loopback host.
func (s *settings) allowed(u *url.URL) bool {
	if u.Scheme != "https" && !(u.Scheme == "http" && netaddr.IsLoopback(u.Hostname())) {
		return false
	}
	if u.Host == s.upstreamHost && u.Scheme == s.upstream.Scheme {
		return true
	}
	hp := normHostPort(u.Scheme, u.Host)
	if s.hosts[hp] {
		return true
	}
	for _, w := range s.wildcards {
		if w.matches(u) {
			return true
		}
	}
	return false
}

// value returns the header value for a token.
func (s *settings) value(tok string) string { return s.endpoint.Credential(tok) }

// normHostPort returns host:port in lower case with the scheme's default port filled in.
func normHostPort(scheme, hostport string) string {
	hostport = strings.ToLower(hostport)
	if _, _, err := net.SplitHostPort(hostport); err == nil {
		return hostport
	}
	port := "443"
	if scheme == "http" {
		port = "80"
	}
	return net.JoinHostPort(strings.Trim(hostport, "[]"), port)
}

// badSettings is a configuration error found when the plugin's Info met the provider's config: of kind
// BadConfig, so the proxy answers 500 bad_config and /readyz reports the provider, and naming the key.
func badSettings(provider, format string, args ...any) error {
	return &ProviderError{Provider: provider, Err: &sdk.Error{Kind: sdk.KindBadConfig, Message: fmt.Sprintf(format, args...)}}
}

// pluginDocs says where a plugin's options are documented: its page for a built-in, the plugin's own
// documentation for an external one.
func pluginDocs(plugin string) string {
	if isBuiltin(plugin) {
		return "docs/providers/" + plugin + ".md"
	}
	return "see the plugin's own documentation"
}
