package core

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tokenhost/tokenhost/core/cooldown"
	"github.com/tokenhost/tokenhost/sdk"
)

// The reasons a group passes a member over, as /metrics labels them.
const (
	reasonCooling     = iota // cooling down after a 429: not tried
	reasonRateLimited        // answered 429
	reasonServerError        // answered a 5xx other than 501
	reasonUnreachable        // the round trip failed (connection refused, reset, timeout)
	reasonBreakerOpen        // its upstream breaker is open
	reasonNoToken            // no token could be had (sign-in needed, plugin or identity provider unavailable)
	reasonCount
)

var reasonNames = [reasonCount]string{"cooling", "rate_limited", "server_error", "unreachable", "breaker_open", "no_token"}

// reasonText words the reasons a member failed without an answer, for the group's own 429: the member's
// error itself (which may name local files) goes only into errors and logs.
var reasonText = [reasonCount]string{reasonUnreachable: "unreachable", reasonBreakerOpen: "its upstream circuit is open", reasonNoToken: "no token could be had"}

// passedOver says why each member a request tried was passed over: in full for the error a caller gets,
// and briefly for the group's 429 body.
type passedOver struct{ full, brief []string }

// same records one reason that reads the same in both.
func (p *passedOver) same(s string) { p.add(s, s) }

// add records one reason in full and briefly.
func (p *passedOver) add(full, brief string) {
	p.full, p.brief = append(p.full, full), append(p.brief, brief)
}

// RoundTrip sends req, addressed below the group's base URL, to the first member that takes it: members
// cooling down are skipped, and the next member gets the request (its body replayed) after a connection
// failure, an open breaker, a token the member cannot get, a 429 or a 5xx other than 501. Once a member's
// response headers are accepted, its response is the caller's, streamed as it comes.
func (g *group) RoundTrip(req *http.Request) (*http.Response, error) { return g.roundTrip(req, false) }

// groupForward is a group's router for requests the caller hands over entirely (the proxy's outbound
// copy): the first member tried gets the request itself, addressed to it in place.
type groupForward struct{ g *group }

// RoundTrip is the group's RoundTrip on a request the caller no longer uses.
func (f groupForward) RoundTrip(req *http.Request) (*http.Response, error) {
	return f.g.roundTrip(req, true)
}

// roundTrip is RoundTrip; owned says that req belongs to the group. Then the first member tried gets req
// itself, its URL and body set for the member and its credential set in its headers, and each later
// member a copy addressed from the caller's URL, with the header values the first member's credential
// replaced put back.
func (g *group) roundTrip(req *http.Request, owned bool) (*http.Response, error) {
	if req.URL.Host != g.base.Host {
		closeBody(req)
		return nil, &GroupError{Group: g.name, Reasons: []string{fmt.Sprintf("the request is addressed to %s://%s, not below the group's base URL %s (Provider.Upstream gives it)", req.URL.Scheme, req.URL.Host, g.base)}}
	}
	ctx := req.Context()
	var buf [orderBuf]int
	affinity := ""
	if g.cfg.AffinityHeader != "" {
		affinity = req.Header.Get(g.cfg.AffinityHeader)
	}
	order := g.order(buf[:0], affinity)
	body := newGroupBody(req, g.maxReplay)
	var (
		held    *http.Response // the last member's answer, returned if no later member takes the request
		lastErr error
		why     passedOver
	)
	in := *req.URL     // the caller's address below the group's base URL, kept while req is re-addressed in place
	var saved replaced // what the in-place attempt's credential replaced in req's headers
	inPlace := owned   // the next attempt may use req itself
	now := time.Now()
	for _, i := range order {
		m := &g.members[i]
		if r, ok := g.book.Cooling(m.name, now); ok {
			m.failovers[reasonCooling].Add(1)
			why.same(fmt.Sprintf("%s is rate limited until %s (%s)", m.name, r.Until.Format(time.TimeOnly), r.Source))
			continue
		}
		out, q, err := g.attempt(req, &in, &body, m, inPlace, owned, &saved)
		if errors.Is(err, errNoReplay) {
			why.same(m.name + ": " + err.Error())
			break
		}
		var resp *http.Response
		if err == nil {
			if inPlace {
				inPlace = false
				resp, err = q.transport().roundTrip(out, ownedAll, &saved)
			} else {
				resp, err = q.transport().roundTrip(out, copyOwnership(owned), nil)
			}
			q.uses.release()
		}
		if err != nil {
			if ctx.Err() != nil {
				dropHeld(held)
				return nil, err
			}
			r := failReason(err)
			m.failovers[r].Add(1)
			why.add(memberError(m.name, err), m.name+": "+reasonText[r])
			dropHeld(held)
			held, lastErr = nil, err
			continue
		}
		r, pass := g.judge(ctx, m, resp, now)
		if !pass {
			g.served(m, i, affinity)
			dropHeld(held)
			return resp, nil
		}
		m.failovers[r].Add(1)
		why.same(fmt.Sprintf("%s answered %d", m.name, resp.StatusCode))
		dropHeld(held)
		held, lastErr = resp, nil
	}
	if earliest, all := g.allCooling(time.Now()); all {
		dropHeld(held)
		return g.tooMany(req, earliest, why.brief), nil
	}
	if held != nil {
		return held, nil
	}
	if earliest, any := g.anyCooling(time.Now()); any {
		return g.tooMany(req, earliest, why.brief), nil
	}
	closeBody(req)
	return nil, &GroupError{Group: g.name, Reasons: why.full, Err: lastErr}
}

