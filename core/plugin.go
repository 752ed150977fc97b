package core

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/internal/excerpt"
	"github.com/tokenhost/tokenhost/internal/pluginrpc"
	"github.com/tokenhost/tokenhost/sdk"
)

// Restart policy for crashed plugins: the n-th consecutive crash waits crashBackoff*2^(n-1) (capped)
// before the next start; a wait longer than maxInlineWait fails the call instead of blocking it.
const (
	crashBackoff    = 200 * time.Millisecond
	maxCrashBackoff = 30 * time.Second
	maxInlineWait   = time.Second
	startTimeout    = 30 * time.Second
	// stopGrace bounds go-plugin's graceful stop (it waits 2s itself) before the group is killed.
	stopGrace = 3 * time.Second
)

// pluginProc supervises one provider's plugin process: lazy start, Configure, restart after a crash.
type pluginProc struct {
	provider string
	cfg      *config.Provider
	launch   func() (*launch, error)
	logger   *slog.Logger
	onStart  func(sdk.Info) error // resolves the provider's settings from Info; an error aborts the start
	local    sdk.Source           // Options.InProcess: run this source in process, no plugin process
	storage  sdk.Storage          // offered to the plugin at Configure (shared providers of a fleet); nil: none

	mu        sync.Mutex
	client    *plugin.Client
	pgid      int // the plugin's process group
	src       sdk.Source
	info      sdk.Info
	crashes   int
	lastStart time.Time
	lastExit  string
	closed    bool
	starts    int
	calls     int           // calls in flight (enter/leave)
	drained   chan struct{} // closed when calls drops to 0 while close waits
}

// source returns a configured Source, starting (or restarting) the plugin process if needed.
func (p *pluginProc) source(ctx context.Context) (sdk.Source, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, providerErrorf(p.provider, "host is closed")
	}
	if p.client != nil && !p.client.Exited() {
		return p.src, nil
	}
	if p.local != nil {
		if p.src == nil {
			info, err := configureWith(ctx, p.local, p.cfg.Options, p.storage)
			if err != nil {
				return nil, p.configureError(err)
			}
			if err := p.onStart(info); err != nil {
				return nil, err
			}
			p.src, p.info = p.local, info
			p.starts++
		}
		return p.src, nil
	}
	if p.client != nil { // it was running and is gone
		p.noteCrashLocked("exited")
	}
	if p.crashes > 0 {
		wait := crashBackoff << min(p.crashes-1, 10)
		wait = min(wait, maxCrashBackoff)
		remaining := time.Until(p.lastStart.Add(wait))
		if remaining > maxInlineWait {
			return nil, &PluginCrashError{Provider: p.provider, Message: fmt.Sprintf("provider %s: plugin %s crashed %d times in a row (last: %s); next restart in %s — see the plugin's log lines above",
				p.provider, p.cfg.Plugin, p.crashes, p.lastExit, remaining.Round(time.Second))}
		}
		if remaining > 0 {
			t := time.NewTimer(remaining)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			case <-t.C:
			}
		}
	}
	if err := p.startLocked(ctx); err != nil {
		if p.crashes > 0 {
			p.crashes++
			return nil, &PluginCrashError{Provider: p.provider, Message: fmt.Sprintf("provider %s: plugin %s crashed and could not be restarted: %v", p.provider, p.cfg.Plugin, err), Err: err}
		}
		return nil, err
	}
	return p.src, nil
}

func (p *pluginProc) noteCrashLocked(how string) {
	p.crashes++
	p.lastExit = how
	if p.client != nil {
		stopPlugin(p.client, p.pgid)
		p.client, p.src = nil, nil
	}
	p.logger.Warn("plugin process ended unexpectedly; it will be restarted on next use", "crashes", p.crashes, "how", how)
}

func (p *pluginProc) startLocked(ctx context.Context) error {
	l, err := p.launch()
	if err != nil {
		return err
	}
	if l.cleanup != nil {
		defer l.cleanup() // the process runs from its own inode once started; the copy is not needed after
	}
	cmd := l.cmd
	ownProcessGroup(cmd)
	var sec *plugin.SecureConfig
	if l.checksum != nil {
		sec = &plugin.SecureConfig{Checksum: l.checksum, Hash: sha256.New()}
	}
	tlsConf, release, err := pluginrpc.HostTLS(cmd) // P-256 both ends: AutoMTLS's P-521 keys were half a start's CPU
	if err != nil {
		return providerErrorf(p.provider, "plugin %s: %w", p.cfg.Plugin, err)
	}
	defer release() // the process has its copy of the key's pipe once started
	p.lastStart = time.Now()
	p.starts++
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  pluginrpc.Handshake,
		VersionedPlugins: pluginrpc.HostPlugins(),
		Cmd:              cmd,
		SkipHostEnv:      true, // cmd.Env is the whole environment the plugin gets (pluginEnv)
		SecureConfig:     sec,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		TLSConfig:        tlsConf,
		AutoMTLS:         tlsConf == nil, // where HostTLS makes none (Windows)
		Logger:           newHCLog(p.logger),
		Stderr:           io.Discard,
		SyncStdout:       strayStdout{p.logger},
		StartTimeout:     startTimeout,
	})
	fail := func(err error) error {
		if cmd.Process != nil {
			killProcessGroup(cmd.Process.Pid) // it never became a plugin: no graceful stop to wait for
		}
		client.Kill()
		return err
	}
	rpc, err := client.Client()
	if err != nil {
		return fail(p.startError(err))
	}
	raw, err := rpc.Dispense(pluginrpc.PluginName)
	if err != nil {
		return fail(providerErrorf(p.provider, "plugin %s started but does not serve a token source: %w", p.cfg.Plugin, err))
	}
	src, ok := raw.(sdk.Source)
	if !ok {
		return fail(providerErrorf(p.provider, "plugin %s returned %T, not a token source", p.cfg.Plugin, raw))
	}
	cctx, cancel := context.WithTimeout(ctx, p.cfg.FetchTimeout)
	defer cancel()
	info, err := configureWith(cctx, src, p.cfg.Options, p.storage)
	if err != nil {
		return fail(p.configureError(err))
	}
	if err := p.onStart(info); err != nil {
		return fail(err)
	}
	p.client, p.src, p.info, p.pgid = client, src, info, cmd.Process.Pid
	return nil
}

