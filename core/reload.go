package core

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"sync"

	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/store"
)

// generation is one configuration the host runs with and the providers built for it. Reload swaps the
// whole generation at once, so a lookup sees either the old set or the new one, never a mix.
type generation struct {
	n         int64
	cfg       *config.Config
	providers map[string]*provider
	groups    map[string]*group
}

// reloader is what the host keeps from Open to build the providers a reload adds or changes, and the
// providers a reload replaced, which Close must still stop.
type reloader struct {
	opts  Options
	base  http.RoundTripper
	store store.Store

	mu      sync.Mutex // serialises Reload and Close
	closed  bool
	retired []*provider
}

// Reloaded says what a Reload did.
type Reloaded struct {
	// Generation is the configuration generation now in effect.
	Generation int64
	// Added, Changed, Removed and Unchanged name the providers by what happened to them: changed ones
	// were rebuilt (new plugin process, empty cache, closed breakers), unchanged ones kept everything.
	Added, Changed, Removed, Unchanged []string
	// AddedGroups, ChangedGroups, RemovedGroups and UnchangedGroups name the groups likewise: a changed
	// one starts its state afresh (round-robin position, affinities, counters), an unchanged one keeps it.
	AddedGroups, ChangedGroups, RemovedGroups, UnchangedGroups []string
	// RestartNeeded lists the keys whose new values only take effect after a restart (server.*, store);
	// the running values stay.
	RestartNeeded []string
}

// Reload swaps cfg in as the host's configuration. A provider whose effective configuration is the same
// keeps its plugin process, cache and breakers; a changed one is rebuilt and starts fresh on first use;
// a removed or changed provider takes no new call at once (a Provider handle's next call goes to the new
// one) and its plugin is stopped when the calls that hold it have finished. The server and store blocks keep their running values
// (see Reloaded.RestartNeeded). On error nothing changes.
func (h *Host) Reload(cfg *config.Config) (Reloaded, error) {
	if cfg == nil {
		return Reloaded{}, errors.New("reload: no configuration given")
	}
	h.reload.mu.Lock()
	defer h.reload.mu.Unlock()
	if h.reload.closed {
		return Reloaded{}, errors.New("reload: the host is closed")
	}
	return h.reloadLocked(cfg)
}

// reloadLocked is Reload with h.reload.mu held and the host open.
func (h *Host) reloadLocked(cfg *config.Config) (Reloaded, error) {
	old := h.gen.Load()
	next := *cfg
	next.Server, next.Store = old.cfg.Server, old.cfg.Store
	g := &generation{n: old.n + 1, cfg: &next, providers: map[string]*provider{}}
	res := Reloaded{Generation: g.n, RestartNeeded: restartNeeded(old.cfg, cfg)}
	for _, pc := range cfg.Providers {
		op := old.providers[pc.Name]
		if op != nil && reflect.DeepEqual(*op.cfg, *pc) {
			g.providers[pc.Name] = op
			res.Unchanged = append(res.Unchanged, pc.Name)
			continue
		}
		p, err := h.buildProvider(pc, g.n)
		if err != nil {
			return Reloaded{}, fmt.Errorf("reload: %w; the running configuration stays", err)
		}
		g.providers[pc.Name] = p
		if op == nil {
			res.Added = append(res.Added, pc.Name)
		} else {
			res.Changed = append(res.Changed, pc.Name)
		}
	}
	for _, name := range old.cfg.Names() {
		if _, ok := g.providers[name]; !ok {
			res.Removed = append(res.Removed, name)
		}
	}
	g.groups = h.buildGroups(&next, old, g.n)
	for _, gc := range next.Groups {
		switch og := old.groups[gc.Name]; {
		case og == nil:
			res.AddedGroups = append(res.AddedGroups, gc.Name)
		case og == g.groups[gc.Name]:
			res.UnchangedGroups = append(res.UnchangedGroups, gc.Name)
		default:
			res.ChangedGroups = append(res.ChangedGroups, gc.Name)
		}
	}
	for _, gc := range old.cfg.Groups {
		if g.groups[gc.Name] == nil {
			res.RemovedGroups = append(res.RemovedGroups, gc.Name)
		}
	}
	h.gen.Store(g)
	for _, name := range old.cfg.Names() {
		if op := old.providers[name]; g.providers[name] != op {
			h.reload.retired = append(h.reload.retired, op)
			go op.retire()
		}
	}
	return res, nil
}

// buildProvider prepares pc's provider for generation n; its plugin starts on first use.
func (h *Host) buildProvider(pc *config.Provider, n int64) (*provider, error) {
	r := &h.reload
	pbase, err := upstreamBase(pc, r.base)
	if err != nil {
		return nil, err
	}
	p := newProvider(pc, r.opts, pbase, h.log.With("provider", pc.Name))
	p.since = n
	if r.store != nil && pc.Shared {
		state := &pluginStorage{provider: pc.Name, store: r.store}
		p.proc.storage = state
		shareTokens(p, r.store, state, h.health)
	}
	return p, nil
}

// retire stops p's plugin once no request holds p any more.
func (p *provider) retire() {
	<-p.uses.retire()
	p.proc.close()
	p.log.Info("provider stopped after a configuration reload replaced or removed it")
}

// closing marks the host closed for Reload and returns every provider Close must stop: the current ones
// and those reloads replaced.
func (h *Host) closing() []*provider {
	h.reload.mu.Lock()
	defer h.reload.mu.Unlock()
	h.reload.closed = true
	out := append([]*provider(nil), h.reload.retired...)
	for _, p := range h.gen.Load().providers {
		out = append(out, p)
	}
	return out
}

// restartNeeded names the keys of next that differ from cur and that a running host cannot apply.
func restartNeeded(cur, next *config.Config) []string {
	var out []string
	a, b := cur.Server, next.Server
	check := func(key string, x, y any) {
		if !reflect.DeepEqual(x, y) {
			out = append(out, key)
		}
	}
	check("server.listen", a.Listen, b.Listen)
	check("server.api_keys", a.APIKeys, b.APIKeys)
	check("server.shutdown_grace", a.ShutdownGrace, b.ShutdownGrace)
	check("server.tls", a.TLS, b.TLS)
	check("server.insecure_plaintext", a.InsecurePlaintext, b.InsecurePlaintext)
	check("server.allowed_origins", a.AllowedOrigins, b.AllowedOrigins)
	check("store", cur.Store, next.Store)
	return out
}
