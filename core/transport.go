package core

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
)

// drainLimit bounds how much of a rejected response's body is read so its connection can be reused.
const drainLimit = 64 << 10

// transport is the shared wrapper's http.RoundTripper for one provider. It holds exactly what it uses:
// the provider's settings (and how to start the plugin that resolves them), token cache, upstream
// breaker, retry statuses, replay limit and counters.
type transport struct {
	provider  string
	base      http.RoundTripper
	settings  *atomic.Pointer[settings]                // nil until the plugin has started
	start     func(context.Context) (*settings, error) // starts the plugin and resolves settings
	cache     *tokenCache
	breaker   *upstreamBreaker
	retry     statusSet
	maxReplay int64 // max_replay_bytes
	stats     *counters
	log       *slog.Logger

	notReplayableOnce sync.Once
}

// statusSet is a provider's retry_statuses: one to three codes, so a scan beats any index.
type statusSet []int

// has reports whether status is in the set.
func (s statusSet) has(status int) bool { return slices.Contains(s, status) }

// RoundTrip injects the provider's token into requests bound for its upstream (or allowed hosts), resends
// once with a refreshed token after a retry status, and passes every other request through untouched.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.roundTrip(req, borrowed, nil)
}

// forwardTransport is a provider's wrapper for requests the caller hands over entirely (a reverse proxy's
// outbound copy): the first attempt carries the credential in the request's own headers, with no copy.
type forwardTransport struct{ t *transport }

// RoundTrip is the wrapper's RoundTrip on a request the caller no longer uses.
func (f forwardTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return f.t.roundTrip(req, ownedAll, nil)
}

// ownership says how much of a request the wrapper may change in place.
type ownership uint8

const (
	borrowed     ownership = iota // the caller's: the first attempt goes out as a copy with its own headers
	sharedHeader                  // the wrapper's, but its headers are shared with another request: only they are copied
	ownedAll                      // entirely the wrapper's: the credential is set in its headers
)

// roundTrip is RoundTrip on a request own says how much of the wrapper may change. When the credential is
// set in req's own headers and saved is not nil, the values it replaced are recorded in saved. A resend
// always goes out as a copy: the first attempt's headers may still be in use by the base transport that
// wrote them.
func (t *transport) roundTrip(req *http.Request, own ownership, saved *replaced) (*http.Response, error) {
	s := t.settings.Load()
	if s == nil {
		var err error
		if s, err = t.start(req.Context()); err != nil {
			closeBody(req)
			t.stats.failures.Add(1)
			return nil, err
		}
	}
	if !s.allowed(req.URL) {
		return t.base.RoundTrip(req)
	}
	e, err := t.cache.get(req.Context())
	if err != nil {
		closeBody(req)
		t.stats.failures.Add(1)
		return nil, err
	}

	out := req
	switch own {
	case ownedAll:
		if saved != nil {
			saveToken(req.Header, e, saved)
		}
		setToken(req.Header, e)
	case sharedHeader:
		req.Header = tokenHeader(req.Header, e)
	default:
		out = withToken(req, e)
	}
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	if !replayable {
		replayable = bufferBody(out, t.maxReplay)
	}
	resp, err := t.breaker.roundTrip(t.base, out)
	if err != nil || !t.retry.has(resp.StatusCode) && (len(t.retry) == 0 || !stepUp(resp)) {
		if err != nil {
			t.stats.failures.Add(1)
		} else {
			noteAccepted(e, resp)
		}
		return resp, err
	}

	t.stats.rejected.Add(1)
	t.stats.rejectedMin.Add(time.Now())
	if !replayable {
		t.stats.notReplayable.Add(1)
		t.notReplayableOnce.Do(func() {
			t.log.Warn("upstream rejected the token and the request body cannot be replayed, so it was not retried; give requests a GetBody or raise max_replay_bytes",
				"status", resp.StatusCode, "max_replay_bytes", t.maxReplay)
		})
		return resp, nil
	}
	if t.cache.throttled(e) {
		if e.throttleLogged.CompareAndSwap(false, true) {
			t.log.Warn("upstream rejected a token that a refresh after a rejection produced moments ago; not refreshing again before min_refresh_interval and passing the rejection on — check the credential's scope or entitlement",
				"status", resp.StatusCode, "min_refresh_interval", t.cache.minRefresh.String())
		}
		return resp, nil
	}
	ctx, span := t.startRetry(req.Context(), resp.StatusCode)
	fresh, err := t.cache.renewRejected(ctx, e, rejectionOf(resp))
	if err != nil {
		endSpan(span, err)
		drain(resp)
		t.stats.failures.Add(1)
		return nil, providerErrorf(t.provider, "upstream answered %d and the token could not be refreshed: %w", resp.StatusCode, err)
	}
	again := withToken(req, fresh)
	if out.GetBody != nil && out.Body != nil && out.Body != http.NoBody {
		body, err := out.GetBody()
		if err != nil {
			endSpan(span, err)
			return resp, nil
		}
		again.Body, again.GetBody = body, out.GetBody
	}
	drain(resp)
	t.stats.retries.Add(1)
	resp, err = t.breaker.roundTrip(t.base, again)
	if err != nil {
		t.stats.failures.Add(1)
	} else {
		noteAccepted(fresh, resp)
		span.SetAttributes(attribute.Int(attrStatus, resp.StatusCode))
	}
	endSpan(span, err)
	return resp, err
}

