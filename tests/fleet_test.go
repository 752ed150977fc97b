package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/internal/fakes"
	"github.com/tokenhost/tokenhost/internal/redistest"
)

// tokenLife is how long the fake identity provider's access tokens live in the fleet tests, and
// refreshBefore how long before expiry a host fetches the next one.
const (
	tokenLife     = 2 * time.Second
	refreshBefore = 500 * time.Millisecond
)

// idpFront stands between one host and the shared identity provider, so a test sees which host asks
// for tokens: how often, and whether a request is pending.
type idpFront struct {
	srv      *httptest.Server
	calls    atomic.Int64
	inflight atomic.Int64
}

func newIDPFront(t *testing.T, idpURL string) *idpFront {
	target, _ := url.Parse(idpURL)
	rp := httputil.NewSingleHostReverseProxy(target)
	f := &idpFront{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		f.inflight.Add(1)
		defer f.inflight.Add(-1)
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// fleetHost is one `tokenhost serve` process of the fleet and its view of the identity provider.
type fleetHost struct {
	srv   *server
	front *idpFront
	dead  atomic.Bool
}

// startFleet starts n `tokenhost serve` processes sharing provider corp (client credentials against g)
// through the redis-server srv; each has its own HOME and caches, as separate machines would.
func startFleet(t *testing.T, n int, g *gatewayFakes, srv *redistest.Server) []*fleetHost {
	t.Helper()
	key := strings.TrimSpace(tokenhost(t, "", nil, "store", "keygen").stdout)
	return serveFleet(t, n, g.idp.URL(), func(tokenURL string) string {
		block := provider{name: "corp", secretEnv: "CORP_SECRET"}.yaml(g)
		block = strings.Replace(block, g.idp.TokenURL(), tokenURL, 1)
		block = strings.Replace(block, "    options:\n", fmt.Sprintf("    refresh_before: %s\n    fetch_timeout: 2s\n    options:\n", refreshBefore), 1)
		return fleetStore(srv) + "providers:\n" + block
	}, "CORP_SECRET="+g.secret, "STORE_KEY="+key)
}

// fleetStore is the store block of a fleet's configuration: srv, the key in $STORE_KEY.
func fleetStore(srv *redistest.Server) string {
	return "store:\n  backend: redis\n  url: " + srv.URL() + "\n  encryption_key_env: STORE_KEY\n  timeout: 300ms\n"
}

// serveFleet starts n `tokenhost serve` processes, each with its own HOME, caches and state, and its own
// front to the identity provider at idpURL; config returns a host's configuration given its front's token
// endpoint URL. Every host is stopped at cleanup.
func serveFleet(t *testing.T, n int, idpURL string, config func(tokenURL string) string, env ...string) []*fleetHost {
	t.Helper()
	var hosts []*fleetHost
	for range n {
		f := newIDPFront(t, idpURL)
		cfg := writeFile(t, "", "tokenhost.yaml", config(f.srv.URL+fakes.TokenPath))
		dir := t.TempDir()
		s := startServe(t, cfg, append([]string{"XDG_CACHE_HOME=" + dir + "/cache", "XDG_STATE_HOME=" + dir + "/state"}, env...))
		hosts = append(hosts, &fleetHost{srv: s, front: f})
	}
	// Stop every host before any startServe cleanup looks for strays (which would find the others).
	t.Cleanup(func() {
		var wg sync.WaitGroup
		for _, h := range hosts {
			wg.Go(func() {
				_ = h.srv.cmd.Process.Signal(syscall.SIGTERM)
				h.srv.done <- <-h.srv.done
			})
		}
		wg.Wait()
	})
	return hosts
}

// traffic is the outcome of sending requests through a fleet. Each outcome is also counted under the
// phase the test was in when the request was sent (see phased).
type traffic struct {
	mu     sync.Mutex
	ok     int
	failed []string
	phase  atomic.Int32
	counts map[int32]map[string]int // phase -> "200", or status and error code, e.g. "503 store_unavailable"
}

// drive sends GET /corp/models through every live host from 2 workers each until ctx ends.
func drive(ctx context.Context, hosts []*fleetHost, tr *traffic) *sync.WaitGroup {
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 30 * time.Second}
	for i, h := range hosts {
		for range 2 {
			wg.Go(func() {
				for ctx.Err() == nil {
					if h.dead.Load() {
						return
					}
					phase := tr.phase.Load()
					resp, err := client.Get(h.srv.url + "/corp/models")
					if h.dead.Load() {
						return // killed by the test while this request was on its way
					}
					outcome := "200"
					tr.mu.Lock()
					switch {
					case err != nil:
						tr.failed = append(tr.failed, fmt.Sprintf("host %d: %v", i, err))
						outcome = "error"
					case resp.StatusCode != http.StatusOK:
						b, _ := io.ReadAll(resp.Body)
						tr.failed = append(tr.failed, fmt.Sprintf("host %d: %d %s", i, resp.StatusCode, redact(string(b))))
						outcome = fmt.Sprintf("%d %s", resp.StatusCode, errorCode(b))
					default:
						tr.ok++
					}
					tr.count(phase, outcome)
					tr.mu.Unlock()
					if resp != nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
				}
			})
		}
	}
	return &wg
}

// count records one outcome under phase; the caller holds tr.mu.
func (tr *traffic) count(phase int32, outcome string) {
	if tr.counts == nil {
		tr.counts = map[int32]map[string]int{}
	}
	if tr.counts[phase] == nil {
		tr.counts[phase] = map[string]int{}
	}
	tr.counts[phase][outcome]++
}

// phased returns the outcomes of the requests sent in phase.
func (tr *traffic) phased(phase int32) map[string]int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	out := map[string]int{}
	for k, v := range tr.counts[phase] {
		out[k] = v
	}
	return out
}

