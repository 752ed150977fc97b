package core

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tokenhost/tokenhost/sdk"
)

// A public-suffix wildcard from a plugin (or an embedder's hand-built config) is refused, never kept.
func TestAllowedHostsRefusePublicSuffixWildcards(t *testing.T) {
	for _, h := range []string{"*.com", "*.co.uk", "*.github.io", "*.COM."} {
		pc := testProvider("https://api.example.com/v1")
		if _, err := resolveSettings(pc, sdk.Info{AllowedHosts: []string{h}}); err == nil || !strings.Contains(err.Error(), "public suffix") || !strings.Contains(err.Error(), "plugin") {
			t.Errorf("plugin-supplied %q: err = %v, want a public-suffix refusal naming the plugin", h, err)
		}
		pc.AllowedHosts = []string{strings.ToLower(h)}
		if _, err := resolveSettings(pc, sdk.Info{}); err == nil || !strings.Contains(err.Error(), "providers.p.allowed_hosts") {
			t.Errorf("config %q: err = %v, want a refusal naming providers.p.allowed_hosts", h, err)
		}
	}
}

// A wildcard with a port matches exactly that port (it used to be kept and silently never match).
func TestWildcardWithPortWorks(t *testing.T) {
	pc := testProvider("https://api.example.com/v1")
	pc.AllowedHosts = []string{"*.files.example.net:8443"}
	s, err := resolveSettings(pc, sdk.Info{})
	if err != nil {
		t.Fatal(err)
	}
	for raw, want := range map[string]bool{
		"https://a.files.example.net:8443/x": true,
		"https://a.files.example.net/x":      false,
		"https://a.files.example.net:443/x":  false,
		"https://files.example.net:8443/x":   false,
		"http://a.files.example.net:8443/x":  false,
	} {
		req, _ := http.NewRequest(http.MethodGet, raw, nil)
		if got := s.allowed(req.URL); got != want {
			t.Errorf("allowed(%s) = %v, want %v", raw, got, want)
		}
	}
}
