package tests

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/internal/fakes"
)

// idpFaultFailures is breaker.failures in the fault tests' configuration.
const idpFaultFailures = 3

// idpFaultConfig writes a configuration whose provider corp uses the gateway plugin against g, with a
// small breaker, the host's fetch_timeout and the plugin's own request timeout as given.
func idpFaultConfig(t *testing.T, g *gatewayFakes, fetchTimeout, pluginTimeout string) string {
	t.Helper()
	return writeFile(t, "", "tokenhost-faults.yaml", fmt.Sprintf(`providers:
  corp:
    plugin: gateway
    upstream: %s
    fetch_timeout: %s
    breaker: { failures: %d, open_for: 1s }
    options:
      grant: client_credentials
      token_url: %s
      client_id: %s
      client_secret_env: CORP_SECRET
      scopes: [llm.invoke]
      timeout: %s
`, g.up.URL(), fetchTimeout, idpFaultFailures, g.idp.TokenURL(), g.clientID, pluginTimeout))
}

// proxyAnswer is the status and, for tokenhost's own errors, the error code of one proxied request.
type proxyAnswer struct {
	status     int
	code       string
	retryAfter string
}

func getModels(t *testing.T, s *server) proxyAnswer {
	t.Helper()
	resp, err := http.Get(s.url + "/corp/models")
	if err != nil {
		t.Fatalf("the proxy did not answer: %v\n%s", err, s.stderr)
	}
	defer resp.Body.Close()
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&e)
	return proxyAnswer{status: resp.StatusCode, code: e.Error.Code, retryAfter: resp.Header.Get("Retry-After")}
}

// Token endpoint fault matrix: while serving, the token endpoint turns slow beyond fetch_timeout, answers
// HTML, a 10 MiB body, a connection that never closes, or 429 with Retry-After, and the upstream revokes
// the cached token. Through the real `tokenhost serve` and the gateway plugin process: no crash, the token breaker opens after breaker.failures fetches, the identity
// provider sees at most that many requests for 20 client requests, and the proxy recovers once the
// endpoint is healthy again.
func TestTokenEndpointFaults(t *testing.T) {
	cases := []struct {
		name          string
		fetchTimeout  string // the host's fetch_timeout
		pluginTimeout string // the gateway plugin's own request timeout
		firstCode     string // what the first requests get before the breaker opens
		start         func(g *gatewayFakes) (stop func())
	}{
		{"slow beyond fetch_timeout", "2s", "60s", "token_fetch_timeout", func(g *gatewayFakes) func() { return g.idp.Hold() }},
		{"HTML page", "30s", "5s", "token_unavailable", fault(fakes.FaultHTML)},
		{"10 MiB body", "30s", "5s", "token_unavailable", fault(fakes.FaultHugeBody)},
		{"connection never closes", "30s", "300ms", "token_unavailable", fault(fakes.FaultNeverEnds)},
		{"429 with Retry-After", "30s", "5s", "token_unavailable", fault(fakes.FaultTooMany)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := newGatewayFakes(t)
			cfg := idpFaultConfig(t, g, tc.fetchTimeout, tc.pluginTimeout)
			s := startServe(t, cfg, []string{"CORP_SECRET=" + g.secret})
			// Serving normally first: the plugin has started and the host holds a token, so no timing of a
			// plugin start is part of what follows. Then the endpoint breaks and the upstream revokes that
			// token, so every request needs a new one.
			if a := getModels(t, s); a.status != http.StatusOK {
				t.Fatalf("before the fault: %+v\n%s", a, s.stderr)
			}
			before := g.idp.Requests()
			stop := tc.start(g)
			g.idp.RevokeAll()

			const n = 20
			var answers []proxyAnswer
			for range n {
				answers = append(answers, getModels(t, s))
			}
			for i, a := range answers {
				wantCode := "circuit_open"
				if i < idpFaultFailures {
					wantCode = tc.firstCode
				}
				if a.code != wantCode || a.status < 500 || (wantCode == "circuit_open" && a.retryAfter == "") {
					t.Fatalf("request %d: %+v, want code %s\nall: %+v\n%s", i, a, wantCode, answers, s.stderr)
				}
			}
			seen := g.idp.Requests() - before
			if seen > idpFaultFailures {
				t.Fatalf("the identity provider saw %d token requests for %d client requests, want at most %d", seen, n, idpFaultFailures)
			}
			select {
			case err := <-s.done:
				t.Fatalf("tokenhost serve ended: %v\n%s", err, s.stderr)
			default:
			}
			if strings.Contains(s.stderr.String(), "panic") {
				t.Fatalf("a panic was logged:\n%s", s.stderr)
			}

			stop() // the endpoint is healthy again
			probes := 0
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			guard := time.NewTimer(hangGuard)
			defer guard.Stop()
			for a := getModels(t, s); a.status != http.StatusOK; a = getModels(t, s) {
				if a.code != "circuit_open" {
					t.Fatalf("after recovery: %+v, want 200 or circuit_open until the probe", a)
				}
				probes++
				select {
				case <-tick.C:
				case <-guard.C:
					t.Fatalf("no recovery within %s\n%s", hangGuard, s.stderr)
				}
			}
			total := g.idp.Requests() - before
			if total > seen+1 {
				t.Fatalf("recovery cost %d token requests, want at most 1 (the half-open probe)", total-seen)
			}
			t.Logf("%s: %d client requests → %d token requests (first %d: %s, then circuit_open); recovered with %d more token request(s) after %d refused polls",
				tc.name, n, seen, idpFaultFailures, tc.firstCode, total-seen, probes)
		})
	}
}

// fault returns a start func that sets f on the identity provider and a stop that clears it.
func fault(f fakes.TokenFault) func(g *gatewayFakes) func() {
	return func(g *gatewayFakes) func() {
		g.idp.SetFault(f)
		return func() { g.idp.SetFault(fakes.FaultNone) }
	}
}
