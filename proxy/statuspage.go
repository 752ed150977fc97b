package proxy

import (
	_ "embed"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tokenhost/tokenhost/core"
	"github.com/tokenhost/tokenhost/internal/stats"
)

// The status page at / of `tokenhost serve`: one server-rendered HTML page, no external assets (CSS and
// SVG inline, a few lines of script that count the token expiry down), built from Host.Status, which
// never holds a token. It is behind the same inbound keys as the API; a browser, which cannot add a
// bearer header, may give the key as the password of HTTP Basic auth.

//go:embed statuspage.html
var statusPageHTML string

// statusPage is the status page's template, parsed on first use (not at package init, which every plugin
// process runs too).
var statusPage = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("status").Parse(statusPageHTML))
})

// Chart geometry, in SVG user units.
const (
	chartW, chartH = 360, 64
)

// pageData is what the template renders.
type pageData struct {
	Now       time.Time
	Providers []pageProvider
	Groups    []pageGroup
}

// pageProvider is one provider's card.
type pageProvider struct {
	Name, Plugin, Version, Mode, Upstream string
	State                                 string // running, starting, stopped
	PID                                   int
	HasToken                              bool
	ExpiryMillis                          int64  // unix ms; 0: unknown or none
	ExpiresIn                             string // rendered server-side, counted down by the script
	LastRefresh, LastReason               string
	UpstreamBreaker, TokenBreaker         string
	Misconfigured                         bool
	FleetState                            bool // the plugin keeps its state (a sign-in) in the fleet store
	Errors                                []pageError
	Counters                              []pageCounter
	Chart                                 pageChart
}

type pageError struct{ Ago, Message string }

type pageCounter struct {
	Label string
	Value int64
}

// pageChart is a provider's last hour: requests, rejections and token fetches per minute as polylines.
type pageChart struct {
	W, H                         int
	Requests, Rejected, Refreshs string // SVG points
	Max                          int64
	TotalReq, TotalRej, TotalRef int64
}

// servePage answers GET / with the status page.
func (px *proxy) servePage(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "the status page at / answers GET only")
		return
	}
	if !px.authorized(r) && !px.basicAuthorized(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="tokenhost status", charset="UTF-8"`)
		writeError(w, http.StatusUnauthorized, "invalid_api_key", "the status page needs one of server.api_keys: send Authorization: Bearer <key>, or in a browser give the key as the password")
		return
	}
	now := time.Now()
	data := pageData{Now: now}
	for _, st := range px.h.Status() {
		data.Providers = append(data.Providers, px.pageProvider(r, st, now))
	}
	data.Groups = pageGroups(px.h.Groups(), now)
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	if err := statusPage().Execute(w, data); err != nil {
		px.log.Warn("rendering the status page failed", "error", err.Error())
	}
}

// basicAuthorized reports whether r gives an accepted inbound key as its Basic auth password (any user).
func (px *proxy) basicAuthorized(r *http.Request) bool {
	_, pw, ok := r.BasicAuth()
	return ok && len(px.keys) > 0 && px.keyAccepted(pw)
}

func (px *proxy) pageProvider(r *http.Request, st core.Status, now time.Time) pageProvider {
	pp := pageProvider{Name: st.Name, Plugin: st.Plugin, Version: st.Info.Version, Mode: st.Info.Mode, Upstream: withoutQuery(st.Upstream),
		PID: st.PID, HasToken: st.HasToken, UpstreamBreaker: st.UpstreamBreaker, TokenBreaker: st.TokenBreaker, Misconfigured: st.Misconfigured,
		FleetState: st.Info.UsesStorage}
	switch {
	case st.Starting:
		pp.State = "starting"
	case st.Running:
		pp.State = "running"
	default:
		pp.State = "stopped"
	}
	switch {
	case !st.Expiry.IsZero():
		pp.ExpiryMillis = st.Expiry.UnixMilli()
		pp.ExpiresIn = untilText(st.Expiry.Sub(now))
	case st.HasToken:
		pp.ExpiresIn = "no expiry given (valid until rejected)"
	default:
		pp.ExpiresIn = "no token cached"
	}
	pp.LastRefresh, pp.LastReason = "never", "-"
	if !st.LastRefresh.IsZero() {
		pp.LastRefresh, pp.LastReason = agoText(now.Sub(st.LastRefresh)), reasonText(st.LastRefreshReason)
	}
	for _, e := range st.RecentErrors {
		pp.Errors = append(pp.Errors, pageError{Ago: agoText(now.Sub(e.At)), Message: forCaller(r, e.Message)})
	}
	s := st.Stats
	pp.Counters = []pageCounter{{"token fetches", s.Fetches}, {"refreshes", s.Refreshes}, {"refresh failures", s.RefreshFailures},
		{"rejected", s.Rejected}, {"retries", s.Retries}, {"failures", s.Failures}, {"plugin starts", int64(s.PluginStarts)}}
	var reqs []int64
	if c, ok := px.perMin.Load(st.Name); ok {
		reqs = c.(*stats.MinuteCounter).Series(now)
	}
	pp.Chart = newChart(reqs, s.RejectedPerMinute, s.RefreshesPerMinute)
	return pp
}

// newChart scales the three series to one y axis.
func newChart(reqs, rej, ref []int64) pageChart {
	c := pageChart{W: chartW, H: chartH, Max: 1}
	for _, s := range [][]int64{reqs, rej, ref} {
		for _, v := range s {
			c.Max = max(c.Max, v)
		}
	}
	line := func(s []int64, total *int64) string {
		var b strings.Builder
		for i := range stats.MinuteSlots {
			var v int64
			if i < len(s) {
				v = s[i]
			}
			*total += v
			x := float64(i) * float64(chartW) / float64(stats.MinuteSlots-1)
			y := float64(chartH-2) - float64(v)*float64(chartH-4)/float64(c.Max)
			fmt.Fprintf(&b, "%.1f,%.1f ", x, y)
		}
		return strings.TrimSpace(b.String())
	}
	c.Requests, c.Rejected, c.Refreshs = line(reqs, &c.TotalReq), line(rej, &c.TotalRej), line(ref, &c.TotalRef)
	return c
}

// reasonText words a core.Reason* for people.
func reasonText(r string) string {
	switch r {
	case core.ReasonCold:
		return "cold start (nothing cached)"
	case core.ReasonAhead:
		return "refresh ahead of expiry"
	case core.ReasonExpired:
		return "token had expired"
	case core.ReasonRejected:
		return "upstream rejected the token (401)"
	case core.ReasonStepUp:
		return "upstream asked for more scope (403 insufficient_scope)"
	}
	return r
}

// untilText is "expires in 4m12s" or "expired 3s ago".
func untilText(d time.Duration) string {
	if d <= 0 {
		return "expired " + agoText(-d)
	}
	return "expires in " + d.Round(time.Second).String()
}

// agoText is "12s ago".
func agoText(d time.Duration) string {
	return d.Round(time.Second).String() + " ago"
}
