// Package proxy is `tokenhost serve`'s HTTP handler: /<provider>/<rest> is forwarded to the provider's
// upstream through the host's shared wrapper, beside /healthz, /readyz, /providers and /metrics
// (Prometheus). It runs on core and reads the host's stats snapshot; core knows nothing of it.
package proxy

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tokenhost/tokenhost/core"
	"github.com/tokenhost/tokenhost/sdk"
)

// Options configures the proxy handler.
type Options struct {
	// APIKeys are the inbound keys accepted as "Authorization: Bearer <key>"; empty means no inbound auth.
	APIKeys []string
	// Eager makes /readyz report ready only when every provider's plugin runs and holds a token.
	Eager bool
	// AllowedOrigins are the web origins (scheme://host[:port], lower case) whose requests are accepted;
	// a request with any other Origin header is refused with 403.
	AllowedOrigins []string
	// AccessLog receives one line per proxied request (method, provider, path, status, duration); nil
	// means the host's logger.
	AccessLog *slog.Logger
}

// Handler returns the local proxy for h: /<provider>/<rest> is forwarded to <upstream>/<rest> through the
// provider's shared wrapper, beside /healthz, /readyz, /providers and /metrics.
func Handler(h *core.Host, opts Options) http.Handler {
	px := &proxy{h: h, opts: opts, log: opts.AccessLog}
	if px.log == nil {
		px.log = h.Logger()
	}
	px.origins = map[string]bool{}
	for _, o := range opts.AllowedOrigins {
		px.origins[strings.ToLower(o)] = true
	}
	for _, k := range opts.APIKeys {
		px.keys = append(px.keys, sha256.Sum256([]byte(k)))
	}
	px.rp = px.reverseProxy()
	px.requests = newRequestCounter()
	registry := prometheus.NewRegistry()
	registry.MustRegister(px.requests, &statsCollector{h: h}, generationCollector(h), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	px.metrics = promhttp.HandlerFor(registry, promhttp.HandlerOpts{})
	return px
}

type proxy struct {
	h        *core.Host
	opts     Options
	keys     [][32]byte
	origins  map[string]bool
	rp       *httputil.ReverseProxy // one for every provider: the route in the request's context says which
	metrics  http.Handler
	requests *prometheus.CounterVec
	perMin   sync.Map // provider name → *core.MinuteCounter: requests per minute, for the status page
	log      *slog.Logger
}

// routeKey carries the provider (as the request acquired it), its endpoint and the path after the provider
// segment, in both forms, to Rewrite, the transport and the error handler.
type routeKey struct{}

type route struct {
	name      string
	ref       *core.ProviderRef
	ep        *core.Endpoint
	path, raw string
}

func (px *proxy) reverseProxy() *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		// Rewrite (not Director): hop-by-hop headers and inbound X-Forwarded-* are removed, none are added.
		Rewrite: func(pr *httputil.ProxyRequest) {
			rest := pr.In.Context().Value(routeKey{}).(route) // set by forward
			up, out := rest.ep.Upstream, pr.Out
			out.URL.Scheme, out.URL.Host = up.Scheme, up.Host
			// Keep the caller's escaping (e.g. %2F inside a segment) by setting both forms.
			out.URL.Path = strings.TrimSuffix(up.Path, "/") + rest.path
			out.URL.RawPath = strings.TrimSuffix(up.EscapedPath(), "/") + rest.raw
			if up.RawQuery != "" {
				out.URL.RawQuery = joinQuery(up.RawQuery, pr.In.URL.RawQuery)
			}
			out.Host = ""
			out.Header.Del("Authorization") // the proxy's own key, never the upstream's
			out.Header.Del(rest.ep.Header)
		},
		Transport:      routeTransport{},
		ModifyResponse: dropUpstreamCORS,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			px.fail(w, r, r.Context().Value(routeKey{}).(route).name, err)
		},
		ErrorLog: slog.NewLogLogger(px.log.Handler(), slog.LevelWarn),
	}
}

func joinQuery(a, b string) string {
	if b == "" {
		return a
	}
	return a + "&" + b
}

func (px *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if px.refuse(w, r) {
		return
	}
	switch r.URL.Path {
	case "/healthz":
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		return
	case "/readyz":
		px.ready(w, r)
		return
	case "/":
		px.servePage(w, r) // checks the inbound key itself: a browser may give it as a Basic password
		return
	}
	if !px.authorized(r) {
		writeError(w, http.StatusUnauthorized, "invalid_api_key", "missing or wrong proxy key: send Authorization: Bearer <one of server.api_keys>")
		return
	}
	switch r.URL.Path {
	case "/metrics":
		px.metrics.ServeHTTP(w, r)
		return
	case "/providers":
		writeJSON(w, http.StatusOK, px.providers(r))
		return
	}
	px.forward(w, r)
}

