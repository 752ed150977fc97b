package tests

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/tokenhost/tokenhost/internal/fakes"
)

// End to end: an upstream that answers 401 to every token (wrong scope, missing
// entitlement) behind the real `tokenhost serve` and gateway plugin. 100 requests, 10 at a time, each get
// the upstream's own 401, and the identity provider sees at most 2 token requests (the first token and
// one refresh), not one per request.
func TestAlways401UpstreamDoesNotHammerTheIdP(t *testing.T) {
	g := &gatewayFakes{clientID: "e2e-client", secret: newSecret(t, "e2e-secret")}
	g.idp = fakes.NewOAuthServer(fakes.OAuthConfig{ClientID: g.clientID, ClientSecret: g.secret})
	g.up = fakes.NewUpstream(func(string) bool { return false })
	t.Cleanup(func() { g.up.Close(); g.idp.Close() })
	cfg, env := corpConfig(t, g, "")
	s := startServe(t, cfg, env)

	const n, workers = 100, 10
	jobs := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				resp, err := http.Get(s.url + "/corp/models")
				if err != nil {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("request %d: %v", i, err))
					mu.Unlock()
					continue
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Www-Authenticate") == "" {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("request %d: status %d, want the upstream's own 401", i, resp.StatusCode))
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d of %d requests failed, first: %s\n%s", len(failures), n, failures[0], s.stderr)
	}
	if got := g.idp.Requests(); got > 2 {
		t.Fatalf("the identity provider saw %d token requests for %d requests against an always-401 upstream, want at most 2", got, n)
	}
	t.Logf("%d requests against an always-401 upstream: %d token requests at the IdP, %d requests at the upstream", n, g.idp.Requests(), g.up.Requests())
}