// errorCode returns the code of a tokenhost error body ({"error": {"code": ...}}), or "?".
func errorCode(body []byte) string {
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || e.Error.Code == "" {
		return "?"
	}
	return e.Error.Code
}

// check fails the test unless every request succeeded, and returns how many did.
func (tr *traffic) check(t *testing.T, what string) int {
	t.Helper()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if len(tr.failed) > 0 {
		t.Fatalf("%s: %d of %d requests failed; first: %s", what, len(tr.failed), len(tr.failed)+tr.ok, tr.failed[0])
	}
	if tr.ok == 0 {
		t.Fatalf("%s: no request went through", what)
	}
	return tr.ok
}

// perHost is every host's count of token requests, for messages.
func perHost(hosts []*fleetHost) []int64 {
	var out []int64
	for _, h := range hosts {
		out = append(out, h.front.calls.Load())
	}
	return out
}

// waitReady polls host's /readyz until its body contains want.
func waitReady(ctx context.Context, t *testing.T, h *fleetHost, want string) {
	t.Helper()
	waitReadyAt(ctx, t, h.srv.url, want)
}

// waitReadyAt polls the /readyz of the serve process at url until its answer contains want.
func waitReadyAt(ctx context.Context, t *testing.T, url, want string) {
	t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if resp, err := http.Get(url + "/readyz"); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(b), want) {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("host %s: /readyz never said %s", url, want)
		case <-tick.C:
		}
	}
}

