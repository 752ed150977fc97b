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
	// Stats are the provider's counters.
	Stats Stats
}

// Status returns the status of every configured provider, sorted by name.
func (h *Host) Status() []Status {
	out := make([]Status, 0, len(h.providers))
	for _, name := range h.cfg.Names() {
		p := h.providers[name]
		info, running := p.proc.started()
		st := Status{Name: name, Plugin: p.cfg.Plugin, Running: running, Info: info,
			UpstreamBreaker: p.breaker.State().String(), TokenBreaker: p.tokens.State().String(), Stats: p.stats.snapshot()}
		st.Stats.PluginStarts = p.proc.startCount()
		if running {
			st.PID = p.proc.pid()
		}
		if s := p.settings.Load(); s != nil {
			st.Upstream = s.upstream.String()
		}
		if e := p.cache.cur.Load(); e != nil {
			st.Expiry, st.HasToken = e.expiry, e.usable(time.Now())
		}
		if le := p.lastErr.Load(); le != nil {
			st.LastError = *le
		}
		out = append(out, st)
	}
	return out
}
