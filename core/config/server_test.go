package config

import (
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
