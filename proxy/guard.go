package proxy

import (
	"net"
	"net/http"
	"strings"

	"github.com/tokenhost/tokenhost/internal/netaddr"
)

// The proxy treats web pages as strangers, even on loopback. A page in the user's browser can send a
// simple cross-site POST to 127.0.0.1, or rebind its own DNS name to 127.0.0.1 and read the answers; it
// cannot choose the Host header's value on a rebound name, and the browser always adds Origin to a
// cross-site request. So: on a loopback listen the Host must name loopback, a request carrying an Origin
// must come from server.allowed_origins, and CORS preflights are answered here, never forwarded.

// corsMethods and corsMaxAge are what a preflight from an allowed origin is granted.
const (
	corsMethods = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
	corsMaxAge  = "600"
)

// refuse answers r itself when it must not go further, and reports whether it did: a foreign Host on a
// loopback listen, an Origin not allowed, or a CORS preflight.
func (px *proxy) refuse(w http.ResponseWriter, r *http.Request) bool {
	if loopbackListen(r) && !loopbackHost(r.Host) {
		writeError(w, http.StatusForbidden, "host_not_allowed",
			"this proxy listens on loopback and answers only requests addressed to localhost or a loopback address (Host header); a web page that rebinds its DNS name to 127.0.0.1 is refused")
		return true
	}
	origin := r.Header.Get("Origin")
	if origin != "" && !px.origins[strings.ToLower(origin)] {
		writeError(w, http.StatusForbidden, "origin_not_allowed",
			"requests from web pages are refused: origin "+origin+" is not listed in server.allowed_origins")
		return true
	}
	if origin != "" {
		w.Header().Set("Access-Control-Allow-Origin", origin)
		w.Header().Add("Vary", "Origin")
	}
	if r.Method == http.MethodOptions {
		if origin != "" {
			w.Header().Set("Access-Control-Allow-Methods", corsMethods)
			if h := r.Header.Get("Access-Control-Request-Headers"); h != "" {
				w.Header().Set("Access-Control-Allow-Headers", h)
			}
			w.Header().Set("Access-Control-Max-Age", corsMaxAge)
		}
		w.Header().Set("Allow", corsMethods)
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	return false
}

// loopbackListen reports whether r arrived on a loopback (or Unix socket) listener. A request with no
// local address (a handler called directly) is not checked.
func loopbackListen(r *http.Request) bool {
	switch a := r.Context().Value(http.LocalAddrContextKey).(type) {
	case *net.TCPAddr:
		return a.IP.IsLoopback()
	case *net.UnixAddr:
		return true
	}
	return false
}

// loopbackHost reports whether a Host header value names loopback: localhost or a loopback IP literal,
// any port.
func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	return netaddr.IsLoopback(host)
}

// dropUpstreamCORS removes the upstream's Access-Control-* headers: the proxy decides which origins may
// read an answer, not the upstream, which saw only the proxy.
func dropUpstreamCORS(resp *http.Response) error {
	for k := range resp.Header {
		if strings.HasPrefix(k, "Access-Control-") {
			resp.Header.Del(k)
		}
	}
	return nil
}
