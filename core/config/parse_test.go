package config

import (
	"errors"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDefaultsApplied(t *testing.T) {
	cfg := mustParse(t, "providers:\n  corp:\n    plugin: gateway\n")
	if cfg.Server.Listen != DefaultListen || cfg.Server.ShutdownGrace != DefaultShutdownGrace || cfg.Server.APIKeys != nil {
		t.Errorf("server defaults: %+v", cfg.Server)
	}
	if len(cfg.Providers) != 1 {
		t.Fatalf("providers: %+v", cfg.Providers)
	}
	p := cfg.Providers[0]
	want := &Provider{
		Name:                "corp",
		Plugin:              "gateway",
		RefreshBefore:       DefaultRefreshBefore,
		RetryStatuses:       []int{401},
		MinRefreshInterval:  DefaultMinRefreshInterval,
		MaxIdleConnsPerHost: DefaultMaxIdleConnsPerHost,
		MaxReplayBytes:      DefaultMaxReplayBytes,
		Breaker:             Breaker{Failures: DefaultFailures, OpenFor: DefaultOpenFor},
		FetchTimeout:        DefaultFetchTimeout,
		Options:             map[string]any{},
	}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("provider defaults:\n got %+v\nwant %+v", p, want)
	}
	if p.Options == nil {
		t.Error("Options is nil, want an empty map")
	}
}

func TestEmptyDocument(t *testing.T) {
	for _, src := range []string{"", "# only a comment\n", "server:\nproviders:\n"} {
		cfg := mustParse(t, src)
		if cfg.Server.Listen != DefaultListen || len(cfg.Providers) != 0 {
			t.Errorf("%q: %+v", src, cfg)
		}
	}
}