// stopPlugin ends a plugin process: go-plugin's graceful stop, bounded by stopGrace, then a kill of its
// whole process group so nothing it started outlives it.
func stopPlugin(client *plugin.Client, pgid int) {
	done := make(chan struct{})
	go func() {
		client.Kill()
		close(done)
	}()
	t := time.NewTimer(stopGrace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		killProcessGroup(pgid)
		<-done
	}
	killProcessGroup(pgid)
}

// Compiled on first use rather than at package init, which every plugin process runs (docs/benchmarks.md).
var versionMismatch = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`Plugin version: (\d+), Client versions: \[([\d ]+)\]`)
})

// startError explains why a plugin process did not get as far as serving. go-plugin reports a version
// mismatch, stray stdout and an early exit only as text, so those three are recognised by their wording;
// its checksum error has a type.
func (p *pluginProc) startError(err error) error {
	msg := err.Error()
	if m := versionMismatch().FindStringSubmatch(msg); m != nil {
		return providerErrorf(p.provider, "plugin %s speaks tokenhost plugin protocol %s, this host speaks %s; install a plugin built with a matching tokenhost sdk", p.cfg.Plugin, m[1], m[2])
	}
	if errors.Is(err, plugin.ErrChecksumsDoNotMatch) {
		return providerErrorf(p.provider, "plugin %s changed on disk after its sha256 was checked; refusing to run it", p.cfg.Plugin)
	}
	if strings.Contains(msg, "Unrecognized remote plugin message") {
		return providerErrorf(p.provider, "%s is not a tokenhost plugin (it wrote to stdout before the plugin handshake: %s); check providers.%s.plugin", p.cfg.Plugin, excerpt.Clip(excerpt.FirstLine(strings.TrimPrefix(msg, "Unrecognized remote plugin message: ")), 120), p.provider)
	}
	if strings.Contains(msg, "plugin exited before we could connect") {
		return providerErrorf(p.provider, "plugin %s exited before its handshake; is it a tokenhost plugin? (see its log lines above)", p.cfg.Plugin)
	}
	return providerErrorf(p.provider, "starting plugin %s: %w", p.cfg.Plugin, err)
}

// configureError prefixes a plugin's BadConfig key with the provider's config path.
func (p *pluginProc) configureError(err error) error {
	var e *sdk.Error
	if errors.As(err, &e) && e.Kind == sdk.KindBadConfig {
		key := "providers." + p.provider + ".options"
		if e.Key != "" {
			key += "." + e.Key
		}
		return &ProviderError{Provider: p.provider, Err: &sdk.Error{Kind: sdk.KindBadConfig, Key: key, Message: sdk.RedactTokens(e.Message)}}
	}
	return providerErrorf(p.provider, "configuring plugin %s: %w", p.cfg.Plugin, redactPluginError(err))
}

// call runs fn against the plugin. A failure of the connection (the process died) is counted as a crash
// and fn is tried once more on a fresh process; a successful call resets the crash count.
func (p *pluginProc) call(ctx context.Context, fn func(sdk.Source) error) error {
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			noteRestart(ctx, attempt)
		}
		src, err := p.source(ctx)
		if err != nil {
			return err
		}
		if !p.enter() {
			return providerErrorf(p.provider, "host is closed")
		}
		err = fn(src)
		p.leave()
		if hung(ctx, err) {
			return p.declareDead(src, err)
		}
		var te *pluginrpc.TransportError
		if !errors.As(err, &te) {
			if err == nil || sdk.KindOf(err) != sdk.KindInternal {
				p.mu.Lock()
				p.crashes = 0
				p.mu.Unlock()
			}
			return err
		}
		p.mu.Lock()
		if p.src == src {
			p.noteCrashLocked("connection lost")
		}
		p.mu.Unlock()
		if attempt > 0 || ctx.Err() != nil {
			return &PluginCrashError{Provider: p.provider, Message: fmt.Sprintf("provider %s: plugin %s crashed during the call and again after a restart; see its log lines above", p.provider, p.cfg.Plugin)}
		}
	}
}

// started reports whether a plugin process is running, with its Info.
func (p *pluginProc) started() (sdk.Info, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.info, (p.client != nil && !p.client.Exited()) || (p.local != nil && p.src != nil)
}

// pid returns the running plugin's process id, or 0.
func (p *pluginProc) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.client == nil {
		return 0
	}
	if rc := p.client.ReattachConfig(); rc != nil {
		return rc.Pid
	}
	return 0
}

// close prevents new calls and starts, waits (bounded, see drainLocked) for the calls in flight, and ends
// the plugin process.
func (p *pluginProc) close() {
	p.mu.Lock()
	drained, bound := p.drainLocked()
	p.mu.Unlock()
	if drained != nil {
		t := time.NewTimer(bound)
		select {
		case <-drained:
		case <-t.C:
			p.logger.Warn("a token call was still running when the host closed; stopping the plugin anyway", "waited", bound)
		}
		t.Stop()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.client != nil {
		stopPlugin(p.client, p.pgid)
		p.client, p.src = nil, nil
	}
}

// startCount returns how many times the plugin process was started.
func (p *pluginProc) startCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.starts
}
