package codex

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/tokenhost/tokenhost/internal/fsmsg"
	"github.com/tokenhost/tokenhost/plugins/internal/credfile"
	"github.com/tokenhost/tokenhost/plugins/internal/flight"
	"github.com/tokenhost/tokenhost/sdk"
)

// How tokenhost shares auth.json with the Codex CLI (traced with Codex CLI 0.169.0): the CLI redeems its
// refresh token holding no lock, then takes flock on auth.lock in its home directory, then tries
// flock(auth.json.lock, LOCK_EX|LOCK_NB) every ~10 ms for ~5 s, and writes a temporary file that it renames
// over auth.json. If auth.json.lock stays busy it throws away the tokens it just received, whose refresh
// token is already spent: the sign-in is lost. So this plugin
//
//  1. coordinates tokenhost processes across the network call with a lock of its own
//     (auth.json.tokenhost.lock), which the CLI never touches;
//  2. takes the CLI's two locks, in the CLI's order, only to re-read auth.json and write it: one read and
//     one write, never a network call;
//  3. after refresh_token_reused or invalid_grant, re-reads auth.json with backoff for reuse_wait, holding
//     none of the CLI's locks, since the CLI may be between its redeem and its write.

// ownLockSuffix names tokenhost's own lock beside the (symlink-resolved) auth file.
const ownLockSuffix = ".tokenhost.lock"

// codexDirLock is the lock the Codex CLI takes in its home directory before auth.json.lock.
const codexDirLock = "auth.lock"

// rereadFirst and rereadMax are the first and the longest pause between re-reads after
// refresh_token_reused.
const rereadFirst, rereadMax = 50 * time.Millisecond, time.Second

// Points of a refresh where a test's probe runs.
const (
	pointJoined     = "joined"      // a caller joined the refresh of its stale token and is about to wait (via flight.Observed)
	pointBeforeLock = "before-lock" // before taking tokenhost's own lock
	pointLocked     = "locked"      // tokenhost's own lock is held
	pointRereadMiss = "reread-miss" // a re-read after refresh_token_reused found auth.json unchanged
)

// refresh runs one refresh for every concurrent caller in this process replacing stale. A caller whose ctx
// ends stops waiting at once; the refresh itself runs on, bounded by lock_timeout, timeout and reuse_wait,
// so a token redeemed at the endpoint is always written back.
func (s *source) refresh(ctx context.Context, cfg *config, stale string) (sdk.Token, error) {
	return s.sf.Do(ctx, flight.RefreshKey(stale), func() (sdk.Token, error) {
		if fl := s.fleetMode(); fl != nil {
			return s.fleetRefresh(context.WithoutCancel(ctx), cfg, fl, stale)
		}
		return s.lockedRefresh(context.WithoutCancel(ctx), cfg, stale)
	})
}

// lockedRefresh takes tokenhost's own lock, re-reads auth.json, and redeems its refresh token unless the
// file already holds a usable token other than stale.
func (s *source) lockedRefresh(ctx context.Context, cfg *config, stale string) (sdk.Token, error) {
	unlock, err := s.holdOwn(ctx, cfg)
	if err != nil {
		return sdk.Token{}, err
	}
	defer unlock()

	path := cfg.authFile
	a, err := s.current(ctx, cfg)
	if err != nil {
		return sdk.Token{}, err
	}
	if a.apiKeyMode {
		return apiKeyRefresh(cfg, a, stale)
	}
	if cfg.replaces(a, stale, time.Now()) {
		slog.Debug("codex: auth.json was refreshed by another process", "file", path, "token", sdk.Fingerprint(a.accessToken))
		return tokenOf(a), nil
	}
	for attempt := 0; ; attempt++ {
		if a.refreshToken == "" {
			return sdk.Token{}, sdk.ReauthRequired("%s has no tokens.refresh_token, so its access token cannot be refreshed; sign in again with `codex login`", path)
		}
		u, code, err := cfg.requestRefresh(ctx, path, a.refreshToken)
		if err == nil {
			return s.store(ctx, cfg, a, u, stale)
		}
		if attempt == 0 && (code == codeReused || code == codeInvalidGrant) {
			// Another program (a Codex CLI) redeemed it first and writes its answer once its request returns.
			if b := s.awaitRotation(ctx, cfg, a); b != nil {
				if b.accessToken != a.accessToken && cfg.replaces(b, stale, time.Now()) {
					slog.Debug("codex: the refresh token was spent by another program, which stored new tokens", "file", path)
					return tokenOf(b), nil
				}
				if b.refreshToken != "" && b.refreshToken != a.refreshToken {
					a = b
					continue
				}
			}
		}
		slog.Debug("codex: refresh failed", "file", path, "endpoint", cfg.endpoint, "kind", sdk.KindOf(err), "code", code)
		return sdk.Token{}, err
	}
}

