package config

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/tokenhost/tokenhost/sdk/optval"
)

// config turns the decoded configuration into a Config, checking what the types alone do not.
func (d *decoder) config(raw rawConfig) *Config {
	cfg := &Config{}
	d.unknownKeys("", raw.Unknown, knownKeys(raw))
	cfg.Server = d.server(raw.Server)
	cfg.Store = d.store(raw.Store)
	for _, name := range sortedKeys(raw.Providers) {
		if p := d.provider(name, raw.Providers[name], cfg.Store.Shared()); p != nil {
			cfg.Providers = append(cfg.Providers, p)
		}
	}
	cfg.Groups = d.groups(raw.Groups, cfg.Providers)
	cfg.secretVars = d.secretVarList()
	return cfg
}

// server checks the server block.
func (d *decoder) server(r rawServer) Server {
	d.unknownKeys("server", r.Unknown, knownKeys(r))
	s := Server{Listen: DefaultListen, APIKeys: r.APIKeys, ShutdownGrace: or(r.ShutdownGrace, DefaultShutdownGrace)}
	if r.Listen != "" {
		s.Listen = r.Listen
	}
	s.AllowedOrigins = d.origins("server.allowed_origins", r.AllowedOrigins)
	s.TLS = d.serverTLS("server.tls", r.TLS)
	s.InsecurePlaintext = r.InsecurePlaintext != nil && *r.InsecurePlaintext
	tlsHalf := (r.TLS.CertFile == "") != (r.TLS.KeyFile == "")
	// A misleading "set server.api_keys" or "server.tls is not set" would hide the real problem.
	listenOK := !d.failedUnder("server.api_keys") && !d.failedUnder("server.tls") && !tlsHalf
	for i, k := range r.APIKeys {
		if strings.TrimSpace(k) == "" && !d.failed[index("server.api_keys", i)] {
			d.p.add(index("server.api_keys", i), "must not be empty")
			listenOK = false
		}
	}
	if !listenOK {
		s.APIKeys = nil
	} else if msg := listenProblem(s.Listen, s); msg != "" && !d.failed["server.listen"] {
		d.p.add("server.listen", "%s", msg)
	}
	return s
}

// provider decodes and checks one entry of the providers block; it returns nil when the entry is not a
// mapping. fleet says whether the store is shared (the default of shared).
func (d *decoder) provider(name string, v any, fleet bool) *Provider {
	at := keyPath("providers", name)
	if !validName(name) {
		d.p.add(at, "invalid provider name %s: use lower-case letters, digits, \"-\" and \"_\", starting with a letter or digit (the name is a URL path segment and a metric label)", quote(name))
	}
	r := d.decodeProvider(at, v)
	if d.failed[at] {
		return nil
	}
	m, _ := v.(map[string]any)
	d.unknownKeys(at, r.Unknown, knownKeys(r))
	p := &Provider{
		Name:                name,
		RefreshBefore:       or(r.RefreshBefore, DefaultRefreshBefore),
		RetryStatuses:       []int{401},
		MinRefreshInterval:  or(r.MinRefreshInterval, DefaultMinRefreshInterval),
		MaxIdleConnsPerHost: or(r.MaxIdleConnsPerHost, DefaultMaxIdleConnsPerHost),
		MaxReplayBytes:      int64(or(r.MaxReplayBytes, DefaultMaxReplayBytes)),
		FetchTimeout:        d.positive(at+".fetch_timeout", r.FetchTimeout, m["fetch_timeout"], DefaultFetchTimeout),
		Breaker:             d.breaker(at+".breaker", r.Breaker, m["breaker"]),
		Shared:              or(r.Shared, fleet),
		Options:             map[string]any{},
	}

	if n := r.MaxIdleConnsPerHost; n != nil && (*n < 1 || *n > 10000) {
		d.p.add(at+".max_idle_conns_per_host", "must be between 1 and 10000, got %d", *n)
	}

	isPath := false
	switch {
	case m["plugin"] == nil:
		hint := ""
		if d.fromEnv(at, m) {
			hint = fmt.Sprintf("; a provider created by environment variables needs %s%s__PLUGIN too",
				envPrefix, strings.ToUpper(strings.ReplaceAll(at, ".", envDelim)))
		}
		d.p.add(at+".plugin", "required: the name of a built-in plugin (%s) or the path to a plugin executable%s", d.builtinList(), hint)
	case !d.failed[at+".plugin"]:
		p.Plugin, isPath = d.plugin(at+".plugin", r.Plugin)
	}
	switch s := r.SHA256; {
	case s == "":
	case !validSHA256(s):
		d.p.add(at+".sha256", "must be 64 hexadecimal characters (the output of sha256sum), got %s", quote(s))
	case p.Plugin != "" && !isPath:
		d.p.add(at+".sha256", "only allowed when plugin is a path to an executable (%s is built in)", quote(p.Plugin))
	default:
		p.SHA256 = strings.ToLower(s)
	}
	if msg := checkUpstream(r.Upstream); r.Upstream != "" && msg != "" {
		d.p.add(at+".upstream", "%s", msg)
	} else if r.Upstream == "" && isPath && !d.failed[at+".upstream"] {
		d.p.add(at+".upstream", "required for an external plugin: set it to the API base URL its tokens are for, e.g. https://llm.example.com/v1 (only built-in plugins bring a default, so a third-party binary never decides where tokens go)")
	} else {
		p.Upstream = r.Upstream
	}
	for i, h := range r.AllowedHosts {
		if d.failed[index(at+".allowed_hosts", i)] {
			continue
		}
		h = strings.ToLower(strings.TrimSpace(h))
		if msg := AllowedHostProblem(h); msg != "" {
			d.p.add(index(at+".allowed_hosts", i), "%s", msg)
			continue
		}
		p.AllowedHosts = append(p.AllowedHosts, h)
	}
	for i, n := range r.Env {
		switch {
		case d.failed[index(at+".env", i)]:
		case !envName().MatchString(n):
			d.p.add(index(at+".env", i), "%s is not an environment variable name (letters, digits and _, optionally ending in * for a prefix)", quote(n))
		case strings.HasPrefix(strings.ToUpper(n), envPrefix):
			d.p.add(index(at+".env", i), "%s: %s* variables are the host's own and never reach a plugin", quote(n), envPrefix)
		default:
			p.Env = append(p.Env, n)
		}
	}
	if r.Header != "" && !validToken(r.Header) {
		d.p.add(at+".header", "%s is not a valid HTTP header name", quote(r.Header))
	} else {
		p.Header = r.Header
	}
	if _, given := m["scheme"]; given && !d.failed[at+".scheme"] {
		if r.Scheme != "" && !validToken(r.Scheme) {
			d.p.add(at+".scheme", "%s is not a valid authorization scheme (one word such as Bearer, or \"\" for none)", quote(r.Scheme))
		} else {
			p.Scheme, p.SchemeSet = r.Scheme, true
		}
	}
	if r.RetryStatuses != nil && !d.failedUnder(at+".retry_statuses") {
		p.RetryStatuses = make([]int, len(r.RetryStatuses))
		for i, s := range r.RetryStatuses {
			p.RetryStatuses[i] = int(s)
		}
	}
	p.TLS = d.tls(at+".tls", r.TLS)
	if r.Options != nil {
		p.Options = r.Options
		for _, n := range d.optionVars(at+".options", p.Options) {
			if !slices.Contains(p.Env, n) {
				p.Env = append(p.Env, n)
			}
		}
	}
	d.mcpUpstream(at, p, isPath)
	return p
}

