package config

import (
	"reflect"
	"testing"
)

// Every variable an *_env option names — resolved secrets, ones the plugin reads itself, helper_env lists,
// at any depth, in any provider — and the store's key variable are listed; other keys' values are not.
func TestSecretVars(t *testing.T) {
	cfg := mustParse(t, `
store:
  backend: redis
  url: redis://cache.internal:6379
  encryption_key_env: STORE_KEY
providers:
  corp:
    plugin: gateway
    env: [CORP_ALLOWED]
    options:
      client_id: CLIENT_ID_NOT_A_VAR
      client_secret_env: CORP_SECRET
      nested:
        list: [{password_env: CORP_PW}]
  exch:
    plugin: gateway
    options:
      subject_token_env: SUBJECT_TOKEN
      helper_env: [VAULT_TOKEN, CORP_SECRET]
  static:
    plugin: gateway
    options:
      key_env: STATIC_KEY
      region_env: AWS_REGION
`, "STORE_KEY="+testStoreKey, "CORP_SECRET=s", "CORP_PW=p", "STATIC_KEY=k", "SUBJECT_TOKEN=t", "VAULT_TOKEN=v")
	want := []string{"AWS_REGION", "CORP_PW", "CORP_SECRET", "STATIC_KEY", "STORE_KEY", "SUBJECT_TOKEN", "VAULT_TOKEN"}
	if got := cfg.SecretVars(); !reflect.DeepEqual(got, want) {
		t.Errorf("SecretVars() = %q, want %q", got, want)
	}
	cfg.SecretVars()[0] = "changed"
	if got := cfg.SecretVars(); got[0] != want[0] {
		t.Errorf("SecretVars() returned the configuration's own slice: a caller's change shows as %q", got[0])
	}
}