// TestFleetAcceptance checks a fleet sharing the access tokens of client credentials:
// 8 `tokenhost serve` processes, one redis-server, one identity provider whose tokens live 2 s.
//
//  1. 8 s of traffic through all 8 (2 workers each): every request 200, and the identity provider asked
//     about once per token lifetime for the whole fleet (without the store: 8 times).
//  2. Again, killing redis-server for 3 s in the middle: every request 200 (the hosts fetch their own
//     tokens), each /readyz says "store": "unavailable" and then "ok" again by itself; then one host is
//     killed with SIGKILL while its token request is pending (it holds the fetch lease): its lease runs
//     out and the other 7 go on, every request 200.
func TestFleetAcceptance(t *testing.T) {
	if testing.Short() {
		t.Skip("the fleet acceptance test runs about 25 s")
	}
	srv := redistest.Start(t)
	g := newGatewayFakes(t)
	g.idp.SetExpiresIn(tokenLife)
	hosts := startFleet(t, 8, g, srv)
	guard, cancelGuard := context.WithTimeout(context.Background(), hangGuard)
	defer cancelGuard()

	// 1. Steady traffic.
	steady(guard, t, hosts, g, 8*time.Second)

	// 2. Redis killed for 3 s, then a lease holder killed.
	before := g.idp.Requests()
	ctx, stop := context.WithCancel(guard)
	defer stop()
	tr := &traffic{}
	wg := drive(ctx, hosts, tr)
	<-time.After(time.Second)
	srv.Stop()
	down := time.Now()
	waitReady(guard, t, hosts[0], `"store": "unavailable"`)
	<-time.After(3*time.Second - time.Since(down)) // Redis stays away 3 s (the fault under test)
	srv.Restart(t)
	for _, h := range hosts {
		waitReady(guard, t, h, `"store": "ok"`)
	}
	rejoined := time.Since(down)

	release := g.idp.Hold()
	if err := g.idp.WaitHeld(guard, 1); err != nil {
		t.Fatal("no host asked for a token while the identity provider held requests")
	}
	var victim *fleetHost
	var pending []int64
	for _, h := range hosts {
		pending = append(pending, h.front.inflight.Load())
		if victim == nil && h.front.inflight.Load() > 0 {
			victim = h
		}
	}
	t.Logf("pending token requests per host while held: %v", pending)
	if victim == nil {
		t.Fatal("a token request is held but no host's is pending")
	}
	kids, _ := strayProcesses(victim.srv.cmd.Process.Pid, "")
	victim.dead.Store(true)
	if err := victim.srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-victim.srv.done
	victim.srv.done <- nil // for startServe's cleanup
	killed := time.Now()
	release()
	<-time.After(4 * time.Second) // traffic through the 7 others while the dead holder's lease runs out
	stop()
	wg.Wait()
	ok := tr.check(t, "traffic with Redis killed for 3 s and a lease holder killed")
	for _, k := range kids { // the killed host's plugin exits on its own; reap it (this process is a subreaper)
		reap(k.pid)
	}
	t.Logf("faults: %d requests all 200; Redis down 3 s, every host saw it back %s after it went; a lease holder killed, traffic went on %s after; %d token requests in all (per host %v)",
		ok, rejoined.Round(time.Millisecond), time.Since(killed).Round(time.Millisecond), g.idp.Requests()-before, perHost(hosts))
}

// steady sends traffic through every host for d: every request must succeed, and the fleet must ask the
// identity provider about once per token lifetime (a host alone would ask once per lifetime; n hosts
// without the store, n times).
func steady(guard context.Context, t *testing.T, hosts []*fleetHost, g *gatewayFakes, d time.Duration) {
	t.Helper()
	before, start := g.idp.Requests(), time.Now()
	ctx, stop := context.WithTimeout(guard, d)
	defer stop()
	tr := &traffic{}
	drive(ctx, hosts, tr).Wait()
	elapsed := time.Since(start)
	ok := tr.check(t, fmt.Sprintf("steady traffic through %d hosts", len(hosts)))
	fetches := g.idp.Requests() - before
	lifetimes := float64(elapsed) / float64(tokenLife-refreshBefore) // token fetches one host alone needs
	t.Logf("steady, %d hosts: %d requests in %s, %d token requests (per host %v) for %.1f token lifetimes: %.2f per lifetime (unshared: about %d)",
		len(hosts), ok, elapsed.Round(time.Millisecond), fetches, perHost(hosts), lifetimes, float64(fetches)/lifetimes, len(hosts))
	if float64(fetches) > 2*lifetimes+2 {
		t.Fatalf("%d hosts made %d token requests in %.1f token lifetimes; want about one per lifetime for the fleet", len(hosts), fetches, lifetimes)
	}
}

// TestFleetTokenRequestsPerLifetime measures docs/benchmarks.md's fleet table: the steady phase for each
// fleet size in TOKENHOST_FLEET_SIZES (e.g. "1,2,4,8"); skipped when it is unset (TestFleetAcceptance
// runs 8).
func TestFleetTokenRequestsPerLifetime(t *testing.T) {
	sizes := os.Getenv("TOKENHOST_FLEET_SIZES")
	if sizes == "" {
		t.Skip("set TOKENHOST_FLEET_SIZES=1,2,4,8 to measure")
	}
	for _, f := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			t.Fatalf("TOKENHOST_FLEET_SIZES: %q is not a fleet size", f)
		}
		t.Run(fmt.Sprintf("%d hosts", n), func(t *testing.T) {
			srv := redistest.Start(t)
			g := newGatewayFakes(t)
			g.idp.SetExpiresIn(tokenLife)
			guard, cancel := context.WithTimeout(context.Background(), hangGuard)
			defer cancel()
			steady(guard, t, startFleet(t, n, g, srv), g, 10*time.Second)
		})
	}
}