// tls checks a provider's tls block: a certificate needs its key, and paths resolve like other paths.
func (d *decoder) tls(at string, r rawTLS) TLS {
	d.unknownKeys(at, r.Unknown, knownKeys(r))
	if (r.CertFile == "") != (r.KeyFile == "") {
		d.p.add(at, "cert_file and key_file go together: give both for a client certificate, or neither")
		return TLS{}
	}
	var t TLS
	for _, f := range []struct {
		key, v string
		dst    *string
	}{{"cert_file", r.CertFile, &t.CertFile}, {"key_file", r.KeyFile, &t.KeyFile}, {"ca_file", r.CAFile, &t.CAFile}} {
		if f.v == "" {
			continue
		}
		p, err := d.path(f.v)
		if err != nil {
			d.p.add(at+"."+f.key, "%v", err)
			continue
		}
		*f.dst = p
	}
	return t
}

// breaker checks a provider's breaker block, given decoded (r) and as written (v).
func (d *decoder) breaker(at string, r rawBreaker, v any) Breaker {
	m, _ := v.(map[string]any)
	d.unknownKeys(at, r.Unknown, knownKeys(r))
	b := Breaker{Failures: DefaultFailures, OpenFor: d.positive(at+".open_for", r.OpenFor, m["open_for"], DefaultOpenFor)}
	if n := r.Failures; n != nil && (*n < 1 || *n > maxFailures) {
		d.p.add(at+".failures", "must be between 1 and %d, got %d", maxFailures, *n)
	} else if n != nil {
		b.Failures = *n
	}
	return b
}

// positive returns *v, or def when v is nil; zero, written as given, is a problem at path at.
func (d *decoder) positive(at string, v *time.Duration, given any, def time.Duration) time.Duration {
	if v != nil && *v == 0 {
		d.p.add(at, "must be longer than zero, got %s", optval.Text(given))
	}
	return or(v, def)
}

// or returns *v, or def when v is nil.
func or[T any](v *T, def T) T {
	if v == nil {
		return def
	}
	return *v
}

// failedUnder reports whether decoding failed at path at or below it.
func (d *decoder) failedUnder(at string) bool {
	for f := range d.failed {
		if f == at || strings.HasPrefix(f, at+".") || strings.HasPrefix(f, at+"[") {
			return true
		}
	}
	return false
}

// maxFailures keeps breaker.failures within the breaker's 32-bit counters.
const maxFailures = 1<<31 - 1

// fromEnv reports whether every key of the block m at path at was set by an environment variable.
func (d *decoder) fromEnv(at string, m map[string]any) bool {
	if len(m) == 0 {
		return false
	}
	for k := range m {
		if d.p.envVarFor(at+"."+k) == "" {
			return false
		}
	}
	return true
}

// builtinList is the sorted, comma-separated list of built-in plugin names.
func (d *decoder) builtinList() string {
	if len(d.s.Builtins) == 0 {
		return "none"
	}
	b := append([]string(nil), d.s.Builtins...)
	sort.Strings(b)
	return strings.Join(b, ", ")
}

// sortedKeys returns m's keys in order.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
