package core_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/core"
	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/internal/hosttest"
	"github.com/tokenhost/tokenhost/internal/redistest"
	"github.com/tokenhost/tokenhost/sdk"
	"github.com/tokenhost/tokenhost/store"
	_ "github.com/tokenhost/tokenhost/store/redisstore"
	"github.com/tokenhost/tokenhost/store/seal"
	"github.com/tokenhost/tokenhost/store/storetest"
)

// countingIdP is an identity provider shared by every host of a test: it counts fetches and hands out
// distinct tokens that live for life and are due only when they expire (RefreshAt is their expiry), so
// that a fetch is one per expiry however late a caller comes: a token of a second's life would otherwise be
// refreshed ahead by any caller that came half a second after it was fetched.
type countingIdP struct {
	fetches atomic.Int64
	life    time.Duration
}

func (c *countingIdP) Configure(context.Context, map[string]any) (sdk.Info, error) {
	return sdk.Info{Name: "counting"}, nil
}

func (c *countingIdP) Token(context.Context) (sdk.Token, error) {
	n := c.fetches.Add(1)
	exp := time.Now().Add(c.life)
	return sdk.Token{Value: fmt.Sprintf("tok-%d", n), Expiry: exp, RefreshAt: exp}, nil
}

func (c *countingIdP) Refresh(ctx context.Context, _ sdk.Token) (sdk.Token, error) {
	return c.Token(ctx)
}

// fleet opens n in-process hosts of one shared provider "p" against the IdP; store(i) gives host i's store.
func fleet(t *testing.T, n int, idp *countingIdP, store func(i int) store.Store) []*core.Host {
	t.Helper()
	return fleetOf(t, n, idp, store, nil)
}