// copyOwnership is how much of a later attempt's copy the member's wrapper may change: the copy is the
// wrapper's, and its headers too when the group made them (owned).
func copyOwnership(owned bool) ownership {
	if owned {
		return ownedAll
	}
	return sharedHeader
}

// attempt holds member m's provider and builds its request: req itself when inPlace, else a copy of it
// (with headers of its own, saved put back, when req is the group's); addressed from in (req's URL as the
// caller gave it) below m's upstream, with the body for this attempt. The caller releases q.uses after
// the round trip.
func (g *group) attempt(req *http.Request, in *url.URL, body *groupBody, m *groupMember, inPlace, owned bool, saved *replaced) (*http.Request, *provider, error) {
	q, err := g.h.acquire(m.name)
	if err != nil {
		return nil, nil, providerErrorf(m.name, "%v; a configuration reload removed this member", err)
	}
	s := q.settings.Load()
	if s == nil {
		if s, err = q.start(req.Context()); err != nil {
			q.uses.release()
			return nil, nil, err
		}
	}
	out := req
	if inPlace {
		*req.URL = memberURL(s.upstream, in)
	} else {
		c := new(attemptRequest) // the copy and its URL in one allocation
		c.req = *req
		c.url = memberURL(s.upstream, in)
		out = &c.req
		out.URL = &c.url
		if owned {
			out.Header = saved.restored(req.Header)
		}
	}
	out.Host = ""
	if err := body.set(out, m.modelMap); err != nil {
		q.uses.release()
		return nil, nil, err
	}
	return out, q, nil
}

// attemptRequest is one attempt's copy of a request and the URL it goes to.
type attemptRequest struct {
	req http.Request
	url url.URL
}

// memberURL addresses in (a request below a group's base URL) below the member's upstream, as the proxy
// addresses a request to the member: the upstream's base path, then in's path; the upstream's query, then
// in's.
func memberURL(up, in *url.URL) url.URL {
	u := *up
	if base := strings.TrimSuffix(up.Path, "/"); base != "" {
		u.Path = base + in.Path
	} else {
		u.Path = in.Path
	}
	if in.RawPath != "" || up.RawPath != "" {
		u.RawPath = strings.TrimSuffix(up.EscapedPath(), "/") + in.EscapedPath()
	}
	switch {
	case in.RawQuery == "":
	case up.RawQuery == "":
		u.RawQuery = in.RawQuery
	default:
		u.RawQuery = up.RawQuery + "&" + in.RawQuery
	}
	return u
}

// judge decides on a member's answer to a request sent after sent: pass reports that the next member
// should get the request (429, or a 5xx other than 501), with the reason. A 429 starts the member's
// cooldown, its body kept readable; a success of a request sent after the member's last 429 ends it (one
// sent before, still in flight when the 429 came, does not).
func (g *group) judge(ctx context.Context, m *groupMember, resp *http.Response, sent time.Time) (reason int, pass bool) {
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		g.limit(ctx, m, resp)
		return reasonRateLimited, true
	case resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented:
		return reasonServerError, true
	}
	if m.cooling.Load() && resp.StatusCode < 400 && sent.UnixNano() > m.limitedAt.Load() && m.cooling.CompareAndSwap(true, false) {
		m.limits.Store(0)
		g.book.Clear(ctx, m.name)
	}
	return 0, false
}

// limit starts m's cooldown from a 429: the reset its answer names, else the back-off of its consecutive
// 429s. The part of the body read stays in front of the rest.
func (g *group) limit(ctx context.Context, m *groupMember, resp *http.Response) {
	now := time.Now()
	peek, err := io.ReadAll(io.LimitReader(resp.Body, cooldown.MaxBody))
	resp.Body = &prefixedBody{r: io.MultiReader(bytes.NewReader(peek), errOr(err, resp.Body)), c: resp.Body}
	n := m.limits.Add(1)
	r, ok := cooldown.FromResponse(resp.Header, peek, now)
	if !ok {
		r = cooldown.Default(int(n), now)
	}
	m.limitedAt.Store(now.UnixNano())
	m.cooling.Store(true)
	g.book.Limit(ctx, m.name, r)
}

