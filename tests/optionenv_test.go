package tests

import (
	"strings"
	"testing"
)

// The static-key recipe of docs/providers/gateway.md works with no env: list: the variable key_env names
// reaches the gateway plugin process, which prints the key.
func TestStaticKeyEnvReachesThePlugin(t *testing.T) {
	needBinaries(t)
	key := newSecret(t, "static-key")
	cfg := writeFile(t, "", "tokenhost.yaml", `
providers:
  corp:
    plugin: gateway
    upstream: http://127.0.0.1:1/v1
    options:
      grant: static
      key_env: CORP_LLM_API_KEY
`)
	r := tokenhost(t, cfg, []string{"CORP_LLM_API_KEY=" + key}, "token", "corp")
	if r.code != 0 {
		t.Fatalf("tokenhost token corp with key_env set:\n%s", r)
	}
	if strings.TrimSpace(r.stdout) != key {
		t.Errorf("tokenhost token corp did not print the key CORP_LLM_API_KEY holds\n%s", r)
	}
}

// A variable helper_env lists reaches the helper command with its value, with no env: list: the helper
// prints it as its token.
func TestHelperEnvReachesTheHelper(t *testing.T) {
	needBinaries(t)
	tok := newSecret(t, "helper-token")
	cfg := writeFile(t, "", "tokenhost.yaml", `
providers:
  corp:
    plugin: gateway
    upstream: http://127.0.0.1:1/v1
    options:
      grant: exec
      command: [sh, -c, 'printf %s "$CORP_HELPER_TOKEN"']
      helper_env: [CORP_HELPER_TOKEN]
`)
	r := tokenhost(t, cfg, []string{"CORP_HELPER_TOKEN=" + tok}, "token", "corp")
	if r.code != 0 {
		t.Fatalf("tokenhost token corp with helper_env set:\n%s", r)
	}
	if strings.TrimSpace(r.stdout) != tok {
		t.Errorf("tokenhost token corp did not print the value of CORP_HELPER_TOKEN\n%s", r)
	}
}

// An unset variable an option names is refused when the configuration loads, naming the option; the
// helper never prints a token.
func TestUnsetOptionVarIsALoadError(t *testing.T) {
	needBinaries(t)
	dir := t.TempDir()
	cfg := writeFile(t, dir, "tokenhost.yaml", `
providers:
  corp:
    plugin: gateway
    upstream: http://127.0.0.1:1/v1
    options:
      grant: exec
      command: [sh, -c, 'printf tok-xyz']
      helper_env: [CORP_HELPER_TOKEN]
`)
	r := runIn(t, dir, "", bins.tokenhost, []string{"token", "corp", "--config", cfg})
	want := "providers.corp.options.helper_env[0]: the environment variable CORP_HELPER_TOKEN is not set"
	if r.code == 0 || !strings.Contains(r.stderr, want) {
		t.Errorf("want a failure naming %q\n%s", want, r)
	}
	if strings.Contains(r.stdout, "tok-xyz") {
		t.Errorf("the helper ran although its variable is unset\n%s", r)
	}
}