// noteAccepted records that the upstream accepted e (see entry.accepted); only entries that replaced a
// rejected token are watched, so the usual request writes nothing shared.
func noteAccepted(e *entry, resp *http.Response) {
	if !e.rejectedAt.IsZero() && resp.StatusCode < 400 && !e.accepted.Load() {
		e.accepted.Store(true)
	}
}

// withToken returns a shallow copy of req whose headers carry e's credential and extra headers. The
// caller's own value of the credential header is replaced, never merged.
func withToken(req *http.Request, e *entry) *http.Request {
	out := new(http.Request)
	*out = *req
	out.Header = tokenHeader(req.Header, e)
	return out
}

// tokenHeader returns a copy of h that carries e's credential and extra headers.
func tokenHeader(h http.Header, e *entry) http.Header {
	c := make(http.Header, len(h)+1+len(e.extra))
	for k, v := range h {
		c[k] = v
	}
	setToken(c, e)
	return c
}

// saveToken records in saved the values h has for the headers setToken(h, e) replaces.
func saveToken(h http.Header, e *entry, saved *replaced) {
	saved.add(e.header, h[e.header])
	for _, kv := range e.extra {
		saved.add(kv.key, h[kv.key])
	}
}

// setToken sets e's credential and extra headers in h, replacing any value h had for them.
func setToken(h http.Header, e *entry) {
	h[e.header] = e.value
	for _, kv := range e.extra {
		h[kv.key] = kv.value
	}
}

// bufferBody makes out's body replayable by reading up to limit bytes into memory. A larger body is sent
// as it is (the buffered part then the rest) and reported not replayable.
func bufferBody(out *http.Request, limit int64) bool {
	if out.ContentLength > limit {
		return false
	}
	buf, err := io.ReadAll(io.LimitReader(out.Body, limit+1))
	if err != nil {
		out.Body = &prefixedBody{r: io.MultiReader(bytes.NewReader(buf), errReader{err}), c: out.Body}
		return false
	}
	if int64(len(buf)) > limit {
		out.Body = &prefixedBody{r: io.MultiReader(bytes.NewReader(buf), out.Body), c: out.Body}
		return false
	}
	out.Body.Close()
	out.Body = io.NopCloser(bytes.NewReader(buf))
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf)), nil }
	return true
}

type prefixedBody struct {
	r io.Reader
	c io.Closer
}

func (b *prefixedBody) Read(p []byte) (int, error) { return b.r.Read(p) }
func (b *prefixedBody) Close() error               { return b.c.Close() }

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, drainLimit))
	resp.Body.Close()
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// client builds the provider's *http.Client: the wrapper's transport and a redirect policy that strips
// credentials before following a redirect to a host that may not receive them.
func (t *transport) client() *http.Client {
	return &http.Client{Transport: t, CheckRedirect: t.checkRedirect}
}

func (t *transport) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return providerErrorf(t.provider, "stopped after 10 redirects")
	}
	if s := t.settings.Load(); s == nil || !s.allowed(req.URL) {
		req.Header.Del("Authorization")
		if s != nil {
			req.Header.Del(s.header)
		}
	}
	return nil
}
