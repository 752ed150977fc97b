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
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tokenhost/tokenhost/core"
	"github.com/tokenhost/tokenhost/internal/hostapi"
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
	// Providers are the providers forwarded under /<provider>/; empty means every configured provider. A
	// request for any other provider is refused with 403 provider_not_served before a plugin is asked.
	Providers []string
}

// Handler returns the local proxy for h: /<provider>/<rest> is forwarded to <upstream>/<rest> through the
// provider's shared wrapper, beside /healthz, /readyz, /providers and /metrics.
func Handler(h *core.Host, opts Options) http.Handler {
	opts.Providers = slices.Clone(opts.Providers)
	px := &proxy{h: h, in: hostapi.Of(h), opts: opts, log: opts.AccessLog}
	if px.log == nil {
		px.log = px.in.Logger()
	}
	px.origins = map[string]bool{}
	for _, o := range opts.AllowedOrigins {
		px.origins[strings.ToLower(o)] = true
	}
	for _, k := range opts.APIKeys {
		px.keys = append(px.keys, sha256.Sum256([]byte(k)))
	}
	px.requests = newRequestCounter()
	registry := prometheus.NewRegistry()
	registry.MustRegister(px.requests, &statsCollector{h: h}, groupCollector{h: h, d: newGroupDescs()}, generationCollector(px.in), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	px.metrics = promhttp.HandlerFor(registry, promhttp.HandlerOpts{})
	return px
}

type proxy struct {
	h        *core.Host
	in       hostapi.Host // what the proxy uses of h beyond its exported API
	opts     Options
	keys     [][32]byte
	origins  map[string]bool
	routes   atomic.Pointer[routeTable] // the providers' routes in the current generation
	metrics  http.Handler
	requests *prometheus.CounterVec
	perMin   sync.Map // provider name → *stats.MinuteCounter: requests per minute, for the status page
	log      *slog.Logger
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
		writeError(w, http.StatusUnauthorized, "invalid_api_key", "missing or wrong proxy key: send Authorization: Bearer <key>, the key being one of server.api_keys, or under tokenhost run the run's key in $OPENAI_API_KEY and $TOKENHOST_KEY")
		return
	}
	switch r.URL.Path {
	case "/metrics":
		px.metrics.ServeHTTP(w, r)
		return
	case "/providers":
		writeJSON(w, http.StatusOK, px.providersAndGroups(r))
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
	var group *core.GroupError
	isGroup := errors.As(err, &group)
	switch {
	case isGroup && group.Err == nil:
		writeError(w, http.StatusBadGateway, "no_member_available", msg)
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
	case isGroup: // a GroupError names the group and each member itself
		writeError(w, http.StatusBadGateway, "upstream_unreachable", msg)
	default:
		writeError(w, http.StatusBadGateway, "upstream_unreachable", forCaller(r, fmt.Sprintf("provider %s: %v", provider, err)))
	}
}

// providerJSON is one entry of /providers; it never holds a token.
type providerJSON struct {
	Name            string         `json:"name"`
	Kind            string         `json:"kind"` // "provider"; a group's entry says "group"
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
	gen := px.in.Generation()
	for _, st := range px.h.Status() {
		pj := providerJSON{Name: st.Name, Kind: "provider", Plugin: st.Plugin, Version: st.Info.Version, Mode: st.Info.Mode, Upstream: withoutQuery(st.Upstream),
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
