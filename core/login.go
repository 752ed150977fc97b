package core

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tokenhost/tokenhost/sdk"
)

// Login runs the provider's interactive sign-in in its plugin, relaying each prompt the plugin streams (a
// message, a URL to open, a user code) to ui, and returns how it ended. A plugin without interactive
// sign-in yields an error that says so and where the provider's documentation is.
func (p *Provider) Login(ctx context.Context, ui sdk.UI) (sdk.LoginResult, error) {
	if err := p.noSignIn("login"); err != nil {
		return sdk.LoginResult{}, err
	}
	q, err := p.hold()
	if err != nil {
		return sdk.LoginResult{}, err
	}
	defer q.uses.release()
	if _, err := q.start(ctx); err != nil {
		return sdk.LoginResult{}, err
	}
	var res sdk.LoginResult
	err = q.proc.call(ctx, func(src sdk.Source) error {
		var err error
		res, err = sdk.Login(ctx, src, ui)
		return err
	})
	if err != nil {
		return sdk.LoginResult{}, q.interactiveError(err)
	}
	q.lastErr.Store(nil)
	return res, nil
}

// Logout asks the provider's plugin to revoke and forget its stored sign-in and returns what it did.
func (p *Provider) Logout(ctx context.Context) (string, error) {
	if err := p.noSignIn("logout"); err != nil {
		return "", err
	}
	q, err := p.hold()
	if err != nil {
		return "", err
	}
	defer q.uses.release()
	if _, err := q.start(ctx); err != nil {
		return "", err
	}
	var msg string
	err = q.proc.call(ctx, func(src sdk.Source) error {
		var err error
		msg, err = sdk.Logout(ctx, src)
		return err
	})
	if err != nil {
		return "", q.interactiveError(err)
	}
	return msg + q.forgetFleetToken(ctx), nil
}

// forgetFleetToken removes the fleet's shared access token of a provider shared through a store, after a
// logout: no host then picks a token of the signed-out sign-in from the store (hosts that hold one in
// memory use it until it expires). It returns what to add to the logout's message.
func (p *provider) forgetFleetToken(ctx context.Context) string {
	ps, ok := p.proc.storage.(*pluginStorage)
	if !ok {
		return ""
	}
	if err := ps.store.Delete(ctx, fleetTokenKey(p.name)); err != nil {
		return fmt.Sprintf(" The fleet's shared access token could not be removed (%v); hosts use it until it expires.", err)
	}
	return " Removed the fleet's shared access token."
}

// interactiveError words a failed Login or Logout for the provider.
func (p *provider) interactiveError(err error) error {
	if errors.Is(err, sdk.ErrNotInteractive) {
		where := pluginDocs(p.cfg.Plugin)
		if isBuiltin(p.cfg.Plugin) {
			where = "see " + where
		}
		return &ProviderError{Provider: p.name, Err: fmt.Errorf("provider %s has no interactive sign-in; %s", p.name, where)}
	}
	return p.describe(err)
}

// noSignIn is the error of a sign-in or sign-out (verb) through a group's handle: a group has no sign-in
// of its own, each member has its own; nil for a provider.
func (p *Provider) noSignIn(verb string) error {
	_, g := p.h.lookup(p.name)
	if g == nil {
		return nil
	}
	names := make([]string, len(g.members))
	for i := range g.members {
		names[i] = g.members[i].name
	}
	next := "name one of its members instead"
	if len(names) > 0 {
		next = fmt.Sprintf("run tokenhost %s %s, and so on for each member that has a sign-in", verb, names[0])
	}
	return &ProviderError{Provider: p.name, Err: fmt.Errorf(
		"group %s has no sign-in of its own (members: %s): %s", p.name, strings.Join(names, ", "), next)}
}
