package config

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestEnvOverrides(t *testing.T) {
	src := `
providers:
  corp:
    plugin: gateway
    upstream: https://old.example
    options:
      client_id: abc
`
	cfg := mustParse(t, src,
		"TOKENHOST_PROVIDERS__CORP__UPSTREAM=https://new.example/v1",
		"TOKENHOST_PROVIDERS__CORP__ALLOWED_HOSTS=a.example, b.example",
		"TOKENHOST_PROVIDERS__CORP__RETRY_STATUSES=401,403",
		"TOKENHOST_PROVIDERS__CORP__REFRESH_BEFORE=90",
		"TOKENHOST_PROVIDERS__CORP__MAX_REPLAY_BYTES=1MiB",
		"TOKENHOST_PROVIDERS__CORP__BREAKER__FAILURES=7",
		"TOKENHOST_PROVIDERS__CORP__SCHEME=",
		"TOKENHOST_PROVIDERS__CORP__OPTIONS__AUDIENCE=https://aud.example",
		"TOKENHOST_PROVIDERS__CORP__OPTIONS__EXTRA_PARAMS__RESOURCE=r1",
		"TOKENHOST_SERVER__LISTEN=0.0.0.0:9999",
		"TOKENHOST_SERVER__API_KEYS=k1,k2",
		"TOKENHOST_SERVER__SHUTDOWN_GRACE=1m",
		"TOKENHOST_SERVER__INSECURE_PLAINTEXT=true",
		// Not overrides: no double underscore, or another prefix.
		"TOKENHOST_CONFIG=/nonexistent",
		"TOKENHOST_PLUGIN_COOKIE=xyz",
		"OTHER__SERVER__LISTEN=bad",
	)
	p := cfg.Provider("corp")
	checks := []struct {
		name      string
		got, want any
	}{
		{"upstream", p.Upstream, "https://new.example/v1"},
		{"allowed_hosts", p.AllowedHosts, []string{"a.example", "b.example"}},
		{"retry_statuses", p.RetryStatuses, []int{401, 403}},
		{"refresh_before", p.RefreshBefore, 90 * time.Second},
		{"max_replay_bytes", p.MaxReplayBytes, int64(1 << 20)},
		{"breaker", p.Breaker, Breaker{Failures: 7, OpenFor: DefaultOpenFor}},
		{"scheme", [2]any{p.Scheme, p.SchemeSet}, [2]any{"", true}},
		{"options", p.Options, map[string]any{
			"client_id":    "abc",
			"audience":     "https://aud.example",
			"extra_params": map[string]any{"resource": "r1"},
		}},
		{"listen", cfg.Server.Listen, "0.0.0.0:9999"},
		{"api_keys", cfg.Server.APIKeys, []string{"k1", "k2"}},
		{"shutdown_grace", cfg.Server.ShutdownGrace, time.Minute},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
}

func TestEnvCreatesProvider(t *testing.T) {
	cfg := mustParse(t, "",
		"TOKENHOST_PROVIDERS__LOCAL__PLUGIN=gateway",
		"TOKENHOST_PROVIDERS__LOCAL__UPSTREAM=http://127.0.0.1:9000",
	)
	if got := cfg.Names(); !slices.Equal(got, []string{"local"}) {
		t.Fatalf("providers = %v", got)
	}
	if p := cfg.Providers[0]; p.Plugin != "gateway" || p.Upstream != "http://127.0.0.1:9000" {
		t.Errorf("provider = %+v", p)
	}

	_, err := parseYAML(t, "", "TOKENHOST_PROVIDERS__LOCAL__UPSTREAM=https://x.example")
	if err == nil || !strings.Contains(err.Error(), "providers.local.plugin: required") ||
		!strings.Contains(err.Error(), "TOKENHOST_PROVIDERS__LOCAL__PLUGIN") {
		t.Errorf("provider without plugin: %v", err)
	}
}

func TestEnvOverrideOnEmbeddedDefault(t *testing.T) {
	cfg, err := Load(Sources{
		Dir:      t.TempDir(),
		Builtins: builtins,
		Environ:  []string{"TOKENHOST_SERVER__LISTEN=127.0.0.1:1234", "TOKENHOST_PROVIDERS__CORP__PLUGIN=gateway"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Source != EmbeddedSource || cfg.Server.Listen != "127.0.0.1:1234" || cfg.Provider("corp") == nil {
		t.Errorf("got %+v", cfg)
	}
}

func TestEnvErrors(t *testing.T) {
	cases := []struct {
		env  []string
		want []string
	}{
		{[]string{"TOKENHOST_SERVER__LISTEN=0.0.0.0:1"},
			[]string{"server.listen: 0.0.0.0:1 is not a loopback address", "(set by environment variable TOKENHOST_SERVER__LISTEN)"}},
		{[]string{"TOKENHOST_SERVR__LISTEN=x"},
			[]string{`servr: unknown key (did you mean "server"?)`, "TOKENHOST_SERVR__LISTEN"}},
		{[]string{"TOKENHOST_PROVIDERS__P__PLUGIN=gateway", "TOKENHOST_PROVIDERS__P__RETRY_STATUSES=401,abc"},
			[]string{`providers.p.retry_statuses[1]: must be an HTTP status code (100-599), got "abc"`, "(set by environment variable TOKENHOST_PROVIDERS__P__RETRY_STATUSES)"}},
		{[]string{"TOKENHOST_PROVIDERS__P__PLUGIN=gateway", "TOKENHOST_GROUPS__CHAT__MEMBERS=p,nope"},
			[]string{`groups.chat.members[1]: unknown provider "nope"`, "(set by environment variable TOKENHOST_GROUPS__CHAT__MEMBERS)"}},
		{[]string{"TOKENHOST_PROVIDERS__P__PLUGIN=gateway", "TOKENHOST_PROVIDERS__P__BREAKER__FAILURES=lots"},
			[]string{`providers.p.breaker.failures: must be a whole number, got "lots"`}},
		{[]string{"TOKENHOST_SERVER____LISTEN=x"}, []string{"TOKENHOST_SERVER____LISTEN: empty key level"}},
		{[]string{"TOKENHOST_PROVIDERS__P=x", "TOKENHOST_PROVIDERS__P__PLUGIN=gateway"},
			[]string{"providers.p: environment variable TOKENHOST_PROVIDERS__P sets a value, but TOKENHOST_PROVIDERS__P__PLUGIN sets a key inside it"}},
		{[]string{"TOKENHOST_PROVIDERS__P__PLUGIN=gateway", "TOKENHOST_PROVIDERS__P__OPTIONS=x"},
			[]string{"providers.p.options: must be a mapping, got a string"}},
	}
	for _, c := range cases {
		_, err := parseYAML(t, "", c.env...)
		if err == nil {
			t.Errorf("%v: no error", c.env)
			continue
		}
		found := false
		for _, line := range errLines(err) {
			ok := strings.HasPrefix(line, c.want[0])
			for _, w := range c.want[1:] {
				ok = ok && strings.Contains(line, w)
			}
			found = found || ok
		}
		if !found {
			t.Errorf("%v: want a line starting %q containing %q; got:\n%v", c.env, c.want[0], c.want[1:], err)
		}
	}
}

func TestEnvEmptyListClears(t *testing.T) {
	cfg := mustParse(t, "providers:\n  p:\n    plugin: gateway\n    retry_statuses: [401]\n",
		"TOKENHOST_PROVIDERS__P__RETRY_STATUSES=")
	if got := cfg.Providers[0].RetryStatuses; len(got) != 0 {
		t.Errorf("retry_statuses = %v, want empty", got)
	}
}
