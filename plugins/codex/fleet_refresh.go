package codex

import (
	"context"
	"log/slog"
	"time"

	"github.com/tokenhost/tokenhost/internal/fsmsg"
	"github.com/tokenhost/tokenhost/plugins/internal/credfile"
	"github.com/tokenhost/tokenhost/sdk"
)

// fleetRefresh is lockedRefresh in fleet mode: it reads storage's sign-in and, unless storage already holds
// a usable token other than stale, redeems storage's refresh token and stores the rotated tokens before
// returning the new access token. The host holds the fleet's fetch lease around the call; on a machine with
// an auth.json, tokenhost's own lock beside it is held too, so that tokenhost processes outside the fleet
// that share the file redeem nothing meanwhile.
func (s *source) fleetRefresh(ctx context.Context, cfg *config, fl *fleet, stale string) (sdk.Token, error) {
	if hasLocal(cfg) {
		unlock, err := s.holdOwn(ctx, cfg)
		if err != nil {
			return sdk.Token{}, err
		}
		defer unlock()
	}
	st, err := fl.load(ctx, s, cfg)
	if err != nil {
		return sdk.Token{}, err
	}
	if cfg.replaces(st.a, stale, time.Now()) {
		slog.Debug("codex: the fleet's sign-in was refreshed by another host", "token", sdk.Fingerprint(st.a.accessToken))
		return tokenOf(st.a), nil
	}
	for attempt := 0; ; attempt++ {
		a := st.a
		if a.refreshToken == "" {
			return sdk.Token{}, sdk.ReauthRequired("the sign-in in %s has no refresh token, so its access token cannot be refreshed; run `codex login` on a host of the fleet", fleetWhere)
		}
		u, code, err := cfg.requestRefresh(ctx, fleetWhere, a.refreshToken)
		if err == nil {
			return s.commit(ctx, cfg, fl, a, u, stale)
		}
		if attempt == 0 && (code == codeReused || code == codeInvalidGrant) {
			// Another host, or a Codex CLI on a machine of the fleet, redeemed it first: its tokens reach
			// storage (or that machine's auth.json, which its host moves into storage) once its request returns.
			if b, ok := s.awaitFleetRotation(ctx, cfg, fl, a); ok {
				if b.a.accessToken != a.accessToken && cfg.replaces(b.a, stale, time.Now()) {
					slog.Debug("codex: the refresh token was spent by another host, which stored new tokens")
					return tokenOf(b.a), nil
				}
				if b.a.refreshToken != "" && b.a.refreshToken != a.refreshToken {
					st = b
					continue
				}
			}
		}
		slog.Debug("codex: refresh failed", "endpoint", cfg.endpoint, "kind", sdk.KindOf(err), "code", code)
		if e, ok := err.(*sdk.Error); ok && e.Kind == sdk.KindReauthRequired {
			e.Message += " on a host of the fleet that has an auth.json (its tokenhost moves the new sign-in into storage on its next call)"
		}
		return sdk.Token{}, err
	}
}

// commit stores what the token endpoint returned for a's refresh token and returns the new access token.
// The rotated tokens are kept in memory first, so that a store failing now loses nothing: they are served,
// and written into storage first on the next call. When another host wrote storage meanwhile, its sign-in
// is used if it is newer.
func (s *source) commit(ctx context.Context, cfg *config, fl *fleet, a *authFile, u tokenUpdate, stale string) (sdk.Token, error) {
	if u.accessToken == "" && u.refreshToken == "" && u.idToken == "" {
		return sdk.Token{}, sdk.Unavailable("token endpoint %s answered without any token; try again later", cfg.endpoint)
	}
	data, err := a.apply(u, time.Now())
	if err != nil {
		return sdk.Token{}, sdk.Internal("codex: cannot encode the refreshed sign-in")
	}
	n, err := parseAuth(data)
	if err != nil {
		return sdk.Token{}, sdk.Internal("codex: the token endpoint %s returned tokens that cannot be stored: %v", cfg.endpoint, err)
	}
	n.gen = a.gen + 1
	fl.keep(n, a.refreshToken)
	got, err := fl.load(ctx, s, cfg)
	switch {
	case err != nil:
		slog.Warn("codex: the rotated tokens could not be written to the fleet's storage; serving them from memory and writing them first on the next call. The old refresh token is spent: if this host stops before the store takes them, run `codex login` on a host of the fleet.",
			"error", err.Error())
		s.syncFile(ctx, cfg, n) // this machine's auth.json, if any, holds them meanwhile
	case got.a.accessToken != n.accessToken && cfg.replaces(got.a, stale, time.Now()):
		return tokenOf(got.a), nil
	}
	if u.accessToken == "" {
		return sdk.Token{}, sdk.Unavailable("token endpoint %s answered without an access_token; try again later", cfg.endpoint)
	}
	if n.accessToken == stale {
		return sdk.Token{}, sdk.Unavailable("token endpoint %s returned the access token that was to be replaced; try again later", cfg.endpoint)
	}
	return tokenOf(n), nil
}

// awaitFleetRotation re-reads storage (which also moves a newer auth.json of this machine into it) with
// growing pauses until its sign-in differs from a, or reuse_wait has passed; ok is false when it never
// changed or the store failed.
func (s *source) awaitFleetRotation(ctx context.Context, cfg *config, fl *fleet, a *authFile) (fleetState, bool) {
	deadline := time.Now().Add(cfg.reuseWait)
	pause := rereadFirst
	for {
		st, err := fl.load(ctx, s, cfg)
		if err == nil && (st.a.accessToken != a.accessToken || st.a.refreshToken != a.refreshToken) {
			return st, true
		}
		s.reach(pointRereadMiss)
		wait := min(pause, time.Until(deadline))
		if wait <= 0 {
			return fleetState{}, false
		}
		pause = min(2*pause, rereadMax)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fleetState{}, false
		case <-t.C:
		}
	}
}

// syncFile brings this machine's auth.json in step with the fleet's sign-in a, so a Codex CLI here goes on
// working: under the Codex CLI's locks (held for one read and one write) it re-reads the file and, unless
// the file is absent, holds an API key, is already in step or holds a newer sign-in (which the next call
// moves into storage), sets the tokens and last_refresh, keeping every other field, and replaces it
// atomically with mode 0600. A failure is logged: storage holds the sign-in, and the next call tries again.
func (s *source) syncFile(ctx context.Context, cfg *config, a *authFile) {
	if !hasLocal(cfg) {
		return
	}
	unlock, err := lockCodex(ctx, cfg)
	if err != nil {
		slog.Warn("codex: auth.json could not be brought in step with the fleet's sign-in; a Codex CLI on this machine may find its refresh token spent", "file", cfg.authFile, "error", err.Error())
		return
	}
	defer unlock()
	f, err := readLocal(ctx, cfg)
	if err != nil || !behind(f, a) {
		return
	}
	u := tokenUpdate{idToken: a.idToken, accessToken: a.accessToken, refreshToken: a.refreshToken, accountID: a.accountID}
	at := a.lastRefresh
	if at.IsZero() {
		at = time.Now()
	}
	data, err := f.apply(u, at)
	if err == nil {
		err = credfile.WriteAtomic(cfg.authFile, data, s.probe.beforeRename)
	}
	if err != nil {
		slog.Warn("codex: auth.json could not be brought in step with the fleet's sign-in; a Codex CLI on this machine may find its refresh token spent", "file", cfg.authFile, "error", fsmsg.Reason(err))
		return
	}
	slog.Debug("codex: auth.json brought in step with the fleet's sign-in", "file", cfg.authFile)
}
