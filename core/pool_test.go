package core

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/sdk"
)

// With the default base transport, 16 concurrent callers sending 800 requests reuse their upstream
// connections: the upstream sees at most one new connection per caller, not one per request as with
// http.DefaultTransport's 2 idle connections per host.
func TestDefaultBaseReusesUpstreamConnections(t *testing.T) {
	src := newFakeSource(time.Hour, time.Now)
	var conns atomic.Int64
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	up.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	up.Start()
	t.Cleanup(up.Close)
	pc := testProvider(up.URL)
	pc.MaxIdleConnsPerHost = config.DefaultMaxIdleConnsPerHost
	h, err := Open(context.Background(), Options{Config: &config.Config{Providers: []*config.Provider{pc}, Source: "test"},
		Logger: slog.New(slog.DiscardHandler), InProcess: map[string]sdk.Source{pc.Name: src}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	c, err := h.Client(pc.Name)
	if err != nil {
		t.Fatal(err)
	}
	const callers, each = 16, 50
	var wg sync.WaitGroup
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				resp, err := c.Get(up.URL + "/x")
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	// A request that finds no idle connection starts a dial, and takes whichever comes first: an idle
	// connection given back meanwhile or its dial, whose connection then joins the pool. So each caller
	// may leave one connection beyond its own, never more while nothing is closed (a pool of 2 opens
	// ~100 here).
	if n := conns.Load(); n > 2*callers {
		t.Fatalf("%d requests from %d callers opened %d upstream connections, want at most %d", callers*each, callers, n, 2*callers)
	}
	t.Logf("%d requests, %d upstream connections", callers*each, conns.Load())
}

// A provider asking for another pool size gets a transport of its own; an embedder's Base is used as given.
func TestSizedPool(t *testing.T) {
	pc := &config.Provider{Name: "p", MaxIdleConnsPerHost: 8}
	if tr, ok := sizedPool(pc, defaultBase).(*http.Transport); !ok || tr == defaultBase || tr.MaxIdleConnsPerHost != 8 {
		t.Fatalf("max_idle_conns_per_host 8 did not get its own pool")
	}
	own := &http.Transport{}
	if sizedPool(pc, own) != own {
		t.Fatal("an embedder's Base was replaced")
	}
	pc.MaxIdleConnsPerHost = config.DefaultMaxIdleConnsPerHost
	if sizedPool(pc, defaultBase) != defaultBase {
		t.Fatal("the default size did not share the default transport")
	}
}
