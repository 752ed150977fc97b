package config

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestServerAllowedOrigins(t *testing.T) {
	cfg := mustParse(t, "server:\n  allowed_origins: ['https://App.Example.com', 'http://localhost:3000/']\n")
	if got := cfg.Server.AllowedOrigins; !slices.Equal(got, []string{"https://app.example.com", "http://localhost:3000"}) {
		t.Fatalf("allowed_origins = %q", got)
	}
	cfg = mustParse(t, "", "TOKENHOST_SERVER__ALLOWED_ORIGINS=https://a.example,https://b.example")
	if got := cfg.Server.AllowedOrigins; !slices.Equal(got, []string{"https://a.example", "https://b.example"}) {
		t.Fatalf("allowed_origins from the environment = %q", got)
	}
	for _, bad := range []string{"*", "null", "app.example.com", "https://app.example.com/path", "ftp://x.example", "https://*.example.com", "https://u:p@x.example"} {
		_, err := parseYAML(t, "server:\n  allowed_origins: ['"+bad+"']\n")
		if err == nil || !strings.Contains(err.Error(), "server.allowed_origins[0]: ") {
			t.Errorf("%q: error %v, want one naming server.allowed_origins[0]", bad, err)
		}
	}
}

// A non-loopback listen needs TLS, or insecure_plaintext on purpose; loopback needs neither.
func TestServerNonLoopbackNeedsTLS(t *testing.T) {
	const keys = "server:\n  listen: 0.0.0.0:8787\n  api_keys: [k]\n"
	_, err := parseYAML(t, keys)
	if err == nil || !strings.Contains(err.Error(), "server.listen: 0.0.0.0:8787 is not a loopback address and server.tls is not set") ||
		!strings.Contains(err.Error(), "server.insecure_plaintext: true") {
		t.Fatalf("plain HTTP beyond loopback: %v", err)
	}
	if _, err := parseYAML(t, keys+"  insecure_plaintext: true\n"); err != nil {
		t.Errorf("insecure_plaintext: %v", err)
	}
	if _, err := parseYAML(t, keys, "TOKENHOST_SERVER__INSECURE_PLAINTEXT=TRUE"); err != nil {
		t.Errorf("insecure_plaintext from the environment: %v", err)
	}
	cfg, err := parseYAML(t, keys+"  tls: {cert_file: c.pem, key_file: k.pem}\n")
	if err != nil || !cfg.Server.TLS.Enabled() || !filepath.IsAbs(cfg.Server.TLS.CertFile) {
		t.Errorf("tls: %+v %v", cfg, err)
	}
	for _, c := range []struct{ src, want string }{
		{"server:\n  tls: {cert_file: c.pem}\n", "server.tls.key_file: required with server.tls.cert_file"},
		{"server:\n  tls: {key_file: k.pem}\n", "server.tls.cert_file: required with server.tls.key_file"},
		{keys + "  tls: {key_file: k.pem}\n", "server.tls.cert_file: required"},
		{"server:\n  tls: {cert: c.pem}\n", "server.tls.cert: unknown key"},
		{"server:\n  insecure_plaintext: yes please\n", "server.insecure_plaintext: must be true or false"},
	} {
		_, err := parseYAML(t, c.src)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.src, err, c.want)
		}
		if err != nil && strings.Contains(c.src, "0.0.0.0") && strings.Contains(err.Error(), "server.tls is not set") {
			t.Errorf("%q: a half-given server.tls also reported as not set: %v", c.src, err)
		}
	}
}
