package core

import (
	"net"
	"net/http"
	"time"

	"github.com/tokenhost/tokenhost/core/config"
)

// defaultBase is the transport requests finally go through when Options.Base is nil: http.DefaultTransport's
// settings (proxies from the environment, HTTP/2 to TLS upstreams that offer it) with a pool sized for a
// busy proxy. http.DefaultTransport keeps 2 idle connections per host, so under concurrency most requests
// dial a new connection and the machine fills with sockets in TIME_WAIT. None of its timeouts can cut a
// long answer: they bound the dial, the TLS handshake and idle connections, never the response (a
// non-streaming completion may take minutes before its first byte, a stream much longer).
var defaultBase = newPooledTransport(config.DefaultMaxIdleConnsPerHost)

// newPooledTransport returns the default base transport keeping perHost idle connections per upstream.
func newPooledTransport(perHost int) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 10 * time.Second
	t.MaxIdleConns = 0 // no overall cap: the per-host one bounds each upstream
	t.MaxIdleConnsPerHost = perHost
	t.IdleConnTimeout = 90 * time.Second
	t.ForceAttemptHTTP2 = true
	return t
}

// sizedPool returns base with the provider's max_idle_conns_per_host: the shared default transport when
// the provider keeps the default, a transport of its own when it asks for another size. A base the
// embedder supplied (Options.Base) is used as given: its pool is theirs to size.
func sizedPool(pc *config.Provider, base http.RoundTripper) http.RoundTripper {
	if base != defaultBase || pc.MaxIdleConnsPerHost == 0 || pc.MaxIdleConnsPerHost == config.DefaultMaxIdleConnsPerHost {
		return base
	}
	return newPooledTransport(pc.MaxIdleConnsPerHost)
}
