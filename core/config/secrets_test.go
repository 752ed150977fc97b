package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const secretValue = "s3cr3t-VALUE-never-shown"

func TestSecretFromEnv(t *testing.T) {
	src := `
providers:
  corp:
    plugin: gateway
    options:
      client_id: abc
      client_secret_env: CORP_SECRET
      nested:
        api_key_env: CORP_KEY
        list: [{password_env: CORP_PW}]
`
	cfg := mustParse(t, src, "CORP_SECRET="+secretValue, "CORP_KEY=k-123", "CORP_PW=pw")
	want := map[string]any{
		"client_id":     "abc",
		"client_secret": secretValue,
		"nested": map[string]any{
			"api_key": "k-123",
			"list":    []any{map[string]any{"password": "pw"}},
		},
	}
	if got := cfg.Providers[0].Options; !reflect.DeepEqual(got, want) {
		t.Errorf("options = %#v\nwant %#v", got, want)
	}
}

func TestSecretFromFile(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "etc/secret.txt", secretValue+"\n")
	writeFile(t, dir, "home/.tok", "tok\r\n")
	src := `
providers:
  corp:
    plugin: gateway
    options:
      client_secret_file: secret.txt
      token_file: ~/.tok
      auth_file: ~/.codex/auth.json
      ca_file: ca.pem
      certificate_file: cert.pem
      creds_file: creds.json
      region_env: AWS_REGION
`
	source := filepath.Join(dir, "etc", "tokenhost.yaml")
	cfg, err := Parse([]byte(src), source, Sources{Builtins: builtins, Environ: []string{"HOME=" + filepath.Join(dir, "home")}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"client_secret": secretValue,
		"token":         "tok",
		// Not secrets: left as written, for the plugin to interpret.
		"auth_file":        "~/.codex/auth.json",
		"ca_file":          "ca.pem",
		"certificate_file": "cert.pem",
		"creds_file":       "creds.json",
		"region_env":       "AWS_REGION",
	}
	if got := cfg.Providers[0].Options; !reflect.DeepEqual(got, want) {
		t.Errorf("options = %#v\nwant %#v", got, want)
	}
}

func TestSecretErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "empty", "\n")
	unreadable := writeFile(t, dir, "unreadable", secretValue)
	if err := os.Chmod(unreadable, 0); err != nil {
		t.Fatal(err)
	}
	canRead := false
	if f, err := os.Open(unreadable); err == nil { // running as root
		canRead = true
		f.Close()
	}
	env := []string{"CORP_SECRET=" + secretValue, "EMPTY="}
	cases := []struct {
		name, options string
		want          []string
	}{
		{"unset", "client_secret_env: MISSING",
			[]string{"providers.corp.options.client_secret_env: environment variable MISSING is not set"}},
		{"empty", "client_secret_env: EMPTY",
			[]string{"providers.corp.options.client_secret_env: environment variable EMPTY is not set", "empty"}},
		{"secret written as name", "client_secret_env: " + secretValue,
			[]string{"providers.corp.options.client_secret_env: ", "is not set"}},
		{"name not string", "client_secret_env: 5",
			[]string{"providers.corp.options.client_secret_env: must be the name of an environment variable, got a number"}},
		{"both inline and env", "client_secret: " + secretValue + "\n      client_secret_env: CORP_SECRET",
			[]string{"providers.corp.options.client_secret_env: conflicts with client_secret"}},
		{"both env and file", "client_secret_file: x\n      client_secret_env: CORP_SECRET",
			[]string{"providers.corp.options.client_secret_file: conflicts with client_secret_env"}},
		{"both inline and file", "client_secret: " + secretValue + "\n      client_secret_file: x",
			[]string{"providers.corp.options.client_secret_file: conflicts with client_secret"}},
		{"missing file", "client_secret_file: nope.txt",
			[]string{"providers.corp.options.client_secret_file: cannot read " + filepath.Join(dir, "nope.txt")}},
		{"directory", "client_secret_file: .",
			[]string{"providers.corp.options.client_secret_file: cannot read " + dir, "not a regular file"}},
		{"empty file", "client_secret_file: empty",
			[]string{"providers.corp.options.client_secret_file: file " + filepath.Join(dir, "empty") + " is empty"}},
		{"nested", "nested:\n        api_key_env: MISSING",
			[]string{"providers.corp.options.nested.api_key_env: environment variable MISSING is not set"}},
	}
	if !canRead {
		cases = append(cases, struct {
			name, options string
			want          []string
		}{"unreadable", "client_secret_file: unreadable",
			[]string{"providers.corp.options.client_secret_file: cannot read " + unreadable, "permission denied"}})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := "providers:\n  corp:\n    plugin: gateway\n    options:\n      " + c.options + "\n"
			_, err := Parse([]byte(src), filepath.Join(dir, "tokenhost.yaml"), Sources{Builtins: builtins, Environ: env})
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), secretValue) {
				t.Errorf("error shows the secret: %v", err)
			}
			for _, line := range errLines(err) {
				ok := strings.HasPrefix(line, c.want[0])
				for _, w := range c.want[1:] {
					ok = ok && strings.Contains(line, w)
				}
				if ok {
					return
				}
			}
			t.Errorf("want a line starting %q containing %q; got:\n%v", c.want[0], c.want[1:], err)
		})
	}
}

func TestSecretRef(t *testing.T) {
	cases := map[string][2]string{
		"client_secret_env":  {"client_secret", "env"},
		"client_secret_file": {"client_secret", "file"},
		"API_KEY_ENV":        {"API_KEY", "env"},
		"password_file":      {"password", "file"},
		"refresh_token_file": {"refresh_token", "file"},
		"api_key_file":       {"api_key", "file"},
		// Read by the plugin itself on every use (secretopt.PluginReads): passed through as written.
		"private_key_file":    {"", ""},
		"key_file":            {"", ""},
		"key_env":             {"", ""},
		"subject_token_file":  {"", ""},
		"subject_token_env":   {"", ""},
		"actor_token_file":    {"", ""},
		"assertion_file":      {"", ""},
		"credentials_file":    {"", ""}, // a path by convention (Google ADC), not a secret
		"auth_file":           {"", ""},
		"ca_file":             {"", ""},
		"certificate_file":    {"", ""},
		"creds_file":          {"", ""},
		"_env":                {"", ""},
		"client_secret":       {"", ""},
		"client_secret_env_x": {"", ""},
	}
	for k, want := range cases {
		base, kind := secretRef(k)
		if [2]string{base, kind} != want {
			t.Errorf("secretRef(%q) = %q, %q; want %q", k, base, kind, want)
		}
	}
}
