package tests

import (
	"strings"
	"testing"
)

// `tokenhost config validate` checks a file without starting plugins (exit 0/1, one error per line, each
// naming its key), --strict also runs each plugin's Configure; `config show` prints the effective
// configuration with origins and no secret.
func TestConfigValidateAndShow(t *testing.T) {
	g := newGatewayFakes(t)
	good, env := corpConfig(t, g, "")
	if r := tokenhost(t, "", env, "config", "validate", good); r.code != 0 || !strings.Contains(r.stdout, "ok (1 providers)") {
		t.Fatalf("a valid file:\n%s", r)
	}
	bad := writeFile(t, "", "bad.yaml", "providers:\n  corp:\n    plugn: gateway\n    refresh_before: soon\n")
	r := tokenhost(t, "", nil, "config", "validate", bad)
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if r.code != 1 || len(lines) < 2 {
		t.Fatalf("an invalid file: want exit 1 and one line per error\n%s", r)
	}
	for _, l := range lines {
		if !strings.Contains(l, "providers.corp") {
			t.Errorf("error line names no key: %q", l)
		}
	}
	if !strings.Contains(r.stderr, `did you mean "plugin"`) {
		t.Errorf("no suggestion for the misspelt key:\n%s", r)
	}

	// Valid as a file, refused by the plugin: only --strict finds out.
	unknownOption, uenv := corpConfig(t, g, "tokn_url: x")
	if r := tokenhost(t, "", uenv, "config", "validate", unknownOption); r.code != 0 {
		t.Fatalf("without --strict the plugin is not asked:\n%s", r)
	}
	if r := tokenhost(t, "", uenv, "config", "validate", "--strict", unknownOption); r.code != 1 || !strings.Contains(r.stderr, "providers.corp.options.tokn_url") {
		t.Fatalf("--strict: want the plugin's BadConfig naming the option\n%s", r)
	}

	show := tokenhost(t, good, env, "config", "show", "--provider", "corp")
	if show.code != 0 || !strings.Contains(show.stdout, "client_secret: <redacted from env CORP_SECRET>") || strings.Contains(show.stdout, g.secret) {
		t.Fatalf("config show:\n%s", show)
	}
}

// An external plugin's provider without an upstream fails `config validate`, `check` and `serve --eager`
// with a message saying what to set, and points at no docs page that cannot exist.
func TestExternalPluginNeedsAnUpstream(t *testing.T) {
	needBinaries(t)
	cfg := writeFile(t, "", "tokenhost.yaml", "providers:\n  old:\n    plugin: "+bins.pluginv1+"\n")
	for _, args := range [][]string{{"config", "validate", cfg}, {"check", "--config", cfg}, {"serve", "--eager", "--listen", "127.0.0.1:0", "--config", cfg}} {
		r := tokenhost(t, "", nil, args...)
		if r.code == 0 || !strings.Contains(r.stderr, "providers.old.upstream: required for an external plugin") || strings.Contains(r.stderr, "docs/providers/") {
			t.Errorf("%v:\n%s", args, r)
		}
	}
}
