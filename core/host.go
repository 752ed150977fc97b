// Package core is the tokenhost host: it loads the configuration, supervises provider plugin processes,
// and owns the wrapper every provider shares — token cache, refresh-ahead, single-flight refresh, one
// retry after a rejection, circuit breaking. It links no plugin: a blank import of
// github.com/tokenhost/tokenhost/plugins/builtin compiles the built-ins in, and Options.PluginExecutable
// runs those of an installed tokenhost binary instead.
//
// Its exported API is for embedders: Open a Host, take a Provider handle (or a Client) per provider, and
// read Status. Two kinds of package register with it, in the manner of database/sql's drivers: plugin
// registries (RegisterBuiltin, as plugins/builtin does) and store backends (RegisterStore). The proxy of
// `tokenhost serve` (package proxy) and the tokenhost command need more of a host — holding a provider
// for one request across a reload, its resolved endpoint, the configuration generation — and reach it
// through the module's internal/hostapi package, whose accessor this package registers at init; the
// counters they show come from internal/stats. Neither is importable outside this module.
package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
	"go.opentelemetry.io/otel/trace"

	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/core/cooldown"
	"github.com/tokenhost/tokenhost/internal/suggest"
	"github.com/tokenhost/tokenhost/sdk"
	"github.com/tokenhost/tokenhost/store"
)

// Options configures Open.
type Options struct {
	// ConfigFile is the configuration file; empty means the search order of the docs.
	ConfigFile string
	// Config, when set, is used instead of loading a file.
	Config *config.Config
	// PluginExecutable is an installed tokenhost binary that serves the built-in plugins. Empty means this
	// program itself, which must then call ServeIfPlugin first thing in main.
	PluginExecutable string
	// Base is the transport requests finally go through; nil means http.DefaultTransport.
	Base http.RoundTripper
	// Logger receives the host's and the plugins' log lines; nil means slog.Default().
	Logger *slog.Logger
	// InProcess runs the named providers' sources inside this process instead of starting their plugins:
	// no process isolation, for sources written in plain Go and for tests of programs built on the host.
	InProcess map[string]sdk.Source
	// Store, when set, is the store shared providers share tokens through instead of the configured one
	// (several hosts in one process, or an embedder's own backend); the host does not close it.
	Store store.Store
	// TracerProvider receives the host's spans (token fetches, plugin calls, retries); nil means
	// OpenTelemetry's global provider, a no-op until the program sets one.
	TracerProvider trace.TracerProvider
}

// Host owns every configured provider's plugin process and shared wrapper. Provider and Client reach one
// provider; Reload swaps the configuration while it runs.
type Host struct {
	gen       atomic.Pointer[generation] // the configuration in effect and its providers (reload.go)
	reload    reloader                   // what Reload needs to build providers (reload.go)
	log       *slog.Logger
	store     store.Store   // closed by Close when the host opened it
	health    *storeHealth  // nil without a shared store (store_health.go)
	cooldowns cooldown.Book // the members' cooldowns, shared by the fleet with a shared store (group.go)
	closeOnce sync.Once
}

// provider is one configured provider: its plugin process, settings, cache and breakers.
type provider struct {
	name     string
	cfg      *config.Provider
	proc     *pluginProc
	settings atomic.Pointer[settings]
	cache    *tokenCache
	breaker  *upstreamBreaker
	tokens   *tokenBreaker
	stats    counters
	uses     useGate // requests holding the provider across a reload (reload.go)
	since    int64   // the configuration generation this provider was built in
	log      *slog.Logger
	lastErr  atomic.Pointer[string]
	errs     recentErrors             // the last few errors, for the status page
	badConf  atomic.Bool              // the last error was a configuration error: nothing works until the config changes
	view     atomic.Pointer[procView] // the plugin state Status last read (status.go)
	unusable unusableGate             // after a plugin returned an unusable token

	transportOnce sync.Once
	tr            *transport
	base          http.RoundTripper
}

