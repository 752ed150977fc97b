package core

import (
	"context"
	"errors"

	"github.com/tokenhost/tokenhost/sdk"
)

// declareDead handles a call to src that got no answer within its fetch timeout: the plugin is hung (or
// stopped), so its process group is killed and the next call starts a new process. It returns the error
// for the caller, which still matches context.DeadlineExceeded.
func (p *pluginProc) declareDead(src sdk.Source, err error) error {
	if p.local != nil { // an in-process source has no process to replace
		return providerErrorf(p.provider, "the in-process source did not answer within the fetch timeout (providers.%s.fetch_timeout): %w", p.provider, err)
	}
	p.mu.Lock()
	if p.src == src && p.client != nil {
		killProcessGroup(p.pgid) // a stopped process cannot take part in a graceful stop
		p.noteCrashLocked("no answer within the fetch timeout")
	}
	p.mu.Unlock()
	return providerErrorf(p.provider, "plugin %s did not answer within the fetch timeout (providers.%s.fetch_timeout); %w: %w", p.cfg.Plugin, p.provider, errDeclaredDead, err)
}

// hung reports whether a call's error means the plugin gave no answer before ctx's deadline.
func hung(ctx context.Context, err error) bool {
	return errors.Is(err, context.DeadlineExceeded) && errors.Is(ctx.Err(), context.DeadlineExceeded)
}
