package core

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/tokenhost/tokenhost/sdk"
)

// allowed_hosts and a plugin's AllowedHosts widen where the token may go, exactly as far as written.
func TestAllowedHostsAndWildcards(t *testing.T) {
	pc := testProvider("https://api.example.com/v1")
	pc.AllowedHosts = []string{"files.example.com", "alt.example.com:8443", "*.storage.example.net"}
	s, err := resolveSettings(pc, sdk.Info{AllowedHosts: []string{"chatgpt.com"}})
	if err != nil {
		t.Fatal(err)
	}
	for raw, want := range map[string]bool{
		"https://files.example.com/x":         true,
		"https://files.example.com:443/x":     true,
		"https://files.example.com:8443/x":    false, // no port given: the default port only
		"https://alt.example.com:8443/x":      true,
		"https://alt.example.com/x":           false,
		"https://chatgpt.com/backend-api":     true, // from the plugin's Info
		"https://a.storage.example.net/blob":  true,
		"https://a.b.storage.example.net/x":   true,
		"https://storage.example.net/x":       false, // the wildcard needs a subdomain
		"https://evilstorage.example.net/x":   false,
		"http://a.storage.example.net/x":      false, // never in clear text to a remote host
		"https://a.storage.example.net:444/x": false,
	} {
		req, _ := http.NewRequest(http.MethodGet, raw, nil)
		if got := s.allowed(req.URL); got != want {
			t.Errorf("allowed(%s) = %v, want %v", raw, got, want)
		}
	}
}

func TestResolveSettingsErrors(t *testing.T) {
	pc := testProvider("")
	if _, err := resolveSettings(pc, sdk.Info{}); err == nil || !strings.Contains(err.Error(), "providers.p.upstream: required") {
		t.Fatalf("no upstream anywhere: %v", err)
	}
	if _, err := resolveSettings(pc, sdk.Info{Upstream: "http://llm.example.com/v1"}); err == nil || !strings.Contains(err.Error(), "https") {
		t.Fatalf("a plugin's clear-text remote default must be refused: %v", err)
	}
	s, err := resolveSettings(pc, sdk.Info{Upstream: "https://llm.example.com/v1", Header: "api-key", Scheme: ""})
	if err != nil || s.header != "Api-Key" || s.value("k") != "k" {
		t.Fatalf("the plugin's header mode: %+v %v", s, err)
	}
	pc.Header = "X-Token" // the config's header wins, with the Bearer scheme unless scheme is given
	if s, _ := resolveSettings(pc, sdk.Info{Upstream: "https://llm.example.com/v1", Header: "api-key"}); s.header != "X-Token" || s.value("k") != "Bearer k" {
		t.Fatalf("the config's header: %+v", s)
	}
}

// A plugin's BadConfig from Configure names the option by its full config path.
func TestConfigureBadConfigNamesTheOptionPath(t *testing.T) {
	h, _ := newTestHost(t, &badConfigSource{}, testProvider("https://api.example.com"), nil, nil)
	_, err := h.token(context.Background(), "p")
	if err == nil || !strings.HasPrefix(err.Error(), "providers.p.options.token_url: must be https") || !sdk.IsKind(err, sdk.KindBadConfig) {
		t.Fatalf("err = %v", err)
	}
}

type badConfigSource struct{ fakeSource }

func (*badConfigSource) Configure(context.Context, map[string]any) (sdk.Info, error) {
	return sdk.Info{}, sdk.BadConfig("token_url", "must be https")
}