// Open loads the configuration and prepares every provider; plugin processes start on first use.
func Open(ctx context.Context, opts Options) (*Host, error) {
	if name := os.Getenv(envBuiltin); name != "" {
		return nil, fmt.Errorf("this process was started to serve the built-in plugin %q but opened a host instead; call core.ServeIfPlugin() first thing in main", name)
	}
	cfg := opts.Config
	if cfg == nil {
		var err error
		cfg, err = config.Load(config.Sources{File: opts.ConfigFile, Environ: os.Environ(), Builtins: Builtins()})
		if err != nil {
			return nil, err
		}
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	base := opts.Base
	if base == nil {
		base = defaultBase
	}
	h := &Host{log: logger}
	store, owned, err := openFleetStore(cfg, opts)
	if err != nil {
		return nil, err
	}
	if owned {
		h.store = store
	}
	if store != nil {
		store, h.health = watchStore(store, logger)
	}
	h.reload = reloader{opts: opts, base: base, store: store}
	g := &generation{n: 1, cfg: cfg, providers: map[string]*provider{}}
	for _, pc := range cfg.Providers {
		p, err := h.buildProvider(pc, g.n)
		if err != nil {
			return nil, err
		}
		g.providers[pc.Name] = p
	}
	h.cooldowns = newCooldowns(store, logger)
	g.groups = h.buildGroups(cfg, nil, g.n)
	h.gen.Store(g)
	return h, nil
}

func newProvider(pc *config.Provider, opts Options, base http.RoundTripper, log *slog.Logger) *provider {
	p := &provider{name: pc.Name, cfg: pc, log: log, base: base}
	p.proc = &pluginProc{provider: pc.Name, cfg: pc, launch: pluginCommand(pc, opts), local: opts.InProcess[pc.Name], logger: log, onStart: func(info sdk.Info) error {
		s, err := resolveSettings(pc, info)
		if err != nil {
			return err
		}
		p.settings.Store(s)
		return nil
	}}
	stateLog := func(what string) func(gobreaker.State) {
		return func(to gobreaker.State) {
			log.Warn("circuit breaker changed state", "breaker", what, "state", to.String())
		}
	}
	p.breaker = newUpstreamBreaker(pc.Name, pc.Breaker, stateLog("upstream"))
	p.tokens = newTokenBreaker(pc.Name, pc.Breaker, stateLog("token"))
	p.cache = &tokenCache{
		refreshBefore: pc.RefreshBefore, timeout: pc.FetchTimeout, minRefresh: pc.MinRefreshInterval, log: log, stats: &p.stats, now: time.Now,
		settings: func() *settings { return p.settings.Load() },
		fetch:    p.fetch, ready: p.ready, name: pc.Name, tracer: newTracer(opts.TracerProvider),
	}
	return p
}

// start makes sure the plugin runs and the provider's settings are resolved.
func (p *provider) start(ctx context.Context) (*settings, error) {
	if _, err := p.proc.source(ctx); err != nil {
		p.noteErr(err)
		return nil, err
	}
	s := p.settings.Load()
	if s == nil {
		return nil, providerErrorf(p.name, "plugin started without settings")
	}
	return s, nil
}

// ready (re)starts the plugin before a fetch, so that a start (after a crash, or a plugin declared dead)
// has startTimeout of its own and the fetch still gets its whole fetch_timeout.
func (p *provider) ready(ctx context.Context) error {
	sctx, cancel := context.WithTimeout(fetchContext(ctx), startTimeout)
	defer cancel()
	if _, err := p.proc.source(sctx); err != nil {
		err = p.describe(err)
		p.noteErr(err)
		return err
	}
	return nil
}

// fetch gets a token from the plugin under the token breaker: Token when nothing is cached, Refresh when
// stale must be replaced (and when Token hands back an already expired token).
func (p *provider) fetch(ctx context.Context, stale *sdk.Token) (tok sdk.Token, err error) {
	if err := p.unusable.held(p.cache.now()); err != nil {
		return sdk.Token{}, err
	}
	start := time.Now()
	defer func() {
		if err != nil {
			p.stats.fetchFailed.observe(time.Since(start))
		} else {
			p.stats.fetchOK.observe(time.Since(start))
		}
	}()
	unusable := false
	tok, err = p.tokens.do(func() (sdk.Token, error) {
		var tok sdk.Token
		stateDown := p.stateDown()
		ctx, span := startRPC(ctx, p.cache.tracer, p.name, rpcMethod(stale))
		err := p.proc.call(ctx, func(src sdk.Source) error {
			var err error
			if stale == nil {
				tok, err = src.Token(ctx)
				if err == nil && !tok.Expiry.IsZero() && !p.cache.now().Before(tok.Expiry) {
					tok, err = src.Refresh(ctx, tok)
				}
			} else {
				tok, err = refreshStale(ctx, src, *stale)
			}
			return redactPluginError(err)
		})
		endSpan(span, err)
		err = p.stateError(stateDown, err)
		if err == nil && tok.Value == "" {
			err = providerErrorf(p.name, "%w", sdk.Unavailable("plugin %s returned an empty token", p.cfg.Plugin))
		} else if err == nil {
			err = p.checkToken(tok, p.cache.now())
			unusable = err != nil
		}
		// ctx is the fetch's own fetch_timeout context. gRPC hands its deadline to the plugin, whose side
		// may give up a moment before ours does, so a deadline error counts even while ctx looks alive.
		if errors.Is(err, context.DeadlineExceeded) {
			err = &FetchTimeoutError{Provider: p.name, Plugin: p.cfg.Plugin, Timeout: p.cfg.FetchTimeout, Replaced: errors.Is(err, errDeclaredDead)}
		}
		return tok, err
	})
	if err != nil {
		err = p.describe(err)
		p.noteErr(err)
		if until := p.cache.now().Add(p.cfg.MinRefreshInterval); unusable && p.cfg.MinRefreshInterval > 0 {
			// err already names the provider (describe).
			p.unusable.hold(&ProviderError{Provider: p.name, Err: fmt.Errorf("%w; not asking the plugin again before %s (min_refresh_interval)", err, until.Format(time.TimeOnly))}, until)
		}
		return sdk.Token{}, err
	}
	p.unusable.open()
	if p.settings.Load() == nil {
		return sdk.Token{}, providerErrorf(p.name, "plugin started without settings")
	}
	p.lastErr.Store(nil)
	return tok, nil
}

// describe makes sure an error names the provider: errors this package worded for the provider pass as
// they are; a plugin's error gets the provider's name (and a BadConfig key its config path); anything
// else is wrapped.
func (p *provider) describe(err error) error {
	var named providerName
	if errors.As(err, &named) && named.providerName() == p.name {
		return err
	}
	var e *sdk.Error
	if errors.As(err, &e) {
		key := e.Key
		if e.Kind == sdk.KindBadConfig && key != "" && !strings.HasPrefix(key, "providers.") {
			key = p.cfg.OptionPath(key)
		}
		// A plugin cannot know the provider's name; "<provider>" in its message stands for it.
		msg := sdk.RedactTokens(strings.ReplaceAll(e.Message, "<provider>", p.name))
		return &ProviderError{Provider: p.name, Err: &sdk.Error{Kind: e.Kind, Key: key, Message: fmt.Sprintf("provider %s: %s", p.name, msg)}}
	}
	return providerErrorf(p.name, "%w", redactPluginError(err))
}

func (p *provider) noteErr(err error) {
	s := err.Error()
	p.lastErr.Store(&s)
	p.errs.note(time.Now(), s)
	p.badConf.Store(sdk.IsKind(err, sdk.KindBadConfig))
}

func (h *Host) provider(name string) (*provider, error) {
	g := h.gen.Load()
	p, ok := g.providers[name]
	if !ok {
		known := g.cfg.Names()
		for _, gc := range g.cfg.Groups {
			known = append(known, gc.Name)
		}
		if len(known) == 0 {
			return nil, fmt.Errorf("unknown provider %q: no providers are configured (%s); add one under providers: in tokenhost.yaml", name, g.cfg.Source)
		}
		msg := fmt.Sprintf("unknown provider %q (configured: %s)", name, strings.Join(known, ", "))
		if s := suggest.Closest(name, known); s != "" {
			msg = fmt.Sprintf("unknown provider %q (did you mean %q? configured: %s)", name, s, strings.Join(known, ", "))
		}
		return nil, errors.New(msg)
	}
	return p, nil
}

func (p *provider) transport() *transport {
	p.transportOnce.Do(func() { p.tr = p.newTransport(p.base) })
	return p.tr
}

// newTransport builds a wrapper over base from the provider's pieces.
func (p *provider) newTransport(base http.RoundTripper) *transport {
	return &transport{provider: p.name, base: base, settings: &p.settings, start: p.start, cache: p.cache, breaker: p.breaker,
		retry: statusSet(slices.Clone(p.cfg.RetryStatuses)), maxReplay: p.cfg.MaxReplayBytes, stats: &p.stats, log: p.log}
}

// Start starts every provider's plugin (as `check` and `serve --eager` do) and returns the first error of
// each provider, by name.
func (h *Host) Start(ctx context.Context) map[string]error {
	errs := map[string]error{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, p := range h.gen.Load().providers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := p.start(ctx); err != nil {
				mu.Lock()
				errs[name] = err
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errs
}

// Config returns the configuration the host runs with (the latest one Reload applied).
func (h *Host) Config() *config.Config { return h.gen.Load().cfg }

// Close ends every plugin process; the host cannot be used afterwards.
func (h *Host) Close() error {
	h.closeOnce.Do(func() {
		var wg sync.WaitGroup
		for _, p := range h.closing() {
			wg.Add(1)
			go func() { defer wg.Done(); p.proc.close() }()
		}
		wg.Wait()
		if h.cooldowns != nil {
			_ = h.cooldowns.Close()
		}
		if h.health != nil {
			h.health.close()
		}
		if h.store != nil {
			_ = h.store.Close()
		}
	})
	return nil
}
