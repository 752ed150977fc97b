package config

import (
	"slices"
	"strings"
	"testing"
)

const optionVarsSrc = `
providers:
  corp:
    plugin: gateway
    env: [CORP_EXTRA]
    options:
      grant: token_exchange
      subject_token_env: CORP_SUBJECT
      helper_env: [CORP_HELPER, CORP_EMPTY, corp_lower]
  other:
    plugin: gateway
    options:
      grant: static
      key_env: OTHER_KEY
`

// The variables a provider's options name for its plugin join that provider's plugin environment, and
// only that provider's.
func TestOptionVarsJoinTheProvidersEnv(t *testing.T) {
	cfg := mustParse(t, optionVarsSrc, "CORP_SUBJECT=s", "CORP_HELPER=h", "CORP_EMPTY=", "corp_lower=l", "OTHER_KEY=k")
	want := map[string][]string{
		"corp":  {"CORP_EXTRA", "CORP_EMPTY", "CORP_HELPER", "CORP_SUBJECT", "corp_lower"},
		"other": {"OTHER_KEY"},
	}
	for _, p := range cfg.Providers {
		got := slices.Clone(p.Env)
		slices.Sort(got)
		w := slices.Clone(want[p.Name])
		slices.Sort(w)
		if !slices.Equal(got, w) {
			t.Errorf("providers.%s env = %q, want %q", p.Name, got, w)
		}
	}
}

// An unset variable, or an empty key_env / subject_token_env, is a load-time error naming the option.
func TestOptionVarsUnsetIsALoadError(t *testing.T) {
	_, err := parseYAML(t, optionVarsSrc, "CORP_SUBJECT=", "CORP_EMPTY=", "corp_lower=l")
	want := []string{
		"providers.corp.options.helper_env[0]: the environment variable CORP_HELPER is not set: export it",
		"providers.corp.options.subject_token_env: the environment variable CORP_SUBJECT is empty",
		"providers.other.options.key_env: the environment variable OTHER_KEY is not set",
	}
	for _, w := range want {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("Parse error = %v\nwant it to contain %q", err, w)
		}
	}
	if err != nil && strings.Contains(err.Error(), "CORP_EMPTY") {
		t.Errorf("an empty helper_env variable is an error: %v", err)
	}
}