// authorized reports whether r carries an accepted inbound key, compared in constant time.
func (px *proxy) authorized(r *http.Request) bool {
	if len(px.keys) == 0 {
		return true
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && px.keyAccepted(got)
}

// keyAccepted reports whether got is one of the inbound keys, compared in constant time.
func (px *proxy) keyAccepted(got string) bool {
	sum := sha256.Sum256([]byte(got))
	match := 0
	for _, k := range px.keys {
		match |= subtle.ConstantTimeCompare(sum[:], k[:])
	}
	return match == 1
}

func (px *proxy) forward(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	path := r.URL.EscapedPath()
	name, rest, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	ref, err := px.h.Acquire(name)
	if err != nil {
		known := px.h.Config().Names()
		writeError(w, http.StatusNotFound, "unknown_provider",
			fmt.Sprintf("no provider %q; configured: %s (route: /<provider>/<path>)", name, strings.Join(known, ", ")))
		return
	}
	if escapesBase(rest) {
		writeError(w, http.StatusBadRequest, "invalid_path",
			fmt.Sprintf("path /%s/%s climbs above provider %s's upstream base path with a dot segment (..); send the path without dot segments", name, rest, name))
		ref.Release()
		return
	}
	defer ref.Release() // after the response: a reload stops a replaced plugin only once this request is done
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	defer func() {
		px.requests.WithLabelValues(name, strconv.Itoa(rec.status)).Inc()
		px.minutes(name).Add(start)
		px.log.Info("request", "method", r.Method, "provider", name, "path", "/"+rest, "status", rec.status,
			"duration", time.Since(start).Round(time.Microsecond).String())
	}()
	ep, err := ref.Endpoint(r.Context())
	if err != nil {
		px.fail(rec, r, name, err)
		return
	}
	rt := route{name: name, ref: ref, ep: ep, path: "/" + rest, raw: "/" + rest}
	if u, err := url.PathUnescape(rt.raw); err == nil {
		rt.path = u
	}
	streamBody(r, ref.Config().MaxReplayBytes)
	ctx := context.WithValue(callerTrace(r), routeKey{}, rt)
	px.rp.ServeHTTP(rec, r.WithContext(ctx))
}

// fail answers a request the proxy could not forward with an OpenAI-shaped error.
func (px *proxy) fail(w http.ResponseWriter, r *http.Request, provider string, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		if rec, ok := w.(*statusRecorder); ok {
			rec.status = 499 // the client went away; nothing to write
		}
		return
	}
	if remoteCaller(r) { // the caller sees the message without local paths; the log keeps it whole
		px.log.Warn("request failed", "provider", provider, "error", err.Error())
	}
	msg := forCaller(r, err.Error())
	var open *core.BreakerOpenError
	var crashed *core.PluginCrashError
	var timeout *core.FetchTimeoutError
	var storeDown *core.StoreUnavailableError
	var pluginErr *sdk.Error
	switch {
	case errors.As(err, &open):
		w.Header().Set("Retry-After", strconv.Itoa(int(open.RetryAfter().Round(time.Second).Seconds())))
		writeError(w, http.StatusServiceUnavailable, "circuit_open", msg)
	case errors.As(err, &storeDown):
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "store_unavailable", msg)
	case sdk.IsKind(err, sdk.KindReauthRequired):
		writeError(w, http.StatusUnauthorized, "reauth_required", msg)
	case errors.As(err, &crashed):
		writeError(w, http.StatusBadGateway, "plugin_crashed", msg)
	case errors.As(err, &timeout):
		writeError(w, http.StatusGatewayTimeout, "token_fetch_timeout", msg)
	case sdk.IsKind(err, sdk.KindBadConfig):
		writeError(w, http.StatusInternalServerError, "bad_config", msg)
	case sdk.IsKind(err, sdk.KindUnavailable):
		writeError(w, http.StatusBadGateway, "token_unavailable", msg)
	case errors.As(err, &pluginErr) && pluginErr.Kind == sdk.KindInternal:
		writeError(w, http.StatusBadGateway, "plugin_error", msg)
	default:
		writeError(w, http.StatusBadGateway, "upstream_unreachable", forCaller(r, fmt.Sprintf("provider %s: %v", provider, err)))
	}
}

