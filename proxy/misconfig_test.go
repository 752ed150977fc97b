package proxy

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tokenhost/tokenhost/sdk"
)

// refusingSource is a plugin whose Configure refuses its options.
type refusingSource struct{ sdk.Source }

func (refusingSource) Configure(context.Context, map[string]any) (sdk.Info, error) {
	return sdk.Info{}, sdk.BadConfig("token_url", "is required")
}

// A provider whose plugin refuses its configuration answers its routes with the documented 500 bad_config
// (naming the key once), and /readyz — without --eager — reports it as misconfigured from then on.
func TestProxyMisconfiguredProvider(t *testing.T) {
	h := newTestHost(t, refusingSource{}, testProvider("https://llm.example.com/v1"))
	srv := proxyFor(t, h, Options{})
	if resp, err := http.Get(srv.URL + "/readyz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("before any request /readyz: %v %v", resp.StatusCode, err)
	}
	resp, err := http.Post(srv.URL+"/p/chat/completions", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var e openAIError
	if resp.StatusCode != http.StatusInternalServerError || json.Unmarshal(body, &e) != nil || e.Error.Code != "bad_config" {
		t.Fatalf("a request: %d %s; want 500 bad_config", resp.StatusCode, body)
	}
	if n := strings.Count(e.Error.Message, "provider p"); n > 1 || !strings.Contains(e.Error.Message, "providers.p.options.token_url") {
		t.Errorf("the message names the provider %d times or not the key: %s", n, e.Error.Message)
	}
	ready, err := http.Get(srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := io.ReadAll(ready.Body)
	ready.Body.Close()
	var rj struct {
		Misconfigured []string `json:"misconfigured_providers"`
	}
	if ready.StatusCode != http.StatusServiceUnavailable || json.Unmarshal(rb, &rj) != nil || len(rj.Misconfigured) != 1 || rj.Misconfigured[0] != "p" {
		t.Fatalf("/readyz after the config error: %d %s", ready.StatusCode, rb)
	}
}