// fleetOf is fleet with any source, and edit (when not nil) applied to each host's provider config.
func fleetOf(t *testing.T, n int, src sdk.Source, store func(i int) store.Store, edit func(*config.Provider)) []*core.Host {
	t.Helper()
	var hosts []*core.Host
	for i := range n {
		pc := hosttest.Provider("https://upstream.example")
		pc.Shared = true
		if edit != nil {
			edit(pc)
		}
		h, err := core.Open(context.Background(), core.Options{
			Config: &config.Config{Providers: []*config.Provider{pc}}, InProcess: map[string]sdk.Source{"p": src}, Store: store(i),
			Logger: slog.New(slog.DiscardHandler),
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		hosts = append(hosts, h)
	}
	return hosts
}

// redisStores returns a function that opens a separate redis store (one connection pool, as a separate
// host has) for each host.
func redisStores(t *testing.T, url, key string, op time.Duration) func(int) store.Store {
	return func(int) store.Store {
		s, err := store.Open(store.Config{Backend: "redis", URL: url, KeyPrefix: "th:", Keys: key, OpTimeout: op})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
}

// tokensAtOnce asks every host for a token from 4 goroutines each, and returns the distinct values.
func tokensAtOnce(t *testing.T, hosts []*core.Host) map[string]bool {
	t.Helper()
	seen := map[string]bool{}
	for _, r := range askAll(t, hosts) {
		if r.err != nil {
			t.Error(r.err)
			continue
		}
		seen[r.tok.Value] = true
	}
	return seen
}

// answer is one Token call's outcome.
type answer struct {
	tok sdk.Token
	err error
}

// askAll asks every host for a token of provider p from 4 goroutines each, and returns every outcome.
func askAll(t *testing.T, hosts []*core.Host) []answer {
	ctx := storetest.Ctx(t)
	var mu sync.Mutex
	var out []answer
	var wg sync.WaitGroup
	for _, h := range hosts {
		for range 4 {
			wg.Go(func() {
				tok, err := core.TokenOf(ctx, h, "p")
				mu.Lock()
				out = append(out, answer{tok, err})
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	return out
}

// checkOneFetchPerExpiry: n hosts fetch once for the first token, and once more after it expires.
func checkOneFetchPerExpiry(t *testing.T, hosts []*core.Host, idp *countingIdP) {
	t.Helper()
	if seen := tokensAtOnce(t, hosts); idp.fetches.Load() != 1 || len(seen) != 1 {
		t.Fatalf("%d hosts: %d IdP fetches, %d distinct tokens; want 1 and 1", len(hosts), idp.fetches.Load(), len(seen))
	}
	<-time.After(idp.life) // let the shared token expire (the expiry is the behaviour under test)
	if seen := tokensAtOnce(t, hosts); idp.fetches.Load() != 2 || len(seen) != 1 || seen["tok-1"] {
		t.Fatalf("after expiry, %d hosts: %d IdP fetches in all, tokens %v; want 2 and one new token", len(hosts), idp.fetches.Load(), seen)
	}
}

func TestFleetTokensLocalStore(t *testing.T) {
	s, err := store.Open(store.Config{Backend: "local"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	idp := &countingIdP{life: time.Second}
	checkOneFetchPerExpiry(t, fleet(t, 3, idp, func(int) store.Store { return s }), idp)
}

// TestFleetTokensRedis: 1, 2, 4 and 8 hosts, each with its own connection to one redis-server, cost the
// IdP one fetch per expiry (without a shared store they cost n).
func TestFleetTokensRedis(t *testing.T) {
	srv := redistest.Start(t)
	key, _ := seal.NewKey()
	for _, n := range []int{1, 2, 4, 8} {
		t.Run(fmt.Sprintf("%d hosts", n), func(t *testing.T) {
			idp := &countingIdP{life: time.Second}
			hosts := fleet(t, n, idp, redisStores(t, srv.URL(), key, 2*time.Second))
			checkOneFetchPerExpiry(t, hosts, idp)
			// The next subtest's hosts must not find this one's token.
			s := redisStores(t, srv.URL(), key, 2*time.Second)(0)
			if err := s.Delete(storetest.Ctx(t), "p/access-token"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestFleetTokensRedisDown: with Redis gone, every host still gets tokens (fetching its own).
func TestFleetTokensRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	key, _ := seal.NewKey()
	idp := &countingIdP{life: time.Hour}
	hosts := fleet(t, 2, idp, redisStores(t, srv.URL(), key, 200*time.Millisecond))
	srv.Stop()
	if seen := tokensAtOnce(t, hosts); len(seen) != 2 || idp.fetches.Load() != 2 {
		t.Fatalf("with Redis down: %d IdP fetches, %d tokens; want each host to fetch its own (2, 2)", idp.fetches.Load(), len(seen))
	}
}

// TestFleetTokensOutwaitADeadLeaseHolder: a host whose fetch lease is held by a host that died (it never
// stores a token) waits the lease out — fetch_timeout + 1 s, longer than the fetch timeout itself — and
// then fetches its own token with a whole fetch timeout, instead of failing with a fetch timeout.
func TestFleetTokensOutwaitADeadLeaseHolder(t *testing.T) {
	s, err := store.Open(store.Config{Backend: "local"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const fetchTimeout = 300 * time.Millisecond
	if _, ok, err := s.Acquire(storetest.Ctx(t), "p/access-token", fetchTimeout+time.Second); err != nil || !ok {
		t.Fatalf("taking the lease as the dead host: %v %v", ok, err)
	}
	idp := &countingIdP{life: time.Hour}
	hosts := fleetOf(t, 1, ctxIdP{idp}, func(int) store.Store { return s }, func(pc *config.Provider) { pc.FetchTimeout = fetchTimeout })
	if tok, err := core.TokenOf(storetest.Ctx(t), hosts[0], "p"); err != nil || tok.Value != "tok-1" || idp.fetches.Load() != 1 {
		t.Fatalf("behind a dead lease holder: %q, %v after %d fetches; want this host's own token", tok.Value, err, idp.fetches.Load())
	}
}

// ctxIdP is a countingIdP that, like a real plugin call, fails once its context has ended.
type ctxIdP struct{ *countingIdP }

func (c ctxIdP) Token(ctx context.Context) (sdk.Token, error) {
	if err := ctx.Err(); err != nil {
		return sdk.Token{}, err
	}
	return c.countingIdP.Token(ctx)
}

func (c ctxIdP) Refresh(ctx context.Context, _ sdk.Token) (sdk.Token, error) { return c.Token(ctx) }