// providerJSON is one entry of /providers; it never holds a token.
type providerJSON struct {
	Name            string         `json:"name"`
	Plugin          string         `json:"plugin"`
	Version         string         `json:"version,omitempty"`
	Mode            string         `json:"mode,omitempty"`
	Upstream        string         `json:"upstream,omitempty"`
	Running         bool           `json:"running"`
	PID             int            `json:"pid,omitempty"` // the plugin process, while it runs out of process
	Starting        bool           `json:"starting,omitempty"`
	HasToken        bool           `json:"has_token"`
	TokenExpiry     *time.Time     `json:"token_expiry,omitempty"`
	UpstreamBreaker string         `json:"upstream_breaker"`
	TokenBreaker    string         `json:"token_breaker"`
	LastError       string         `json:"last_error,omitempty"`
	Store           string         `json:"store,omitempty"`
	PluginState     string         `json:"plugin_state,omitempty"` // "fleet store": the plugin keeps its state (a sign-in) there
	Counters        map[string]any `json:"counters"`
	Generation      int64          `json:"generation"`       // the configuration generation in effect
	SinceGeneration int64          `json:"since_generation"` // the generation this provider was built in
}

// providers lists every provider's status as r's caller may see it: upstreams without their query, and
// for a remote caller last errors without local paths.
func (px *proxy) providers(r *http.Request) []providerJSON {
	var out []providerJSON
	gen := px.h.Generation()
	for _, st := range px.h.Status() {
		pj := providerJSON{Name: st.Name, Plugin: st.Plugin, Version: st.Info.Version, Mode: st.Info.Mode, Upstream: withoutQuery(st.Upstream),
			Running: st.Running, PID: st.PID, Starting: st.Starting, HasToken: st.HasToken, UpstreamBreaker: st.UpstreamBreaker, TokenBreaker: st.TokenBreaker, LastError: forCaller(r, st.LastError), Store: forCaller(r, st.Store),
			Counters: map[string]any{"rejected": st.Stats.Rejected, "fetches": st.Stats.Fetches, "refreshes": st.Stats.Refreshes, "refresh_failures": st.Stats.RefreshFailures,
				"retries": st.Stats.Retries, "not_replayable": st.Stats.NotReplayable, "failures": st.Stats.Failures, "plugin_starts": st.Stats.PluginStarts}}
		pj.Generation, pj.SinceGeneration = max(gen, st.Generation), st.Generation
		if st.Info.UsesStorage {
			pj.PluginState = "fleet store"
		}
		if !st.Expiry.IsZero() {
			e := st.Expiry
			pj.TokenExpiry = &e
		}
		out = append(out, pj)
	}
	return out
}

func (px *proxy) ready(w http.ResponseWriter, _ *http.Request) {
	var waiting, misconfigured []string
	for _, st := range px.h.Status() {
		switch {
		case st.Misconfigured:
			misconfigured = append(misconfigured, st.Name)
		case px.opts.Eager && (!st.Running || !st.HasToken):
			waiting = append(waiting, st.Name)
		}
	}
	if len(waiting)+len(misconfigured) > 0 {
		body := map[string]any{"status": "not ready"}
		px.addStore(body)
		if len(waiting) > 0 {
			body["providers_without_token"] = waiting
		}
		if len(misconfigured) > 0 {
			body["misconfigured_providers"] = misconfigured
		}
		writeJSON(w, http.StatusServiceUnavailable, body)
		return
	}
	body := map[string]any{"status": "ready"}
	px.addStore(body)
	writeJSON(w, http.StatusOK, body)
}

// openAIError is the error body OpenAI-compatible clients understand.
type openAIError struct {
	Error struct {
		Message string `json:"message"`
		Type    string `json:"type"`
		Code    string `json:"code"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	var e openAIError
	e.Error.Message, e.Error.Type, e.Error.Code = msg, "tokenhost_error", code
	writeJSON(w, status, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// statusRecorder remembers the final status for the access log and metrics; Unwrap keeps flushing
// working for streamed responses.
type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

// WriteHeader records code unless it is informational (1xx other than 101 Switching Protocols): an
// upstream's 100 or 103 Early Hints is passed on, and the final status that follows is the one recorded.
func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote && (code >= 200 || code == http.StatusSwitchingProtocols) {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// minutes returns provider's requests-per-minute counter, made on its first request (providers come and go
// with reloads).
func (px *proxy) minutes(provider string) *core.MinuteCounter {
	if c, ok := px.perMin.Load(provider); ok {
		return c.(*core.MinuteCounter)
	}
	c, _ := px.perMin.LoadOrStore(provider, new(core.MinuteCounter))
	return c.(*core.MinuteCounter)
}