// awaitRotation re-reads auth.json, pausing longer each time (rereadFirst doubling up to rereadMax), until
// its tokens differ from a's or reuse_wait has passed; it holds no lock, so the program that redeemed the
// refresh token first can write its answer. It returns nil when the tokens never changed.
func (s *source) awaitRotation(ctx context.Context, cfg *config, a *authFile) *authFile {
	deadline := time.Now().Add(cfg.reuseWait)
	pause := rereadFirst
	for {
		if b, err := readAuth(ctx, cfg.authFile); err == nil && !b.apiKeyMode && (b.accessToken != a.accessToken || b.refreshToken != a.refreshToken) {
			return b
		}
		s.reach(pointRereadMiss)
		wait := min(pause, time.Until(deadline))
		if wait <= 0 {
			return nil
		}
		pause = min(2*pause, rereadMax)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// store writes what the token endpoint returned into auth.json (see flush) and returns the new access
// token. Whatever happens to the write, the tokens are kept: unsaved until it succeeds, and dropped only
// for newer tokens another program wrote.
func (s *source) store(ctx context.Context, cfg *config, a *authFile, u tokenUpdate, stale string) (sdk.Token, error) {
	if u.accessToken == "" && u.refreshToken == "" && u.idToken == "" {
		return sdk.Token{}, sdk.Unavailable("token endpoint %s answered without any token; try again later", cfg.endpoint)
	}
	now := time.Now()
	data, err := a.apply(u, now)
	if err != nil {
		return sdk.Token{}, sdk.Internal("cannot encode the refreshed %s", cfg.authFile)
	}
	n, err := parseAuth(data)
	if err != nil {
		return sdk.Token{}, fileError(cfg.authFile, err)
	}
	s.pending.Keep(unsaved{at: now, auth: n}, a.refreshToken)
	s.flush(ctx, cfg, "refreshed")
	if u.accessToken == "" {
		return sdk.Token{}, sdk.Unavailable("token endpoint %s answered without an access_token; try again later", cfg.endpoint)
	}
	if n.accessToken == stale {
		return sdk.Token{}, sdk.Unavailable("token endpoint %s returned the access token that was to be replaced; try again later", cfg.endpoint)
	}
	return tokenOf(n), nil
}

// current returns auth.json as it stands for this process (in fleet mode, the fleet's sign-in: see
// fleet.current): the file, unless refreshed tokens are still
// unsaved, in which case it first tries to write them, and serves them from memory while it cannot.
// Reading takes no lock: the Codex CLI and tokenhost replace the file by rename, and a half-written file of
// an older writer is read again.
func (s *source) current(ctx context.Context, cfg *config) (*authFile, error) {
	if fl := s.fleetMode(); fl != nil {
		return fl.current(ctx, s, cfg, true)
	}
	if _, held := s.pending.Value(); held {
		s.flush(ctx, cfg, "unsaved")
		if p, held := s.pending.Value(); held {
			return p.auth, nil
		}
	}
	return readAuth(ctx, cfg.authFile)
}

// flush writes unsaved tokens into auth.json under the Codex CLI's locks: it re-reads the file, keeps
// every field, sets the token fields and last_refresh, and replaces the file atomically. When the file no
// longer holds the refresh token the unsaved tokens replaced, another program stored newer ones (a
// refresh, a new `codex login`) and the file wins. what ("refreshed" or "unsaved") words the log line.
func (s *source) flush(ctx context.Context, cfg *config, what string) {
	if _, held := s.pending.Value(); !held {
		return
	}
	path := cfg.authFile
	var res credfile.FlushResult
	unlock, err := lockCodex(ctx, cfg)
	if err == nil {
		res, err = s.pending.Flush(ctx, path, authMark, encodeUnsaved, s.probe.beforeRename)
		unlock()
	}
	switch {
	case err != nil && what == "refreshed":
		slog.Warn("codex: the refreshed tokens could not be written to auth.json; serving them from memory and writing them again on every call. The old refresh token is spent: if tokenhost stops before a write succeeds, sign in again with `codex login`. Make the file and its directory writable.",
			"file", path, "error", fsmsg.Reason(err))
	case err != nil:
		slog.Warn("codex: the refreshed tokens still cannot be written to auth.json; serving them from memory", "file", path, "error", fsmsg.Reason(err))
	case res == credfile.Superseded:
		slog.Info("codex: auth.json was rewritten by another program; keeping the file's tokens and dropping the unsaved ones", "file", path)
	case res == credfile.Written && what == "unsaved":
		slog.Info("codex: the refreshed tokens were written to auth.json", "file", path)
	case res == credfile.Written:
		slog.Debug("codex: tokens refreshed", "file", path, "endpoint", cfg.endpoint)
	}
}

// authMark identifies the sign-in in auth.json's contents by its refresh token; an API-key file gets a
// mark no refresh token has.
func authMark(data []byte) (string, error) {
	a, err := parseAuth(data)
	switch {
	case err != nil:
		return "", err
	case a.apiKeyMode:
		return "\x00apikey", nil
	}
	return a.refreshToken, nil
}

// encodeUnsaved returns auth.json as it should be: current (nil when unreadable: the unsaved file alone)
// with the unsaved tokens and their last_refresh set and every other field kept.
func encodeUnsaved(current []byte, p unsaved) ([]byte, error) {
	base := p.auth
	if current != nil {
		if b, err := parseAuth(current); err == nil {
			base = b
		}
	}
	return base.apply(tokenUpdate{idToken: p.auth.idToken, accessToken: p.auth.accessToken, refreshToken: p.auth.refreshToken}, p.at)
}

// holdOwn takes tokenhost's own lock (lockOwn) for a refresh, running the test probes around it.
func (s *source) holdOwn(ctx context.Context, cfg *config) (func(), error) {
	s.reach(pointBeforeLock)
	unlock, err := lockOwn(ctx, cfg)
	if err == nil {
		s.reach(pointLocked)
	}
	return unlock, err
}

// lockOwn takes tokenhost's own lock on the auth file, which it holds across a refresh's network call so
// that tokenhost processes redeem each refresh token once; the Codex CLI never waits on it.
func lockOwn(ctx context.Context, cfg *config) (func(), error) {
	return lockFiles(ctx, cfg, credfile.Resolve(cfg.authFile)+ownLockSuffix)
}

// lockCodex takes the Codex CLI's locks in its order, auth.lock in the auth file's directory and then
// auth.json.lock beside it, each within lock_timeout. Callers hold them for one read and one write.
func lockCodex(ctx context.Context, cfg *config) (func(), error) {
	return lockFiles(ctx, cfg, filepath.Join(filepath.Dir(cfg.authFile), codexDirLock), cfg.authFile+".lock")
}

// lockFiles takes the locks at paths in order, each within lock_timeout, with errors that name the lock file
// and the next step.
func lockFiles(ctx context.Context, cfg *config, paths ...string) (func(), error) {
	unlock, err := credfile.LockInOrder(ctx, cfg.lockTimeout, paths...)
	var le *credfile.LockError
	switch {
	case err == nil:
		return unlock, nil
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return nil, err
	case !errors.As(err, &le):
		return nil, sdk.Internal("cannot lock beside %s (%s)", cfg.authFile, fsmsg.Reason(err))
	case errors.Is(err, credfile.ErrLockTimeout):
		return nil, sdk.Unavailable("could not lock %s within %s: another process is refreshing or writing the same auth.json; try again, or raise lock_timeout", le.Path, cfg.lockTimeout)
	case errors.Is(err, fs.ErrNotExist):
		return nil, fileError(cfg.authFile, fs.ErrNotExist)
	}
	return nil, sdk.Internal("cannot lock %s (%s); the directory must be writable", le.Path, fsmsg.Reason(le.Err))
}