// errOr is a reader that fails with err, or r when err is nil.
func errOr(err error, r io.Reader) io.Reader {
	if err != nil {
		return errReader{err}
	}
	return r
}

// served records that member i took a request.
func (g *group) served(m *groupMember, i int, affinity string) {
	m.served.Add(1)
	if last := g.last.Load(); last == nil || last.member != m.name || time.Since(last.at) > time.Second {
		g.last.Store(&servedNote{member: m.name, at: time.Now()})
	}
	if affinity != "" {
		key := g.affinityKey(affinity)
		if cur, ok := g.sticky.get(key); !ok || cur != i {
			g.sticky.put(key, i)
		}
	}
}

// allCooling reports whether every member is cooling down at now, and the earliest reset.
func (g *group) allCooling(now time.Time) (cooldown.Reset, bool) {
	var earliest cooldown.Reset
	for i := range g.members {
		r, ok := g.book.Cooling(g.members[i].name, now)
		if !ok {
			return cooldown.Reset{}, false
		}
		if earliest.Until.IsZero() || r.Until.Before(earliest.Until) {
			earliest = r
		}
	}
	return earliest, true
}

// anyCooling reports whether some member is cooling down at now, and the earliest reset among them.
func (g *group) anyCooling(now time.Time) (cooldown.Reset, bool) {
	var earliest cooldown.Reset
	for i := range g.members {
		if r, ok := g.book.Cooling(g.members[i].name, now); ok && (earliest.Until.IsZero() || r.Until.Before(earliest.Until)) {
			earliest = r
		}
	}
	return earliest, !earliest.Until.IsZero()
}

// tooMany is the group's own 429: every member is rate limited (or the rest failed), and Retry-After is
// when the first of them is usable again.
func (g *group) tooMany(req *http.Request, earliest cooldown.Reset, why []string) *http.Response {
	closeBody(req)
	secs := int(time.Until(earliest.Until).Seconds() + 0.999)
	msg := fmt.Sprintf("group %s: every member is rate limited or failing; the first is usable again at %s (in %ds, from %s): %s",
		g.name, earliest.Until.UTC().Format(time.RFC3339), max(secs, 1), earliest.Source, strings.Join(why, "; "))
	b, _ := jsonError(msg, "all_members_limited")
	h := http.Header{"Content-Type": {"application/json"}, "Retry-After": {fmt.Sprint(max(secs, 1))}}
	return &http.Response{Status: "429 Too Many Requests", StatusCode: http.StatusTooManyRequests, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: io.NopCloser(bytes.NewReader(b)), ContentLength: int64(len(b)), Request: req}
}

// dropHeld discards an answer a later member's attempt replaces.
func dropHeld(resp *http.Response) {
	if resp != nil {
		drain(resp)
	}
}

// failReason classifies a member's round-trip error.
func failReason(err error) int {
	var open *BreakerOpenError
	switch {
	case errors.As(err, &open) && open.What == "upstream":
		return reasonBreakerOpen
	case isTokenError(err):
		return reasonNoToken
	}
	return reasonUnreachable
}

// isTokenError reports whether err says a member could not get a token: a sign-in is needed, the plugin
// or identity provider is unavailable or misconfigured, or the token breaker is open.
func isTokenError(err error) bool {
	var (
		open    *BreakerOpenError
		timeout *FetchTimeoutError
		crash   *PluginCrashError
		down    *StoreUnavailableError
	)
	switch {
	case errors.As(err, &open):
		return open.What != "upstream"
	case errors.As(err, &timeout), errors.As(err, &crash), errors.As(err, &down):
		return true
	}
	var plugin *sdk.Error
	return errors.As(err, &plugin)
}

// jsonError is an OpenAI-shaped error body, as OpenAI-compatible clients read one.
func jsonError(msg, code string) ([]byte, error) {
	var e struct {
		Error struct {
			Message string `json:"message"`
			Type    string `json:"type"`
			Code    string `json:"code"`
		} `json:"error"`
	}
	e.Error.Message, e.Error.Type, e.Error.Code = msg, "tokenhost_error", code
	return json.Marshal(e)
}

// memberError is err's text led by the member it came from, for an error that does not already start
// by naming it (a connection error from the member's upstream names only an address).
func memberError(member string, err error) string {
	lead, msg := "provider "+member+": ", err.Error()
	if strings.HasPrefix(msg, lead) {
		return msg
	}
	return lead + msg
}
