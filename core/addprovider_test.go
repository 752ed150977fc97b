package core

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/internal/fakes"
)

// An embedder adds a provider while the host runs: its plugin (a real gateway process) gets tokens from
// the identity provider and the upstream accepts them, with no configuration file entry.
func TestAddProviderAtRunTime(t *testing.T) {
	idp := fakes.NewOAuthServer(fakes.OAuthConfig{ClientID: "agent", ClientSecret: "added-secret-value"})
	t.Cleanup(idp.Close)
	up := fakes.NewUpstream(idp.Valid)
	t.Cleanup(up.Close)
	t.Setenv("ADDED_SECRET", "added-secret-value")
	src := newFakeSource(0, nil)
	h, _ := newTestHost(t, src, testProvider("http://127.0.0.1:1"), nil, nil)

	p, err := h.AddProvider("tools", map[string]any{
		"plugin":   "gateway",
		"upstream": up.URL(),
		"options": map[string]any{"grant": "client_credentials", "token_url": idp.TokenURL(), "client_id": "agent",
			"client_secret_env": "ADDED_SECRET", "auth_style": "basic"},
	})
	if err != nil {
		t.Fatalf("AddProvider: %v", err)
	}
	if got := h.Config().Names(); !slices.Equal(got, []string{"p", "tools"}) {
		t.Fatalf("providers after AddProvider: %v", got)
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, up.URL()+"/chat/completions", strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	resp, err := p.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || idp.Issued() != 1 {
		t.Fatalf("added provider: status %d (%d tokens issued): %s", resp.StatusCode, idp.Issued(), body)
	}
	if c, err := h.Client("tools"); err != nil || c == nil {
		t.Fatalf("h.Client of the added provider: %v", err)
	}
	if _, err := h.AddProvider("tools", map[string]any{"plugin": "gateway", "upstream": up.URL()}); err == nil || !strings.Contains(err.Error(), "already configured") {
		t.Fatalf("adding a name twice: %v, want an error saying it is already configured", err)
	}
	if _, err := h.AddProvider("p", map[string]any{"plugin": "gateway"}); err == nil || !strings.Contains(err.Error(), "already configured") {
		t.Fatalf("adding a name from the configuration: %v, want an error saying it is already configured", err)
	}
	if _, err := p.Token(context.Background()); err != nil {
		t.Fatalf("the added provider's handle after failed adds: %v", err)
	}
}

// A bad provider block is refused with exactly the problems the same entry in a configuration file has,
// and nothing changes.
func TestAddProviderValidatesLikeTheFile(t *testing.T) {
	h, _ := newTestHost(t, newFakeSource(0, nil), testProvider("http://127.0.0.1:1"), nil, nil)
	for name, c := range map[string]struct {
		block map[string]any
		yaml  string
	}{
		"bad": {map[string]any{"plugin": "gatewy", "upstream": "http://llm.example.com/v1", "refresh_before": "soon", "retry_statuses": []any{401, 700}, "colour": "red"},
			"plugin: gatewy\n    upstream: http://llm.example.com/v1\n    refresh_before: soon\n    retry_statuses: [401, 700]\n    colour: red\n"},
		"Bad.Name": {map[string]any{"plugin": "gateway"}, "plugin: gateway\n"},
		"ext":      {map[string]any{"plugin": "./no/such/plugin"}, "plugin: ./no/such/plugin\n"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := h.AddProvider(name, c.block)
			if err == nil {
				t.Fatal("AddProvider accepted a bad block")
			}
			_, ferr := config.Parse([]byte("providers:\n  "+quoteKey(name)+":\n    "+c.yaml), "tokenhost.yaml", config.Sources{Builtins: Builtins()})
			if ferr == nil {
				t.Fatal("the file form was accepted")
			}
			want := "add provider " + name + ": " + ferr.Error()
			if err.Error() != want {
				t.Fatalf("AddProvider error:\n%s\nwant the file's:\n%s", err, want)
			}
			if got := h.Config().Names(); !slices.Equal(got, []string{"p"}) {
				t.Fatalf("providers after a refused add: %v", got)
			}
		})
	}
}

func quoteKey(k string) string {
	if strings.ContainsAny(k, ".") {
		return `"` + k + `"`
	}
	return k
}
