package reach

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Guard holds one server's address class and makes the transports that keep to it.
type Guard struct {
	host   string // the server's host name or IP address, without port or brackets
	public func(netip.Addr) bool
	lookup func(ctx context.Context, host string) ([]netip.Addr, error)

	mu   sync.Mutex
	seen netip.Addr // a public address the server was reached at, else the last private one, else invalid
}

// Option changes how a Guard classifies addresses.
type Option func(*Guard)

// WithPublic makes public decide which addresses count as public in place of IsPublic.
func WithPublic(public func(netip.Addr) bool) Option { return func(g *Guard) { g.public = public } }

// New returns a Guard for the server at serverURL.
func New(serverURL string, opts ...Option) *Guard {
	host := serverURL
	if u, err := url.Parse(serverURL); err == nil {
		host = u.Hostname()
	}
	g := &Guard{host: strings.ToLower(host), public: IsPublic, lookup: func(ctx context.Context, h string) ([]netip.Addr, error) {
		return net.DefaultResolver.LookupNetIP(ctx, "ip", h)
	}}
	for _, o := range opts {
		o(g)
	}
	return g
}

// Refused is the error of a connection that a Guard did not let go to a private address.
type Refused struct {
	Host   string     // the host of the URL that was to be reached
	Addr   netip.Addr // the private address it resolved to
	Server netip.Addr // the public address the server was reached at (or resolves to)
}

// Error says which host was refused and why, without any URL path or query.
func (r *Refused) Error() string {
	return fmt.Sprintf("%s is a private or reserved address, while the server it was learned from is at %s, a public address", r.Where(), r.Server)
}

// Where names the refused host with its address, e.g. "intranet.corp (10.0.0.5)" or "10.0.0.5".
func (r *Refused) Where() string {
	if a, err := netip.ParseAddr(r.Host); err == nil && a.Unmap() == r.Addr.Unmap() {
		return r.Addr.String()
	}
	return r.Host + " (" + r.Addr.String() + ")"
}

// observe records that the server was reached at a: a public address is kept for good, so that a later
// private answer for the server's name cannot make it look private.
func (g *Guard) observe(a netip.Addr) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.seen.IsValid() || !g.public(g.seen) {
		g.seen = a
	}
}

// server returns the server's address when it is public: the one it was reached at, else, when it has
// not been reached yet, a public one its name resolves to. ok is false for a private server and for one
// whose name does not resolve (behind a proxy that resolves names itself), which are not checked.
func (g *Guard) server(ctx context.Context) (addr netip.Addr, ok bool) {
	g.mu.Lock()
	seen := g.seen
	g.mu.Unlock()
	if seen.IsValid() {
		return seen, g.public(seen)
	}
	addrs, err := g.lookup(ctx, g.host)
	if err != nil || len(addrs) == 0 {
		return netip.Addr{}, false
	}
	for _, a := range addrs {
		if a = a.Unmap(); g.public(a) {
			g.observe(a)
			return a, true
		}
	}
	return netip.Addr{}, false
}

// refuse builds the error for host at addr and records it in ctx's Watch, if any.
func (g *Guard) refuse(ctx context.Context, host string, addr, server netip.Addr) error {
	r := &Refused{Host: host, Addr: addr.Unmap(), Server: server}
	if w, ok := ctx.Value(watchKey{}).(*watch); ok {
		w.mu.Lock()
		if w.r == nil {
			w.r = r
		}
		w.mu.Unlock()
	}
	return r
}

// Origin returns a transport, made from a clone of t, for the URLs the user configured on the server
// itself: it checks nothing, and each connection it makes records the address the server answered at.
func (g *Guard) Origin(t *http.Transport) http.RoundTripper {
	c := t.Clone()
	dial := dialer().DialContext
	c.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err == nil && ctx.Value(proxiedKey{}) == nil {
			if ap, perr := netip.ParseAddrPort(conn.RemoteAddr().String()); perr == nil {
				g.observe(ap.Addr().Unmap())
			}
		}
		return conn, err
	}
	return &transport{base: c}
}

// Learned returns a transport, made from a clone of t, for the URLs learned from the server: while the
// server is public, each address it connects to must be public too, checked as the socket connects.
// Through a proxy, which dials in its place, the target's name is resolved here before the request
// instead; a name that does not resolve here is left to the proxy.
func (g *Guard) Learned(t *http.Transport) http.RoundTripper {
	c := t.Clone()
	c.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := dialer()
		if ctx.Value(proxiedKey{}) != nil {
			return d.DialContext(ctx, network, addr)
		}
		server, ok := g.server(ctx)
		if !ok {
			return d.DialContext(ctx, network, addr)
		}
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		d.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("cannot tell the address of %s: %w", address, err)
			}
			if !g.public(ap.Addr().Unmap()) {
				return g.refuse(ctx, host, ap.Addr(), server)
			}
			return nil
		}
		return d.DialContext(ctx, network, addr)
	}
	return &transport{base: c, guard: g}
}

// dialer is the dialer of http.DefaultTransport.
func dialer() *net.Dialer { return &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second} }

// proxiedKey marks the context of a request that goes through a proxy: its dials reach the proxy, which
// the user configured, not the target.
type proxiedKey struct{}

// transport notes which requests go through a proxy and, for a Learned transport, checks their target
// before they leave.
type transport struct {
	base  *http.Transport
	guard *Guard // nil for an Origin transport
}

// RoundTrip implements http.RoundTripper.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.base.Proxy == nil {
		return t.base.RoundTrip(req)
	}
	if p, err := t.base.Proxy(req); err != nil || p == nil {
		return t.base.RoundTrip(req)
	}
	ctx := req.Context()
	if t.guard != nil {
		if err := t.guard.beforeProxy(ctx, req.URL.Hostname()); err != nil {
			if req.Body != nil {
				req.Body.Close()
			}
			return nil, err
		}
	}
	return t.base.RoundTrip(req.WithContext(context.WithValue(ctx, proxiedKey{}, true)))
}

// CloseIdleConnections closes the idle connections of the transport underneath.
func (t *transport) CloseIdleConnections() { t.base.CloseIdleConnections() }

// beforeProxy checks, for a request a proxy will dial, the addresses host resolves to here.
func (g *Guard) beforeProxy(ctx context.Context, host string) error {
	server, ok := g.server(ctx)
	if !ok {
		return nil
	}
	addrs, err := g.lookup(ctx, host)
	if err != nil {
		return nil
	}
	for _, a := range addrs {
		if !g.public(a.Unmap()) {
			return g.refuse(ctx, host, a, server)
		}
	}
	return nil
}
