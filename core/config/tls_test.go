package config

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestTLSBlock(t *testing.T) {
	dir := t.TempDir()
	src := `
providers:
  corp:
    plugin: gateway
    upstream: https://llm.corp.example/v1
    tls:
      cert_file: certs/client.pem
      key_file: /etc/tokenhost/client.key
      ca_file: ~/corp-ca.pem
`
	cfg, err := Parse([]byte(src), filepath.Join(dir, "tokenhost.yaml"), Sources{Builtins: builtins, Dir: dir, Environ: []string{"HOME=/home/u"}})
	if err != nil {
		t.Fatal(err)
	}
	got := cfg.Providers[0].TLS
	want := TLS{CertFile: filepath.Join(dir, "certs/client.pem"), KeyFile: "/etc/tokenhost/client.key", CAFile: "/home/u/corp-ca.pem"}
	if got != want {
		t.Errorf("TLS = %+v, want %+v", got, want)
	}

	for name, c := range map[string]struct{ block, want string }{
		"cert without key": {"tls: {cert_file: c.pem}", "providers.corp.tls: cert_file and key_file go together"},
		"unknown key":      {"tls: {cert_fil: c.pem}", "providers.corp.tls.cert_fil"},
	} {
		_, err := parseYAML(t, "providers:\n  corp:\n    plugin: gateway\n    upstream: https://x.example\n    "+c.block+"\n")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
}
