package proxy

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/core"
	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/sdk"
)

// With Options.Providers, a request for a configured provider that is not listed, or for one that does not
// exist, is refused with 403 provider_not_served: its plugin is never asked for a token and nothing
// reaches its upstream; the listed provider is forwarded as usual. The refusal names only the served ones.
func TestProxyServesOnlyTheListedProviders(t *testing.T) {
	corpSrc, otherSrc := newFakeSource(time.Hour, time.Now), newFakeSource(time.Hour, time.Now)
	corpUp, otherUp := newUpstream(t, bearerValid(corpSrc)), newUpstream(t, bearerValid(otherSrc))
	corp, other := testProvider(corpUp.URL), testProvider(otherUp.URL)
	corp.Name, other.Name = "corp", "other"
	h, err := core.Open(context.Background(), core.Options{
		Config: &config.Config{Providers: []*config.Provider{corp, other}, Source: "test"},
		Logger: newTestLogger(io.Discard), InProcess: map[string]sdk.Source{"corp": corpSrc, "other": otherSrc}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	served := []string{"corp"}
	px := proxyFor(t, h, Options{APIKeys: []string{"run-key"}, Providers: served})
	served[0] = "other" // the handler keeps its own copy

	get := func(path string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, px.URL+path, nil)
		req.Header.Set("Authorization", "Bearer run-key")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for _, path := range []string{"/other/models", "/nosuch/models"} {
		resp := get(path)
		e := decodeError(t, resp)
		if resp.StatusCode != http.StatusForbidden || e.Error.Code != "provider_not_served" {
			t.Errorf("%s: %d %+v, want 403 provider_not_served", path, resp.StatusCode, e)
		}
		if !strings.Contains(e.Error.Message, "corp") || strings.Contains(e.Error.Message, "serves other") {
			t.Errorf("%s: the refusal %q should name the served provider corp and only it", path, e.Error.Message)
		}
	}
	if n := otherUp.requests.Load(); n != 0 {
		t.Errorf("%d requests for a provider the proxy does not serve reached its upstream", n)
	}
	otherSrc.mu.Lock()
	asked := otherSrc.serial
	otherSrc.mu.Unlock()
	if asked != 0 {
		t.Errorf("the plugin of a provider the proxy does not serve was asked for %d tokens", asked)
	}
	resp := get("/corp/models")
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || corpUp.requests.Load() != 1 {
		t.Errorf("/corp/models: %d, %d upstream requests; want 200 through the served provider", resp.StatusCode, corpUp.requests.Load())
	}
}
