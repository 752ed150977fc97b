package proxy

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/internal/stats"
	"github.com/tokenhost/tokenhost/internal/suggest"
)

// forward sends r, addressed to /<provider>/<rest>, to the provider's upstream through its wrapper, and
// counts and logs it. The path of a request with a cached token allocates nothing of its own beyond the
// provider hold (Acquire): its route is cached, its status recorder pooled, the access log built only
// when its level is enabled.
func (px *proxy) forward(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	name, rest := splitRoute(r.URL.EscapedPath())
	if served := px.opts.Providers; len(served) > 0 && !slices.Contains(served, name) {
		writeError(w, http.StatusForbidden, "provider_not_served",
			fmt.Sprintf("provider %q is not served by this proxy; it serves %s (route: /<provider>/<path>)", name, strings.Join(served, ", ")))
		return
	}
	ref, err := px.in.Acquire(name)
	if err != nil {
		writeError(w, http.StatusNotFound, "unknown_provider", unknownProvider(px.h.Config(), name))
		return
	}
	if escapesBase(rest) {
		writeError(w, http.StatusBadRequest, "invalid_path",
			fmt.Sprintf("path /%s%s climbs above provider %s's upstream base path with a dot segment (..); send the path without dot segments", name, rest, name))
		ref.Release()
		return
	}
	defer ref.Release() // after the response: a reload stops a replaced plugin only once this request is done
	rec := newRecorder(w)
	var rt *route
	defer func() { // deferred: a stream the client abandons ends the handler with a panic (http.ErrAbortHandler)
		if rt != nil {
			rt.counter(rec.status).Inc()
			rt.perMin.Add(start)
		} else {
			px.requests.WithLabelValues(name, strconv.Itoa(rec.status)).Inc()
			px.minutes(name).Add(start)
		}
		px.logRequest(r.Method, name, rest, rec.status, start)
		rec.free()
	}()
	ep, err := ref.Endpoint(r.Context())
	if err != nil {
		px.fail(rec, r, name, err)
		return
	}
	rt = px.route(name, ref, ep)
	streamBody(r, ref.Config().MaxReplayBytes)
	if ctx := callerTrace(r); ctx != r.Context() {
		r = r.WithContext(ctx)
	}
	rt.rp.ServeHTTP(rec, r)
}

// logRequest writes a request's access-log line, when the access log's level (info) is enabled; otherwise it
// costs nothing.
func (px *proxy) logRequest(method, provider, path string, status int, start time.Time) {
	ctx := context.Background()
	if !px.log.Enabled(ctx, slog.LevelInfo) {
		return
	}
	px.log.LogAttrs(ctx, slog.LevelInfo, "request", slog.String("method", method), slog.String("provider", provider),
		slog.String("path", path), slog.Int("status", status), slog.String("duration", time.Since(start).Round(time.Microsecond).String()))
}

// minutes returns provider's requests-per-minute counter, made on its first request (providers come and go
// with reloads).
func (px *proxy) minutes(provider string) *stats.MinuteCounter {
	if c, ok := px.perMin.Load(provider); ok {
		return c.(*stats.MinuteCounter)
	}
	c, _ := px.perMin.LoadOrStore(provider, new(stats.MinuteCounter))
	return c.(*stats.MinuteCounter)
}

// unknownProvider is the message for a route to name, which cfg neither provides nor groups: every name a
// route can take, the closest one first when a typo is likely.
func unknownProvider(cfg *config.Config, name string) string {
	known := cfg.Names()
	for _, gc := range cfg.Groups {
		known = append(known, gc.Name)
	}
	if s := suggest.Closest(name, known); s != "" {
		return fmt.Sprintf("no provider %q (did you mean %q?); configured: %s (route: /<provider>/<path>)", name, s, strings.Join(known, ", "))
	}
	return fmt.Sprintf("no provider %q; configured: %s (route: /<provider>/<path>)", name, strings.Join(known, ", "))
}
