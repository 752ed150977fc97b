package config

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestShow(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tokenhost.yaml")
	if err := os.WriteFile(path, []byte(`
server:
  api_keys: [inbound-key-value-1]
providers:
  corp:
    plugin: gateway
    upstream: https://llm.corp.example/v1
    refresh_before: 2m
    options:
      client_id: agent
      client_secret_env: CORP_SECRET
      password: inline-password-value
      extra_headers: {x-tenant: emea, x-api-key: nested-key-value}
  other:
    plugin: gateway
`), 0o600); err != nil {
		t.Fatal(err)
	}
	s := Sources{File: path, Builtins: []string{"gateway"}, Environ: []string{"CORP_SECRET=env-secret-value", "TOKENHOST_PROVIDERS__CORP__FETCH_TIMEOUT=45s"}}
	out, err := Show(s, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"refresh_before: 2m0s  # file " + path,
		"fetch_timeout: 45s  # env TOKENHOST_PROVIDERS__CORP__FETCH_TIMEOUT",
		"open_for: 30s  # default",
		"client_secret: <redacted from env CORP_SECRET>  # file " + path,
		"password: <redacted>",
		"api_keys: <redacted: 1 keys>",
		"  other:\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
	for _, secret := range []string{"env-secret-value", "inline-password-value", "nested-key-value", "inbound-key-value-1"} {
		if strings.Contains(out, secret) {
			t.Errorf("show prints a secret:\n%s", out)
		}
	}
	if strings.Contains(out, "<not shown") {
		t.Errorf("a schema key has no matching setting to show (rename one of them):\n%s", out)
	}

	one, err := Show(s, "corp")
	if err != nil || strings.Contains(one, "other:") || strings.Contains(one, "server:") || !strings.Contains(one, "corp:") {
		t.Errorf("--provider corp: %v\n%s", err, one)
	}
	if _, err := Show(s, "nope"); err == nil || !strings.Contains(err.Error(), "corp") {
		t.Errorf("an unknown provider: %v", err)
	}
	if _, err := Show(Sources{File: path, Builtins: []string{"gateway"}}, ""); err == nil || !strings.Contains(err.Error(), "CORP_SECRET") {
		t.Errorf("an invalid configuration is shown: %v", err)
	}
}

// The store block is shown with the URL's password and secret query parameters replaced and the
// encryption key only as the variable or file it comes from.
func TestShowStore(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tokenhost.yaml")
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	if err := os.WriteFile(path, []byte(`
store:
  backend: redis
  url: redis://agent:url-password-value@redis.internal:6379/2?master_name=m&sentinel_password=sentinel-password-value
  encryption_key_env: TH_STORE_KEY
providers:
  corp:
    plugin: gateway
    upstream: https://llm.corp.example/v1
`), 0o600); err != nil {
		t.Fatal(err)
	}
	s := Sources{File: path, Builtins: []string{"gateway"}, Environ: []string{"TH_STORE_KEY=" + key, "TOKENHOST_STORE__TIMEOUT=2s"}}
	out, err := Show(s, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"store:\n  backend: redis  # file " + path,
		"redis://agent:REDACTED@redis.internal:6379/2?",
		"sentinel_password=REDACTED",
		"key_prefix: \"tokenhost:\"  # default",
		"encryption_key: <redacted from env TH_STORE_KEY>  # file " + path,
		"timeout: 2s  # env TOKENHOST_STORE__TIMEOUT",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
	for _, secret := range []string{"url-password-value", "sentinel-password-value", key} {
		if strings.Contains(out, secret) {
			t.Errorf("show prints a secret of the store block:\n%s", out)
		}
	}
	if one, _ := Show(s, "corp"); strings.Contains(one, "store:") {
		t.Errorf("--provider corp shows the store block:\n%s", one)
	}

	local, err := Show(Sources{File: writeFile(t, dir, "local.yaml", "providers:\n  corp:\n    plugin: gateway\n    upstream: https://llm.corp.example/v1\n"), Builtins: []string{"gateway"}}, "")
	if err != nil || !strings.Contains(local, "store:\n  backend: local  # default\n") {
		t.Errorf("without a store block: %v\n%s", err, local)
	}
}
