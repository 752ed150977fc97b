package core

import (
	"time"

	"github.com/tokenhost/tokenhost/sdk"
)

// Status describes one provider for `check`, `/providers` and embedders; it never holds a token.
type Status struct {
	// Name is the provider's name.
	Name string
	// Plugin is the configured plugin (built-in name or path).
	Plugin string
	// Running reports whether the plugin process is up.
	Running bool
	// Starting reports that the plugin's supervisor is busy (starting, restarting or stopping the plugin)
	// and Running, Info, PID and Stats.PluginStarts are what it last reported before.
	Starting bool
	// Info is what the plugin reported about itself (zero until started).
	Info sdk.Info
	// Upstream is the resolved upstream base URL ("" until started).
	Upstream string
	// Expiry is the cached token's expiry (zero: none cached, or unknown).
	Expiry time.Time
	// HasToken reports whether a usable token is cached.
	HasToken bool
	// UpstreamBreaker and TokenBreaker are the breakers' states ("closed", "open", "half-open").
	UpstreamBreaker, TokenBreaker string
	// PID is the plugin process's id (0: not running, or running in process).
	PID int
	// LastError is the last token or start error, already free of secrets.
	LastError string
	// Misconfigured reports that LastError is a configuration error (a missing upstream, an option the
	// plugin refuses): requests fail until the configuration is fixed.
	Misconfigured bool
	// LastRefresh is when the plugin last handed over a token (zero: never), and LastRefreshReason why it
	// was asked (ReasonCold, ReasonAhead, ReasonExpired, ReasonRejected, ReasonStepUp).
	LastRefresh       time.Time
	LastRefreshReason string
	// RecentErrors are the provider's last few distinct errors, newest first, free of secrets.
	RecentErrors []TimedError
	// Stats are the provider's counters.
	Stats Stats
	// Store is the health of the shared store for a provider that shares its tokens through one ("ok",
	// "unavailable since ..."); "" for a provider that does not.
	Store string
	// Generation is the configuration generation this provider's plugin, cache and breakers were built in
	// (1: at Open); a reload that leaves the provider's configuration unchanged keeps it.
	Generation int64
}

// Status returns the status of every configured provider, sorted by name. It never waits for a plugin:
// while one is starting or hung, its process fields come from the last snapshot (see procState).
func (h *Host) Status() []Status {
	g := h.gen.Load()
	out := make([]Status, 0, len(g.providers))
	for _, name := range g.cfg.Names() {
		p := g.providers[name]
		v, busy := p.procState()
		st := Status{Name: name, Plugin: p.cfg.Plugin, Running: v.running, Starting: busy, Info: v.info, PID: v.pid,
			UpstreamBreaker: p.breaker.State().String(), TokenBreaker: p.tokens.State().String(), Stats: p.stats.snapshot(), Generation: p.since}
		st.Stats.PluginStarts = v.starts
		if s := p.settings.Load(); s != nil {
			st.Upstream = s.upstream.String()
		}
		if e := p.cache.cur.Load(); e != nil {
			st.Expiry, st.HasToken = e.expiry, e.usable(time.Now())
		}
		if h.health != nil && p.cfg.Shared {
			st.Store = h.health.status().String()
		}
		if n := p.cache.last.Load(); n != nil {
			st.LastRefresh, st.LastRefreshReason = n.at, n.reason
		}
		st.RecentErrors = p.errs.list()
		if le := p.lastErr.Load(); le != nil {
			st.LastError, st.Misconfigured = *le, p.badConf.Load()
		}
		out = append(out, st)
	}
	return out
}

// procView is what Status shows of a plugin process.
type procView struct {
	info    sdk.Info
	running bool
	pid     int
	starts  int
}

// procState reads the plugin supervisor's state without waiting for it: the supervisor holds its lock
// for a whole start (up to the plugin's start and Configure timeouts) and a crash back-off, so when the
// lock is taken the last view read is returned with busy set. /readyz, /providers and /metrics thereby
// answer at once while a plugin is starting or hung.
func (p *provider) procState() (v procView, busy bool) {
	pp := p.proc
	if !pp.mu.TryLock() {
		if last := p.view.Load(); last != nil {
			return *last, true
		}
		return procView{}, true
	}
	v = procView{info: pp.info, starts: pp.starts,
		running: (pp.client != nil && !pp.client.Exited()) || (pp.local != nil && pp.src != nil)}
	if v.running && pp.client != nil {
		if rc := pp.client.ReattachConfig(); rc != nil {
			v.pid = rc.Pid
		}
	}
	pp.mu.Unlock()
	p.view.Store(&v)
	return v, false
}
