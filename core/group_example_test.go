package core_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/tokenhost/tokenhost/core"
	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/sdk"
)

// A group is a provider name made of members: its client sends each request, addressed below the
// group's base URL (its Upstream), to the first member that takes it. Here east is rate limited, so the
// request goes on to west, and east rests until the reset its 429 named.
func ExampleHost_Groups() {
	east := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "30")
		http.Error(w, "rate limited", http.StatusTooManyRequests)
	}))
	defer east.Close()
	west := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "west served %s", r.URL.Path)
	}))
	defer west.Close()

	yaml := "providers:\n" +
		"  east: {plugin: ./corp-plugin, upstream: " + east.URL + "/v1}\n" +
		"  west: {plugin: ./corp-plugin, upstream: " + west.URL + "/v1}\n" +
		"groups:\n  chat: {members: [east, west]}\n"
	cfg, err := config.Parse([]byte(yaml), "example.yaml", config.Sources{Builtins: core.Builtins()})
	if err != nil {
		fmt.Println(err)
		return
	}
	host, err := core.Open(context.Background(), core.Options{Config: cfg, Logger: slog.New(slog.DiscardHandler),
		InProcess: map[string]sdk.Source{"east": staticSource{token: "east-token"}, "west": staticSource{token: "west-token"}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer host.Close()

	chat, err := host.Provider("chat")
	if err != nil {
		fmt.Println(err)
		return
	}
	base, _ := chat.Upstream(context.Background())
	resp, err := chat.Client().Get(base + "/chat/completions")
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(base)
	fmt.Println(resp.StatusCode, string(body))
	for _, m := range host.Groups()[0].Members {
		fmt.Printf("%s: served %d, cooling: %v, failovers on 429: %d\n", m.Provider, m.Served, !m.CoolingUntil.IsZero(), m.Failovers["rate_limited"])
	}
	// Output:
	// http://chat.group.tokenhost.invalid
	// 200 west served /v1/chat/completions
	// east: served 0, cooling: true, failovers on 429: 1
	// west: served 1, cooling: false, failovers on 429: 0
}
