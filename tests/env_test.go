package tests

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tokenhost/tokenhost/internal/fakes"
)

// envNames runs `tokenhost token envp` against a config where envp is the envplugin (which reports the
// names of its environment variables as its token) and corp a gateway reading its secret from
// CORP_SECRET, and returns the names the plugin saw.
func envNames(t *testing.T, envList string, env ...string) []string {
	t.Helper()
	g := newGatewayFakes(t)
	text := "providers:\n" + provider{name: "corp", secretEnv: "CORP_SECRET"}.yaml(g) +
		fmt.Sprintf("  envp:\n    plugin: %q\n    upstream: https://llm.example.com/v1\n", bins.envplugin)
	if envList != "" {
		text += "    env: " + envList + "\n"
	}
	cfg := writeFile(t, "", "tokenhost-env.yaml", text)
	r := tokenhost(t, cfg, append([]string{"CORP_SECRET=" + g.secret}, env...), "token", "envp")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "env.") {
		t.Fatalf("token envp failed\n%s", r)
	}
	return strings.Split(strings.TrimPrefix(strings.TrimSpace(r.stdout), "env."), ".")
}

// An external plugin starts with the minimal environment plus its provider's env list: it sees neither
// another provider's secret variable nor the host's TOKENHOST_* overrides.
func TestExternalPluginGetsMinimalEnvironment(t *testing.T) {
	needBinaries(t)
	names := envNames(t, "[EXTRA_ALLOWED, MYPLUG_*]",
		"TOKENHOST_PROVIDERS__CORP__FETCH_TIMEOUT=31s", "UNRELATED_SECRET=x", "EXTRA_ALLOWED=1", "MYPLUG_A=1", "LANG=C.UTF-8", "TZ=UTC")
	for _, leak := range []string{"CORP_SECRET", "TOKENHOST_PROVIDERS__CORP__FETCH_TIMEOUT", "UNRELATED_SECRET"} {
		if slices.Contains(names, leak) {
			t.Errorf("the external plugin sees %s; names it saw: %v", leak, names)
		}
	}
	for _, want := range []string{"PATH", "HOME", "LANG", "TZ", "EXTRA_ALLOWED", "MYPLUG_A", "TOKENHOST_PLUGIN_COOKIE"} {
		if !slices.Contains(names, want) {
			t.Errorf("the external plugin does not see %s; names it saw: %v", want, names)
		}
	}
	for _, n := range names {
		if strings.HasPrefix(n, "TOKENHOST_") && n != "TOKENHOST_PLUGIN_COOKIE" {
			t.Errorf("the external plugin sees the host's own %s", n)
		}
	}
}

// A built-in gets the variables it declares it reads: codex finds auth.json through CODEX_HOME and its
// token endpoint through CODEX_REFRESH_TOKEN_URL_OVERRIDE, neither of them named in the config.
func TestBuiltinGetsTheVariablesItDeclares(t *testing.T) {
	needBinaries(t)
	auth := fakes.NewCodexAuthServer(fakes.CodexAuthConfig{})
	defer auth.Close()
	home := t.TempDir()
	seedExpiredCodexAuth(t, auth, filepath.Join(home, "auth.json"))
	cfg := writeFile(t, "", "tokenhost.yaml", "providers:\n  codex:\n    plugin: codex\n    upstream: http://127.0.0.1:9/v1\n")
	r := tokenhost(t, cfg, []string{"CODEX_HOME=" + home, "CODEX_REFRESH_TOKEN_URL_OVERRIDE=" + auth.TokenURL()}, "token", "codex")
	if r.code != 0 || !auth.Valid(strings.TrimSpace(r.stdout)) {
		t.Fatalf("token codex did not print a token refreshed through the endpoint CODEX_REFRESH_TOKEN_URL_OVERRIDE names\n%s", r)
	}
}
