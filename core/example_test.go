package core_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"time"

	"github.com/tokenhost/tokenhost/core"
	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/sdk"
)

// A program opens a host once and takes an *http.Client per provider from it. Here the provider is
// served by the built-in gateway plugin, run as a real child process, against a client-credentials token
// endpoint and an API on loopback. A program that runs built-in plugins calls core.ServeIfPlugin first
// thing in main and imports plugins/builtin; this package's test binary does the same in its TestMain.
func ExampleOpen() {
	var tokenRequests atomic.Int32
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tokenRequests.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"access_token":"example-access-token","token_type":"Bearer","expires_in":3600}`)
	}))
	defer idp.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer example-access-token" {
			http.Error(w, "no valid token", http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, "hello, "+r.URL.Path)
	}))
	defer api.Close()

	yaml := `
providers:
  corp:
    plugin: gateway
    upstream: ` + api.URL + `/v1
    options:
      grant: client_credentials
      token_url: ` + idp.URL + `/oauth2/token
      client_id: my-agent
      client_secret: example-secret
`
	// core.Options{} alone would load tokenhost.yaml (or the embedded default); Config takes one already parsed.
	cfg, err := config.Parse([]byte(yaml), "example.yaml", config.Sources{Builtins: core.Builtins()})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	host, err := core.Open(ctx, core.Options{Config: cfg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer host.Close()

	client, err := host.Client("corp") // hand it to any SDK
	if err != nil {
		fmt.Println(err)
		return
	}
	for range 3 {
		resp, err := client.Get(api.URL + "/v1/models")
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(resp.StatusCode, string(body))
	}
	fmt.Println("token requests:", tokenRequests.Load())
	for _, st := range host.Status() { // never holds a token
		fmt.Printf("%s: plugin %s, own process: %v\n", st.Name, st.Plugin, st.PID != 0 && st.PID != os.Getpid())
	}
	// Output:
	// 200 hello, /v1/models
	// 200 hello, /v1/models
	// 200 hello, /v1/models
	// token requests: 1
	// corp: plugin gateway, own process: true
}

// staticSource is a token source written in plain Go: it hands out one token, valid for an hour.
type staticSource struct{ token string }

// Configure implements sdk.Source; staticSource has no options.
func (s staticSource) Configure(context.Context, map[string]any) (sdk.Info, error) {
	return sdk.Info{Name: "static"}, nil
}

// Token implements sdk.Source.
func (s staticSource) Token(context.Context) (sdk.Token, error) {
	return sdk.Token{Value: s.token, Expiry: time.Now().Add(time.Hour)}, nil
}

// Refresh implements sdk.Source; there is no cache to bypass.
func (s staticSource) Refresh(ctx context.Context, _ sdk.Token) (sdk.Token, error) {
	return s.Token(ctx)
}

// The client sends the provider's token only to its upstream (and allowed_hosts): a request to any other
// host goes out without it. Options.InProcess serves the provider with a Source inside the program
// instead of starting its plugin, here the executable the configuration names.
func ExampleHost_Client() {
	seen := func(name string) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.Header.Get("Authorization") {
			case "Bearer example-token":
				fmt.Fprintf(w, "%s got the provider's token", name)
			case "":
				fmt.Fprintf(w, "%s got no Authorization header", name)
			default:
				fmt.Fprintf(w, "%s got another credential", name)
			}
		}))
	}
	api, elsewhere := seen("upstream"), seen("another host")
	defer api.Close()
	defer elsewhere.Close()

	cfg, err := config.Parse([]byte("providers:\n  corp:\n    plugin: ./corp-plugin\n    upstream: "+api.URL+"\n"),
		"example.yaml", config.Sources{Builtins: core.Builtins()})
	if err != nil {
		fmt.Println(err)
		return
	}
	host, err := core.Open(context.Background(), core.Options{
		Config:    cfg,
		InProcess: map[string]sdk.Source{"corp": staticSource{token: "example-token"}},
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer host.Close()

	client, err := host.Client("corp")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, url := range []string{api.URL + "/v1/models", elsewhere.URL + "/page"} {
		resp, err := client.Get(url)
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(string(body))
	}
	// Output:
	// upstream got the provider's token
	// another host got no Authorization header
}

// A Provider handle looks its provider up on every call, so it, and the client it gave out, follow a
// configuration reload: here a reload moves corp to another upstream and the same client sends corp's
// token there; a reload that removes corp makes the handle's calls fail with an error naming it.
func ExampleHost_Provider() {
	api := func(name string) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer example-token" {
				http.Error(w, name+" got no valid token", http.StatusUnauthorized)
				return
			}
			fmt.Fprintf(w, "%s got corp's token", name)
		}))
	}
	old, moved := api("the first API"), api("the second API")
	defer old.Close()
	defer moved.Close()
	corpAt := func(url string) string {
		return "providers:\n  corp:\n    plugin: ./corp-plugin\n    upstream: " + url + "\n  other:\n    plugin: ./corp-plugin\n    upstream: " + url + "\n"
	}
	var configs []*config.Config // corp at the first API, corp moved to the second, corp removed
	for _, yaml := range []string{corpAt(old.URL), corpAt(moved.URL), "providers:\n  other:\n    plugin: ./corp-plugin\n    upstream: " + moved.URL + "\n"} {
		cfg, err := config.Parse([]byte(yaml), "example.yaml", config.Sources{Builtins: core.Builtins()})
		if err != nil {
			fmt.Println(err)
			return
		}
		configs = append(configs, cfg)
	}
	host, err := core.Open(context.Background(), core.Options{
		Config:    configs[0],
		InProcess: map[string]sdk.Source{"corp": staticSource{token: "example-token"}, "other": staticSource{token: "other-token"}},
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer host.Close()

	corp, err := host.Provider("corp")
	if err != nil {
		fmt.Println(err)
		return
	}
	client := corp.Client()
	get := func(url string) {
		resp, err := client.Get(url)
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(string(body))
	}
	get(old.URL + "/v1/models")
	if _, err := host.Reload(configs[1]); err != nil {
		fmt.Println(err)
		return
	}
	get(moved.URL + "/v1/models")
	if _, err := host.Reload(configs[2]); err != nil {
		fmt.Println(err)
		return
	}
	_, err = corp.Token(context.Background())
	fmt.Println(err)
	// Output:
	// the first API got corp's token
	// the second API got corp's token
	// provider corp is no longer configured: a configuration reload removed it (configured: other); add it back under providers: in example.yaml, or use another provider
}