func TestFullProvider(t *testing.T) {
	src := `
server:
  listen: 0.0.0.0:9000
  api_keys: [k1, k2]
  shutdown_grace: 10
  tls: { cert_file: certs/proxy.pem, key_file: /etc/tokenhost/proxy.key }
providers:
  zeta:
    plugin: codex
  corp:
    plugin: ./bin/my-plugin
    sha256: ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789
    upstream: https://llm.corp.example/v1
    allowed_hosts: [Files.Corp.Example, "*.corp.example", "llm.corp.example:8443"]
    header: api-key
    scheme: ""
    refresh_before: 1h30m
    retry_statuses: [401, 403]
    min_refresh_interval: 2m
    max_replay_bytes: 512KiB
    breaker: { failures: 3, open_for: 1m }
    fetch_timeout: 2.5
    options:
      token_url: https://login.corp.example/token
      nested: { a: 1, b: [x, y] }
`
	dir := t.TempDir()
	source := filepath.Join(dir, "conf", "tokenhost.yaml")
	cfg, err := Parse([]byte(src), source, Sources{Builtins: builtins, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Names(); !slices.Equal(got, []string{"corp", "zeta"}) {
		t.Errorf("providers not sorted by name: %v", got)
	}
	if cfg.Source != source {
		t.Errorf("Source = %q, want %q", cfg.Source, source)
	}
	s := cfg.Server
	if s.Listen != "0.0.0.0:9000" || !slices.Equal(s.APIKeys, []string{"k1", "k2"}) || s.ShutdownGrace != 10*time.Second {
		t.Errorf("server: %+v", s)
	}
	if s.TLS.CertFile != filepath.Join(dir, "conf", "certs", "proxy.pem") || s.TLS.KeyFile != "/etc/tokenhost/proxy.key" || s.InsecurePlaintext {
		t.Errorf("server.tls not resolved against the config file's directory: %+v", s.TLS)
	}
	p := cfg.Provider("corp")
	checks := []struct {
		name      string
		got, want any
	}{
		{"plugin", p.Plugin, filepath.Join(dir, "conf", "bin", "my-plugin")},
		{"sha256", p.SHA256, strings.ToLower("ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789")},
		{"upstream", p.Upstream, "https://llm.corp.example/v1"},
		{"allowed_hosts", p.AllowedHosts, []string{"files.corp.example", "*.corp.example", "llm.corp.example:8443"}},
		{"header", p.Header, "api-key"},
		{"scheme", p.Scheme, ""},
		{"scheme set", p.SchemeSet, true},
		{"refresh_before", p.RefreshBefore, 90 * time.Minute},
		{"retry_statuses", p.RetryStatuses, []int{401, 403}},
		{"min_refresh_interval", p.MinRefreshInterval, 2 * time.Minute},
		{"max_replay_bytes", p.MaxReplayBytes, int64(512 << 10)},
		{"breaker", p.Breaker, Breaker{Failures: 3, OpenFor: time.Minute}},
		{"fetch_timeout", p.FetchTimeout, 2500 * time.Millisecond},
		{"options", p.Options, map[string]any{
			"token_url": "https://login.corp.example/token",
			"nested":    map[string]any{"a": 1, "b": []any{"x", "y"}},
		}},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
	if z := cfg.Provider("zeta"); z.SchemeSet || z.Scheme != "" {
		t.Errorf("zeta scheme should be unset: %+v", z)
	}
}

func TestPluginPaths(t *testing.T) {
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	source := filepath.Join(dir, "etc", "tokenhost.yaml")
	cases := map[string]string{
		"~/bin/plug":     filepath.Join(home, "bin", "plug"),
		"./plug":         filepath.Join(dir, "etc", "plug"),
		"../lib/plug":    filepath.Join(dir, "lib", "plug"),
		"sub/plug":       filepath.Join(dir, "etc", "sub", "plug"),
		"/opt/tokenhost": "/opt/tokenhost",
		".plug":          filepath.Join(dir, "etc", ".plug"),
	}
	for in, want := range cases {
		src := "providers:\n  x:\n    upstream: https://llm.example.com/v1\n    plugin: " + in + "\n"
		cfg, err := Parse([]byte(src), source, Sources{Builtins: builtins, Environ: []string{"HOME=" + home}, Dir: t.TempDir()})
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if got := cfg.Providers[0].Plugin; got != want {
			t.Errorf("plugin %s resolved to %s, want %s", in, got, want)
		}
	}
}

func TestEmbeddedSourceRelativeToDir(t *testing.T) {
	dir := t.TempDir()
	cfg, err := Parse([]byte("providers:\n  x:\n    upstream: https://llm.example.com/v1\n    plugin: ./p\n"), EmbeddedSource, Sources{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "p"); cfg.Providers[0].Plugin != want {
		t.Errorf("plugin = %s, want %s", cfg.Providers[0].Plugin, want)
	}
	if cfg.Source != EmbeddedSource {
		t.Errorf("Source = %q", cfg.Source)
	}
}

// TestValidationErrors checks that each mistake is reported with its key path and a useful hint.
func TestValidationErrors(t *testing.T) {
	cases := []struct {
		name, src string
		want      []string // substrings of one error line, the first being the line's prefix
	}{
		{"non-loopback listen", "server:\n  listen: 0.0.0.0:8787\n",
			[]string{"server.listen: 0.0.0.0:8787 is not a loopback address; set server.api_keys to expose the proxy"}},
		{"all-interfaces listen", "server:\n  listen: ':8787'\n", []string{"server.listen: :8787 is not a loopback address"}},
		{"listen not host:port", "server:\n  listen: localhost\n", []string{"server.listen: ", "is not host:port"}},
		{"listen bad port", "server:\n  listen: localhost:99999\n", []string{"server.listen: ", "invalid port"}},
		{"listen number", "server:\n  listen: 8787\n", []string{"server.listen: must be a string, got a number"}},
		{"api_keys number", "server:\n  api_keys: 5\n", []string{"server.api_keys: must be a list of strings, got a number"}},
		{"api_keys element", "server:\n  api_keys: [ok, {a: b}]\n", []string{"server.api_keys[1]: must be a string, got a mapping"}},
		{"api_keys empty", "server:\n  api_keys: ['']\n", []string{"server.api_keys[0]: must not be empty"}},
		{"shutdown_grace", "server:\n  shutdown_grace: soon\n", []string{"server.shutdown_grace: ", `"soon"`, "30s"}},
		{"server list", "server: [a]\n", []string{"server: must be a mapping, got a list"}},
		{"unknown top key", "provider: {}\n", []string{`provider: unknown key (did you mean "providers"?)`}},
		{"unknown server key", "server:\n  listn: x:1\n", []string{`server.listn: unknown key (did you mean "listen"?)`}},
		{"unknown far key", "server:\n  zzzzzzzzzz: 1\n", []string{"server.zzzzzzzzzz: unknown key (known keys: listen, api_keys, shutdown_grace, allowed_origins, tls, insecure_plaintext)"}},
		{"providers list", "providers: []\n", []string{"providers: must be a mapping, got a list"}},
		{"provider string", "providers:\n  corp: gateway\n", []string{"providers.corp: must be a mapping, got a string"}},
		{"bad name", "providers:\n  Corp:\n    plugin: gateway\n", []string{"providers.Corp: invalid provider name", "lower-case"}},
		{"dotted name", "providers:\n  a.b:\n    plugin: gateway\n", []string{`providers["a.b"]: invalid provider name`}},
		{"odd key", "server:\n  \"a b\\nc\": 1\n", []string{`server["a b\nc"]: unknown key`}},
		{"plugin missing", "providers:\n  corp: {}\n", []string{"providers.corp.plugin: required", "gateway"}},
		{"plugin null provider", "providers:\n  corp:\n", []string{"providers.corp.plugin: required"}},
		{"plugin typo", "providers:\n  corp:\n    plugin: gatewy\n",
			[]string{`providers.corp.plugin: unknown plugin "gatewy" (did you mean "gateway"? built-in plugins: azure, codex, gateway, gemini, mcp)`}},
		{"plugin unknown", "providers:\n  corp:\n    plugin: zzzzzzzz\n",
			[]string{`providers.corp.plugin: unknown plugin "zzzzzzzz" (built-in plugins: azure, codex, gateway, gemini, mcp)`}},
		{"plugin number", "providers:\n  corp:\n    plugin: 5\n", []string{"providers.corp.plugin: must be a string, got a number"}},
		{"plugin ~user", "providers:\n  corp:\n    plugin: ~bob/p\n", []string{"providers.corp.plugin: ", "only a leading ~/"}},
		{"sha256 short", "providers:\n  corp:\n    plugin: ./p\n    sha256: abc\n", []string{"providers.corp.sha256: must be 64 hexadecimal characters"}},
		{"sha256 builtin", "providers:\n  corp:\n    plugin: gateway\n    sha256: " + strings.Repeat("a", 64) + "\n",
			[]string{"providers.corp.sha256: only allowed when plugin is a path"}},
		{"upstream http", "providers:\n  corp:\n    plugin: gateway\n    upstream: http://llm.corp.example/v1\n",
			[]string{"providers.corp.upstream: must be an https URL (http is allowed only for loopback hosts)"}},
		{"upstream relative", "providers:\n  corp:\n    plugin: gateway\n    upstream: /v1\n", []string{"providers.corp.upstream: must be an https URL"}},
		{"upstream ftp", "providers:\n  corp:\n    plugin: gateway\n    upstream: ftp://x.example\n", []string{"providers.corp.upstream: must be an https URL"}},
		{"upstream credentials", "providers:\n  corp:\n    plugin: gateway\n    upstream: https://u:p@x.example\n", []string{"providers.corp.upstream: must not contain credentials"}},
		{"upstream list", "providers:\n  corp:\n    plugin: gateway\n    upstream: [a]\n", []string{"providers.corp.upstream: must be a string, got a list"}},
		{"allowed_hosts url", "providers:\n  corp:\n    plugin: gateway\n    allowed_hosts: [ok.example, 'https://x.example/']\n",
			[]string{"providers.corp.allowed_hosts[1]: ", "is not a host name"}},
		{"allowed_hosts public suffix", "providers:\n  corp:\n    plugin: gateway\n    allowed_hosts: ['*.co.uk']\n",
			[]string{"providers.corp.allowed_hosts[0]: ", "public suffix"}},
		{"env name", "providers:\n  corp:\n    plugin: gateway\n    env: [OK_NAME, 'BAD-NAME']\n",
			[]string{"providers.corp.env[1]: ", "not an environment variable name"}},
		{"env tokenhost", "providers:\n  corp:\n    plugin: gateway\n    env: [TOKENHOST_X]\n",
			[]string{"providers.corp.env[0]: ", "never reach a plugin"}},
		{"allowed_hosts string", "providers:\n  corp:\n    plugin: gateway\n    allowed_hosts: x.example\n",
			[]string{"providers.corp.allowed_hosts: must be a list of strings, got a string"}},
		{"header", "providers:\n  corp:\n    plugin: gateway\n    header: 'Bad Header'\n", []string{"providers.corp.header: ", "not a valid HTTP header name"}},
		{"scheme", "providers:\n  corp:\n    plugin: gateway\n    scheme: 'a b'\n", []string{"providers.corp.scheme: ", "not a valid authorization scheme"}},
		{"refresh_before", "providers:\n  corp:\n    plugin: gateway\n    refresh_before: 5 minutes\n", []string{"providers.corp.refresh_before: must be a duration", `"5 minutes"`}},
		{"refresh_before negative", "providers:\n  corp:\n    plugin: gateway\n    refresh_before: -1m\n", []string{"providers.corp.refresh_before: must not be negative"}},
		{"min_refresh_interval negative", "providers:\n  corp:\n    plugin: gateway\n    min_refresh_interval: -1s\n", []string{"providers.corp.min_refresh_interval: must not be negative"}},
		{"fetch_timeout zero", "providers:\n  corp:\n    plugin: gateway\n    fetch_timeout: 0s\n", []string{"providers.corp.fetch_timeout: must be longer than zero"}},
		{"retry_statuses string", "providers:\n  corp:\n    plugin: gateway\n    retry_statuses: \"x\"\n",
			[]string{"providers.corp.retry_statuses: must be a list of HTTP status codes", "got a string"}},
		{"retry_statuses range", "providers:\n  corp:\n    plugin: gateway\n    retry_statuses: [401, 600]\n",
			[]string{"providers.corp.retry_statuses[1]: must be an HTTP status code (100-599), got 600"}},
		{"retry_statuses word", "providers:\n  corp:\n    plugin: gateway\n    retry_statuses: [unauthorized]\n",
			[]string{"providers.corp.retry_statuses[0]: must be an HTTP status code", `"unauthorized"`}},
		{"max_replay_bytes", "providers:\n  corp:\n    plugin: gateway\n    max_replay_bytes: 16 megs\n",
			[]string{"providers.corp.max_replay_bytes: must be a size such as 16MiB", `"16 megs"`}},
		{"max_replay_bytes negative", "providers:\n  corp:\n    plugin: gateway\n    max_replay_bytes: -1\n", []string{"providers.corp.max_replay_bytes: must not be negative"}},
		{"breaker number", "providers:\n  corp:\n    plugin: gateway\n    breaker: 5\n", []string{"providers.corp.breaker: must be a mapping, got a number"}},
		{"breaker failures", "providers:\n  corp:\n    plugin: gateway\n    breaker: { failures: 0 }\n", []string{"providers.corp.breaker.failures: must be between 1 and"}},
		{"breaker failures text", "providers:\n  corp:\n    plugin: gateway\n    breaker: { failures: many }\n", []string{"providers.corp.breaker.failures: must be a whole number", `"many"`}},
		{"breaker open_for", "providers:\n  corp:\n    plugin: gateway\n    breaker: { open_for: forever }\n", []string{"providers.corp.breaker.open_for: must be a duration"}},
		{"breaker unknown", "providers:\n  corp:\n    plugin: gateway\n    breaker: { failure: 3 }\n", []string{`providers.corp.breaker.failure: unknown key (did you mean "failures"?)`}},
		{"provider unknown key", "providers:\n  corp:\n    plugin: gateway\n    refresh_befor: 5m\n", []string{`providers.corp.refresh_befor: unknown key (did you mean "refresh_before"?)`}},
		{"options number", "providers:\n  corp:\n    plugin: gateway\n    options: 5\n", []string{"providers.corp.options: must be a mapping, got a number"}},
		{"options list", "providers:\n  corp:\n    plugin: gateway\n    options: [a]\n", []string{"providers.corp.options: must be a mapping, got a list"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseYAML(t, c.src)
			if err == nil {
				t.Fatalf("no error for:\n%s", c.src)
			}
			for _, line := range errLines(err) {
				if !strings.HasPrefix(line, c.want[0]) {
					continue
				}
				ok := true
				for _, w := range c.want[1:] {
					ok = ok && strings.Contains(line, w)
				}
				if ok {
					return
				}
			}
			t.Errorf("no error line starts with %q and contains %q; got:\n%v", c.want[0], c.want[1:], err)
		})
	}
}

func TestLoopbackAccepted(t *testing.T) {
	for _, l := range []string{"127.0.0.1:8787", "127.1.2.3:1", "[::1]:8787", "localhost:0", "LocalHost:80"} {
		if _, err := parseYAML(t, "server:\n  listen: '"+l+"'\n"); err != nil {
			t.Errorf("%s: %v", l, err)
		}
	}
	if _, err := parseYAML(t, "server:\n  listen: 0.0.0.0:8787\n  api_keys: [k]\n  insecure_plaintext: true\n"); err != nil {
		t.Errorf("non-loopback with api_keys: %v", err)
	}
	for _, u := range []string{"http://127.0.0.1:9/v1", "http://localhost/v1", "http://[::1]:8080", "https://x.example"} {
		if _, err := parseYAML(t, "providers:\n  p:\n    plugin: gateway\n    upstream: '"+u+"'\n"); err != nil {
			t.Errorf("upstream %s: %v", u, err)
		}
	}
}

func TestAllErrorsReportedSorted(t *testing.T) {
	src := `
server:
  listen: 0.0.0.0:1
providers:
  b:
    plugin: gatewy
    refresh_befor: 1m
  a:
    upstream: http://x.example
`
	_, err := parseYAML(t, src)
	lines := errLines(err)
	want := []string{
		"providers.a.plugin: ",
		"providers.a.upstream: ",
		"providers.b.plugin: ",
		"providers.b.refresh_befor: ",
		"server.listen: ",
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%v", len(lines), len(want), err)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("error %d = %q, want prefix %q", i, lines[i], w)
		}
	}
	// errors.Join keeps every error reachable.
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) || len(joined.Unwrap()) != len(want) {
		t.Errorf("error is not a join of %d errors: %T", len(want), err)
	}
}

func TestYAMLSyntaxErrorHasLine(t *testing.T) {
	src := "server:\n  listen: 127.0.0.1:1\nproviders:\n  corp:\n    plugin: gateway\n   bad indent: [\n"
	_, err := Parse([]byte(src), "/etc/tokenhost.yaml", Sources{Builtins: builtins})
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "/etc/tokenhost.yaml: ") || !strings.Contains(msg, "line ") {
		t.Errorf("error should name the file and a line: %q", msg)
	}

	_, err = Parse([]byte("- a\n- b\n"), "x.yaml", Sources{})
	if err == nil || !strings.Contains(err.Error(), "x.yaml: line 1: the configuration must be a mapping") || !strings.Contains(err.Error(), "got a list") {
		t.Errorf("list document: %v", err)
	}
	_, err = Parse([]byte("server: {}\nserver: {}\n"), "x.yaml", Sources{})
	if err == nil || !strings.Contains(err.Error(), "x.yaml: line 2: ") {
		t.Errorf("duplicate key: %v", err)
	}
}

// TestMalformedTypesNeverPanic feeds every schema key values of every YAML type.
func TestMalformedTypesNeverPanic(t *testing.T) {
	values := []string{"~", "5", "-3", "1.5", "1e400", ".nan", "true", "x", "''", "[]", "[1, x, {a: b}]", "{}", "{a: 1}", "2001-12-14", "!!binary aGk="}
	keys := []string{"server", "server.listen", "server.api_keys", "server.shutdown_grace", "providers", "providers.p",
		"providers.p.plugin", "providers.p.sha256", "providers.p.upstream", "providers.p.allowed_hosts", "providers.p.header",
		"providers.p.scheme", "providers.p.refresh_before", "providers.p.retry_statuses", "providers.p.max_replay_bytes",
		"providers.p.breaker", "providers.p.breaker.failures", "providers.p.breaker.open_for", "providers.p.fetch_timeout",
		"providers.p.min_refresh_interval", "providers.p.options", "providers.p.options.api_key_env", "providers.p.options.api_key_file", "providers.p.options.x"}
	for _, k := range keys {
		for _, v := range values {
			parts := strings.Split(k, ".")
			var b strings.Builder
			for i, p := range parts[:len(parts)-1] {
				b.WriteString(strings.Repeat("  ", i) + p + ":\n")
				if p == "p" && k != "providers.p.plugin" {
					b.WriteString(strings.Repeat("  ", i+1) + "plugin: gateway\n")
				}
			}
			b.WriteString(strings.Repeat("  ", len(parts)-1) + parts[len(parts)-1] + ": " + v + "\n")
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Errorf("panic for %s = %s: %v", k, v, r)
					}
				}()
				cfg, err := parseYAML(t, b.String())
				if err != nil {
					if !strings.Contains(err.Error(), parts[0]) && !strings.Contains(err.Error(), "line") {
						t.Errorf("%s = %s: error does not name the key: %v", k, v, err)
					}
				} else if cfg == nil {
					t.Errorf("%s = %s: nil config without error", k, v)
				}
			}()
		}
	}
}
