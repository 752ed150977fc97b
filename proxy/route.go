package proxy

import (
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tokenhost/tokenhost/internal/hostapi"
	"github.com/tokenhost/tokenhost/internal/stats"
)

// route is what the proxy keeps for one provider as a request acquired it — one provider instance of
// one configuration generation, with the endpoint its plugin resolved — built on the first request that
// needs it: the reverse proxy to its upstream over its wrapper, its per-minute counter and its request
// counters by status. The request path then does no lookup by name and no label hashing.
type route struct {
	name     string
	ep       *hostapi.Endpoint
	base     string // the upstream's base path without its trailing slash, unescaped
	baseRaw  string // the same, escaped
	rp       *httputil.ReverseProxy
	perMin   *stats.MinuteCounter
	requests *prometheus.CounterVec
	codes    [codeSlots]atomic.Pointer[prometheus.Counter] // by status-firstCode, made on first use
}

// The statuses whose request counter a route caches; any other is looked up by label each time.
const (
	firstCode = 100
	codeSlots = 500 // 100-599
)

// maxRoutes bounds the routes one generation's table holds: a plugin that restarts resolves a new
// endpoint, and so a new route, each time; past this many the table starts afresh.
const maxRoutes = 256

// routeTable maps an endpoint (*hostapi.Endpoint: unique to one provider instance and plugin start) to its
// route, for one configuration generation; a reload starts a new table, dropping retired providers' routes.
type routeTable struct {
	gen int64
	n   atomic.Int64
	m   sync.Map // *hostapi.Endpoint → *route
}

// route returns the route of the provider ref holds, resolved to ep, building it on first use.
func (px *proxy) route(name string, ref hostapi.Ref, ep *hostapi.Endpoint) *route {
	t := px.routes.Load()
	if g := px.in.Generation(); t == nil || t.gen != g || t.n.Load() > maxRoutes {
		fresh := &routeTable{gen: g}
		if px.routes.CompareAndSwap(t, fresh) {
			t = fresh
		} else {
			t = px.routes.Load()
		}
	}
	if v, ok := t.m.Load(ep); ok {
		return v.(*route)
	}
	v, loaded := t.m.LoadOrStore(ep, px.newRoute(name, ref, ep))
	if !loaded {
		t.n.Add(1)
	}
	return v.(*route)
}

// newRoute builds the route of the provider ref holds, resolved to ep.
func (px *proxy) newRoute(name string, ref hostapi.Ref, ep *hostapi.Endpoint) *route {
	rt := &route{name: name, ep: ep, perMin: px.minutes(name), requests: px.requests,
		base: strings.TrimSuffix(ep.Upstream.Path, "/"), baseRaw: strings.TrimSuffix(ep.Upstream.EscapedPath(), "/")}
	rt.rp = &httputil.ReverseProxy{
		// Rewrite (not Director): hop-by-hop headers and inbound X-Forwarded-* are removed, none are added.
		Rewrite:        rt.rewrite,
		Transport:      ref.ForwardTransport(), // the outbound request is the reverse proxy's own copy
		ModifyResponse: dropUpstreamCORS,
		BufferPool:     buffers,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			px.fail(w, r, name, err)
		},
		ErrorLog: slog.NewLogLogger(px.log.Handler(), slog.LevelWarn),
	}
	return rt
}

// rewrite points the outbound request at the route's upstream: /<provider> alone reaches the upstream URL
// exactly as configured (an MCP endpoint such as https://tools.example/mcp, with or without its trailing
// slash), the path after /<provider>/ goes below the upstream's base path, and the upstream's query comes
// before the caller's.
func (rt *route) rewrite(pr *httputil.ProxyRequest) {
	_, raw := splitRoute(pr.In.URL.EscapedPath())
	up, out := rt.ep.Upstream, pr.Out
	out.URL.Scheme, out.URL.Host = up.Scheme, up.Host
	if raw == "" {
		out.URL.Path, out.URL.RawPath = up.Path, up.RawPath
		if out.URL.Path == "" {
			out.URL.Path = "/"
		}
	} else {
		// Keep the caller's escaping (e.g. %2F inside a segment) by setting both forms.
		path := raw
		if u, err := url.PathUnescape(raw); err == nil {
			path = u
		}
		out.URL.Path, out.URL.RawPath = rt.base+path, rt.baseRaw+raw
	}
	if up.RawQuery != "" {
		out.URL.RawQuery = joinQuery(up.RawQuery, pr.In.URL.RawQuery)
	}
	out.Host = ""
	out.Header.Del("Authorization") // the proxy's own key, never the upstream's
	out.Header.Del(rt.ep.Header)
}

// counter returns the request counter for status code.
func (rt *route) counter(code int) prometheus.Counter {
	i := code - firstCode
	if i < 0 || i >= codeSlots {
		return rt.requests.WithLabelValues(rt.name, strconv.Itoa(code))
	}
	if c := rt.codes[i].Load(); c != nil {
		return *c
	}
	c := rt.requests.WithLabelValues(rt.name, strconv.Itoa(code))
	rt.codes[i].Store(&c)
	return c
}

// splitRoute splits an escaped request path /<provider>/<rest> into the provider and "/<rest>" (a
// substring of path: nothing is allocated); rest is "" for /<provider> alone.
func splitRoute(path string) (name, rest string) {
	p := strings.TrimPrefix(path, "/")
	name, _, found := strings.Cut(p, "/")
	if !found {
		return name, ""
	}
	return name, p[len(name):]
}

func joinQuery(a, b string) string {
	if b == "" {
		return a
	}
	return a + "&" + b
}
