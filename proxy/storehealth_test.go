package proxy

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/core"
	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/internal/redistest"
	"github.com/tokenhost/tokenhost/sdk"
	"github.com/tokenhost/tokenhost/store"
	_ "github.com/tokenhost/tokenhost/store/redisstore"
	"github.com/tokenhost/tokenhost/store/seal"
)

func getBody(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// redisStore starts a redis-server and opens a sealed store on it with a short operation timeout, closed
// when the test ends.
func redisStore(t *testing.T) (*redistest.Server, store.Store) {
	t.Helper()
	srv := redistest.Start(t)
	key, _ := seal.NewKey()
	store, err := store.Open(store.Config{Backend: "redis", URL: srv.URL(), KeyPrefix: "th:", Keys: key, OpTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return srv, store
}

// TestReadyzAndMetricsShowTheStore: with its Redis gone, a host still forwards (fetching its own token);
// /readyz stays 200 but says "store": "unavailable", /providers shows it per shared provider, and
// tokenhost_store_up is 0 (1 before).
func TestReadyzAndMetricsShowTheStore(t *testing.T) {
	srv, store := redisStore(t)
	src := newFakeSource(time.Hour, time.Now)
	up := newUpstream(t, bearerValid(src))
	pc := testProvider(up.URL)
	pc.Shared = true
	h, err := core.Open(context.Background(), core.Options{Config: &config.Config{Providers: []*config.Provider{pc}, Source: "test"},
		Logger: newTestLogger(io.Discard), InProcess: map[string]sdk.Source{pc.Name: src}, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	px := proxyFor(t, h, Options{})
	if code, body := getBody(t, px.URL+"/readyz"); code != 200 || !strings.Contains(body, `"store": "ok"`) {
		t.Fatalf("/readyz with Redis up: %d %s; want 200 with store ok", code, body)
	}
	if _, body := getBody(t, px.URL+"/metrics"); !strings.Contains(body, "\ntokenhost_store_up 1\n") {
		t.Fatalf("/metrics with Redis up lacks tokenhost_store_up 1:\n%s", body)
	}
	srv.Stop()
	if code, body := getBody(t, px.URL+"/p/x"); code != 200 {
		t.Fatalf("request with Redis down: %d %s; want 200 (the host fetches its own token)", code, body)
	}
	code, body := getBody(t, px.URL+"/readyz")
	var ready map[string]any
	if err := json.Unmarshal([]byte(body), &ready); err != nil || code != 200 || ready["status"] != "ready" || ready["store"] != "unavailable" || ready["store_unavailable_since"] == nil {
		t.Fatalf("/readyz with Redis down: %d %s; want 200 ready, store unavailable, and since when", code, body)
	}
	if _, body := getBody(t, px.URL+"/metrics"); !strings.Contains(body, "\ntokenhost_store_up 0\n") {
		t.Fatalf("/metrics with Redis down lacks tokenhost_store_up 0:\n%s", body)
	}
	var provs []providerJSON
	if _, body := getBody(t, px.URL+"/providers"); json.Unmarshal([]byte(body), &provs) != nil || len(provs) != 1 || !strings.HasPrefix(provs[0].Store, "unavailable since ") {
		t.Fatalf("/providers with Redis down: %s; want store: unavailable since ...", body)
	}
}

// TestReadyzWithoutStore: a host without a shared store says nothing about one, and exports no
// tokenhost_store_up.
func TestReadyzWithoutStore(t *testing.T) {
	src := newFakeSource(time.Hour, time.Now)
	up := newUpstream(t, bearerValid(src))
	px := proxyFor(t, newTestHost(t, src, testProvider(up.URL)), Options{})
	if _, body := getBody(t, px.URL+"/readyz"); strings.Contains(body, "store") {
		t.Fatalf("/readyz without a store: %s; want no store field", body)
	}
	if _, body := getBody(t, px.URL+"/metrics"); strings.Contains(body, "tokenhost_store_up") {
		t.Fatal("/metrics without a store exports tokenhost_store_up")
	}
}

// stateSource keeps its state in the storage the host offers (as the gateway plugin keeps a sign-in in
// fleet mode); its tokens live an hour.
type stateSource struct{ offered bool }

func (s *stateSource) UseStorage(sdk.Storage) { s.offered = true }

func (s *stateSource) Configure(context.Context, map[string]any) (sdk.Info, error) {
	return sdk.Info{Name: "stateful", UsesStorage: s.offered}, nil
}

func (s *stateSource) Token(context.Context) (sdk.Token, error) {
	return sdk.Token{Value: "state-tok", Expiry: time.Now().Add(time.Hour)}, nil
}

func (s *stateSource) Refresh(ctx context.Context, _ sdk.Token) (sdk.Token, error) {
	return s.Token(ctx)
}

// /providers says where a plugin keeps its state, and a request that needs a token while that store is
// unavailable gets 503 store_unavailable naming the store, with Retry-After.
func TestStoreUnavailableForStateInStore(t *testing.T) {
	srv, store := redisStore(t)
	up := newUpstream(t, func(*http.Request) bool { return true })
	pc := testProvider(up.URL)
	pc.Shared = true
	h, err := core.Open(context.Background(), core.Options{Config: &config.Config{Providers: []*config.Provider{pc}, Source: "test"},
		Logger: newTestLogger(io.Discard), InProcess: map[string]sdk.Source{pc.Name: &stateSource{}}, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if errs := h.Start(t.Context()); len(errs) > 0 {
		t.Fatal(errs)
	}
	px := proxyFor(t, h, Options{})
	var provs []providerJSON
	if _, body := getBody(t, px.URL+"/providers"); json.Unmarshal([]byte(body), &provs) != nil || len(provs) != 1 || provs[0].PluginState != "fleet store" {
		t.Fatalf("/providers: %s; want plugin_state: fleet store", body)
	}
	srv.Stop()
	resp, err := http.Get(px.URL + "/p/x")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct {
		Error struct{ Code, Message string }
	}
	_ = json.NewDecoder(resp.Body).Decode(&e)
	if resp.StatusCode != 503 || e.Error.Code != "store_unavailable" || resp.Header.Get("Retry-After") != "1" || !strings.Contains(e.Error.Message, "shared store") {
		t.Fatalf("request with the store down: %d %q %q; want 503 store_unavailable naming the store", resp.StatusCode, e.Error.Code, e.Error.Message)
	}
}
