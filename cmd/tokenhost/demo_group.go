package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tokenhost/tokenhost/core"
	"github.com/tokenhost/tokenhost/internal/fakes"
)

// groupScenario is a group, chat, over two gateway providers of one identity provider: chat-east answers
// its first request with a 429 (Retry-After: 2), so that request goes on to chat-west and chat-east rests
// for two seconds, its requests going to chat-west meanwhile; then chat-east serves again.
func groupScenario() *scenario {
	idp := fakes.NewOAuthServer(fakes.OAuthConfig{ClientID: "demo-group", ClientSecret: "demo-group-secret-not-real", ExpiresIn: demoTokenLife})
	east, west := fakes.NewUpstream(idp.Valid), fakes.NewUpstream(idp.Valid)
	target, _ := url.Parse(east.URL())
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: target.Scheme, Host: target.Host})
	var seen atomic.Int64
	limiter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if seen.Add(1) == 1 {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Retry-After", "2")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, `{"error":{"message":"Rate limit reached for requests","type":"requests","code":"rate_limit_exceeded"}}`)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	member := func(name, upstream string) string {
		return fmt.Sprintf(`  %s:
    plugin: gateway
    upstream: %s
    refresh_before: 1s
    options:
      grant: client_credentials
      token_url: %s
      client_id: demo-group
      client_secret_env: DEMO_GROUP_SECRET
`, name, upstream, idp.TokenURL())
	}
	return &scenario{
		name: "chat", plugin: "group", path: "/chat/completions", upstream: core.GroupBaseURL("chat"),
		group: true, members: []string{"chat-east", "chat-west"},
		providers: member("chat-east", limiter.URL+"/v1") + member("chat-west", west.URL()),
		yaml:      "\n    members: [chat-east, chat-west]\n",
		env:       []string{"DEMO_GROUP_SECRET=demo-group-secret-not-real"},
		revoke:    idp.RevokeAll, issued: idp.Issued,
		close: func() { limiter.Close(); east.Close(); west.Close(); idp.Close() },
	}
}

// groupLines are the demo's lines about its groups: failovers by reason, cooldowns seen, what each
// member served.
func groupLines(h *core.Host, limited map[string]string) []string {
	var out []string
	for _, g := range h.Groups() {
		var served, passed []string
		for _, m := range g.Members {
			served = append(served, fmt.Sprintf("%s %d", m.Provider, m.Served))
			for _, r := range []string{"rate_limited", "cooling", "server_error", "unreachable", "breaker_open", "no_token"} {
				if n := m.Failovers[r]; n > 0 {
					passed = append(passed, fmt.Sprintf("%s %s %d", m.Provider, strings.ReplaceAll(r, "_", " "), n))
				}
			}
		}
		line := fmt.Sprintf("%s (group): served by %s; passed over: %s", g.Name, strings.Join(served, ", "), strings.Join(passed, ", "))
		if c := limited[g.Name]; c != "" {
			line += "; " + c
		}
		out = append(out, line)
	}
	return out
}

// watchCooldowns notes, for each group, the first cooldown one of its members shows while the demo runs.
func watchCooldowns(h *core.Host, stop <-chan struct{}) <-chan map[string]string {
	done := make(chan map[string]string, 1)
	go func() {
		seen := map[string]string{}
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			for _, g := range h.Groups() {
				for _, m := range g.Members {
					if _, ok := seen[g.Name]; !ok && !m.CoolingUntil.IsZero() {
						seen[g.Name] = fmt.Sprintf("%s cooled down for %s (%s)", m.Provider, time.Until(m.CoolingUntil).Round(time.Second), m.CoolingSource)
					}
				}
			}
			select {
			case <-stop:
				done <- seen
				return
			case <-t.C:
			}
		}
	}()
	return done
}
