package core

import (
	"bytes"
	"io"
	"net/http"
)

// drainLimit bounds how much of a rejected response's body is read so its connection can be reused.
const drainLimit = 64 << 10

// transport is the shared wrapper's http.RoundTripper for one provider.
type transport struct {
	p    *provider
	base http.RoundTripper
}

// RoundTrip injects the provider's token into requests bound for its upstream (or allowed hosts), resends
// once with a refreshed token after a retry status, and passes every other request through untouched.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	p := t.p
	s := p.settings.Load()
	if s == nil {
		var err error
		if s, err = p.start(req.Context()); err != nil {
			closeBody(req)
			p.stats.failures.Add(1)
			return nil, err
		}
	}
	if !s.allowed(req.URL) {
		return t.base.RoundTrip(req)
	}
	e, err := p.cache.get(req.Context())
	if err != nil {
		closeBody(req)
		p.stats.failures.Add(1)
		return nil, err
	}

	out := withToken(req, e)
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	if !replayable {
		replayable = bufferBody(out, p.cfg.MaxReplayBytes)
	}
	resp, err := p.breaker.roundTrip(t.base, out)
	if err != nil || !p.retryable(resp.StatusCode) {
		if err != nil {
			p.stats.failures.Add(1)
		}
		return resp, err
	}

	p.stats.rejected.Add(1)
	if !replayable {
		p.stats.notReplayable.Add(1)
		p.notReplayableOnce.Do(func() {
			p.log.Warn("upstream rejected the token and the request body cannot be replayed, so it was not retried; give requests a GetBody or raise max_replay_bytes",
				"status", resp.StatusCode, "max_replay_bytes", p.cfg.MaxReplayBytes)
		})
		return resp, nil
	}
	fresh, err := p.cache.renew(req.Context(), e)
	if err != nil {
		drain(resp)
		p.stats.failures.Add(1)
		return nil, providerErrorf(p.name, "provider %s: upstream answered %d and the token could not be refreshed: %w", p.name, resp.StatusCode, err)
	}
	again := withToken(req, fresh)
	if out.GetBody != nil && out.Body != nil && out.Body != http.NoBody {
		body, err := out.GetBody()
		if err != nil {
			return resp, nil
		}
		again.Body, again.GetBody = body, out.GetBody
	}
	drain(resp)
	p.stats.retries.Add(1)
	resp, err = p.breaker.roundTrip(t.base, again)
	if err != nil {
		p.stats.failures.Add(1)
	}
	return resp, err
}

// retryable reports whether status is in the provider's retry_statuses.
func (p *provider) retryable(status int) bool {
	return status >= 0 && status < len(p.retry) && p.retry[status]
}

// withToken returns a shallow copy of req whose headers carry e's credential and extra headers. The
// caller's own value of the credential header is replaced, never merged.
func withToken(req *http.Request, e *entry) *http.Request {
	out := new(http.Request)
	*out = *req
	h := make(http.Header, len(req.Header)+1+len(e.extra))
	for k, v := range req.Header {
		h[k] = v
	}
	h[e.header] = e.value
	for _, kv := range e.extra {
		h[kv.key] = kv.value
	}
	out.Header = h
	return out
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
		return providerErrorf(t.p.name, "provider %s: stopped after 10 redirects", t.p.name)
	}
	if s := t.p.settings.Load(); s == nil || !s.allowed(req.URL) {
		req.Header.Del("Authorization")
		if s != nil {
			req.Header.Del(s.header)
		}
	}
	return nil
}
