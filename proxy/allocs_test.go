package proxy

import (
	"net/http"
	"testing"

	"github.com/tokenhost/tokenhost/internal/hosttest"
)

// maxExtraAllocs is how many more allocations a request through tokenhost's proxy (cached token, access
// log off) may make than one through a bare httputil.ReverseProxy that sets a static header.
const maxExtraAllocs = 5

// A proxied request allocates at most maxExtraAllocs more than through a bare ReverseProxy: counted
// over the whole process (client, proxy and upstream on real loopback sockets, the same for both), so
// the difference is the proxy's own.
func TestProxyAllocatesLittleMoreThanABareReverseProxy(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	allocs := map[string]float64{}
	for _, c := range proxyContenders(t) {
		client := &http.Client{Transport: hosttest.BenchBase(t)}
		for range 20 { // connections, the token and the route in place
			getOK(t, client, c.url)
		}
		allocs[c.name] = testing.AllocsPerRun(500, func() { getOK(t, client, c.url) })
	}
	t.Logf("allocations per request: %v", allocs)
	if extra := allocs["tokenhost"] - allocs["bare-reverseproxy"]; extra > maxExtraAllocs {
		t.Fatalf("a request through tokenhost allocates %.0f more than through a bare ReverseProxy (%v); at most %d may be: profile with go test -bench Proxy/tokenhost -memprofile",
			extra, allocs, maxExtraAllocs)
	}
}
