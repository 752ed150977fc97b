package config

import (
	"fmt"
	"sort"
	"strings"
)

// Known keys of each block of the fixed schema; options is free-form.
var (
	topKeys      = []string{"server", "providers"}
	serverKeys   = []string{"listen", "api_keys", "shutdown_grace"}
	providerKeys = []string{"plugin", "sha256", "upstream", "allowed_hosts", "header", "scheme", "refresh_before",
		"retry_statuses", "max_replay_bytes", "breaker", "fetch_timeout", "options"}
	breakerKeys = []string{"failures", "open_for"}
)

// config decodes the whole configuration.
func (d *decoder) config(raw map[string]any) *Config {
	cfg := &Config{}
	d.unknownKeys("", raw, topKeys)
	cfg.Server = d.server(raw["server"])
	if v, ok := raw["providers"]; ok && v != nil {
		if m, ok := d.mapping("providers", v); ok {
			for _, name := range sortedKeys(m) {
				if p := d.provider(name, m[name]); p != nil {
					cfg.Providers = append(cfg.Providers, p)
				}
			}
		}
	}
	return cfg
}

// server decodes the server block.
func (d *decoder) server(v any) Server {
	s := Server{Listen: DefaultListen, ShutdownGrace: DefaultShutdownGrace}
	m, ok := d.mapping("server", v)
	if !ok {
		return s
	}
	d.unknownKeys("server", m, serverKeys)
	listenOK := true
	if x, ok := m["listen"]; ok && x != nil {
		if l, ok := d.str("server.listen", x); ok && l != "" {
			s.Listen = l
		}
	}
	if x, ok := m["api_keys"]; ok {
		keys, ok := d.strList("server.api_keys", x)
		for i, k := range keys {
			if strings.TrimSpace(k) == "" {
				d.p.add(index("server.api_keys", i), "must not be empty")
				ok = false
			}
		}
		if ok {
			s.APIKeys = keys
		} else {
			listenOK = false // do not add a misleading "set server.api_keys" to the real problem
		}
	}
	s.ShutdownGrace = d.duration("server.shutdown_grace", m["shutdown_grace"], DefaultShutdownGrace, true)
	if listenOK {
		if err := ValidateListen(s.Listen, s.APIKeys); err != nil {
			d.p.add("server.listen", "%s", strings.TrimPrefix(err.Error(), "server.listen: "))
		}
	}
	return s
}

// provider decodes one entry of the providers block; it returns nil when the entry is unusable.
func (d *decoder) provider(name string, v any) *Provider {
	at := keyPath("providers", name)
	if !validName(name) {
		d.p.add(at, "invalid provider name %s: use lower-case letters, digits, \"-\" and \"_\", starting with a letter or digit (the name is a URL path segment and a metric label)", quote(name))
	}
	m, ok := d.mapping(at, v)
	if !ok {
		return nil
	}
	d.unknownKeys(at, m, providerKeys)
	p := &Provider{
		Name:           name,
		RefreshBefore:  DefaultRefreshBefore,
		RetryStatuses:  []int{401},
		MaxReplayBytes: DefaultMaxReplayBytes,
		FetchTimeout:   DefaultFetchTimeout,
		Options:        map[string]any{},
	}

	isPath := false
	if x := m["plugin"]; x == nil {
		hint := ""
		if d.fromEnv(at, m) {
			hint = fmt.Sprintf("; a provider created by environment variables needs %s%s__PLUGIN too",
				envPrefix, strings.ToUpper(strings.ReplaceAll(at, ".", envDelim)))
		}
		d.p.add(at+".plugin", "required: the name of a built-in plugin (%s) or the path to a plugin executable%s", d.builtinList(), hint)
	} else if s, ok := d.str(at+".plugin", x); ok {
		p.Plugin, isPath = d.plugin(at+".plugin", s)
	}
	if x := m["sha256"]; x != nil {
		if s, ok := d.str(at+".sha256", x); ok && s != "" {
			if !validSHA256(s) {
				d.p.add(at+".sha256", "must be 64 hexadecimal characters (the output of sha256sum), got %s", quote(s))
			} else if p.Plugin != "" && !isPath {
				d.p.add(at+".sha256", "only allowed when plugin is a path to an executable (%s is built in)", quote(p.Plugin))
			} else {
				p.SHA256 = strings.ToLower(s)
			}
		}
	}
	if x := m["upstream"]; x != nil {
		if s, ok := d.str(at+".upstream", x); ok && s != "" {
			if msg := checkUpstream(s); msg != "" {
				d.p.add(at+".upstream", "%s", msg)
			} else {
				p.Upstream = s
			}
		}
	}
	if x, ok := m["allowed_hosts"]; ok {
		hosts, _ := d.strList(at+".allowed_hosts", x)
		for i, h := range hosts {
			h = strings.ToLower(strings.TrimSpace(h))
			if !validHost(h) {
				d.p.add(index(at+".allowed_hosts", i), "%s is not a host name; write the host alone (llm.corp.example, llm.corp.example:8443 or *.corp.example)", quote(hosts[i]))
				continue
			}
			p.AllowedHosts = append(p.AllowedHosts, h)
		}
	}
	if x := m["header"]; x != nil {
		if s, ok := d.str(at+".header", x); ok && s != "" {
			if !validToken(s) {
				d.p.add(at+".header", "%s is not a valid HTTP header name", quote(s))
			} else {
				p.Header = s
			}
		}
	}
	if x, ok := m["scheme"]; ok {
		if x == nil {
			p.SchemeSet = true
		} else if s, ok := d.str(at+".scheme", x); ok {
			if s != "" && !validToken(s) {
				d.p.add(at+".scheme", "%s is not a valid authorization scheme (one word such as Bearer, or \"\" for none)", quote(s))
			} else {
				p.Scheme, p.SchemeSet = s, true
			}
		}
	}
	p.RefreshBefore = d.duration(at+".refresh_before", m["refresh_before"], DefaultRefreshBefore, true)
	if x, ok := m["retry_statuses"]; ok && x != nil {
		if st, ok := d.statuses(at+".retry_statuses", x); ok {
			p.RetryStatuses = st
		}
	}
	p.MaxReplayBytes = d.size(at+".max_replay_bytes", m["max_replay_bytes"], DefaultMaxReplayBytes)
	p.Breaker = d.breaker(at+".breaker", m["breaker"])
	p.FetchTimeout = d.duration(at+".fetch_timeout", m["fetch_timeout"], DefaultFetchTimeout, false)
	if x := m["options"]; x != nil {
		if om, ok := x.(map[string]any); ok {
			p.Options = d.options(at+".options", om)
		} else {
			d.p.add(at+".options", "must be a mapping, got %s", typeName(x))
		}
	}
	return p
}

// breaker decodes a provider's breaker block.
func (d *decoder) breaker(at string, v any) Breaker {
	b := Breaker{Failures: DefaultFailures, OpenFor: DefaultOpenFor}
	m, ok := d.mapping(at, v)
	if !ok {
		return b
	}
	d.unknownKeys(at, m, breakerKeys)
	if x := m["failures"]; x != nil {
		if n, ok := d.integer(at+".failures", x); ok {
			if n < 1 || n > maxFailures {
				d.p.add(at+".failures", "must be between 1 and %d, got %d", maxFailures, n)
			} else {
				b.Failures = int(n)
			}
		}
	}
	b.OpenFor = d.duration(at+".open_for", m["open_for"], DefaultOpenFor, false)
	return b
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
