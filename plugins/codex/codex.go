package codex

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/tokenhost/tokenhost/plugins/internal/credfile"
	"github.com/tokenhost/tokenhost/plugins/internal/flight"
	"github.com/tokenhost/tokenhost/sdk"
)

// Name is the plugin's name as the host config refers to it.
const Name = "codex"

// Version is the plugin's version.
var Version = "0.1.0"

// DefaultUpstream is the ChatGPT Codex backend the Codex CLI talks to when signed in with ChatGPT.
const DefaultUpstream = "https://chatgpt.com/backend-api/codex"

// APIKeyUpstream is the default upstream when auth.json holds an API key: the OpenAI API, where such a key
// is valid (the ChatGPT backend accepts only ChatGPT sign-in tokens).
const APIKeyUpstream = "https://api.openai.com/v1"

// HeaderAccountID is the header that carries the ChatGPT account id with every upstream request.
const HeaderAccountID = "ChatGPT-Account-ID"

// Mode strings shown by `tokenhost check`.
const (
	// ModeChatGPT describes a ChatGPT sign-in whose tokens the plugin refreshes.
	ModeChatGPT = "chatgpt sign-in (auth.json)"
	// ModeAPIKey describes an auth.json that holds an OpenAI API key, which is served as it is.
	ModeAPIKey = "api key from auth.json (no refresh)"
)

// minUsable is how much life a token another process stored needs left to be returned instead of
// refreshing.
const minUsable = time.Second

// reusedGrace is how long, after refresh_token_reused, the plugin watches auth.json for the tokens of the
// program that redeemed the refresh token first (the Codex CLI writes them only after its request
// returns); reusedPoll is how often it looks.
var reusedGrace, reusedPoll = time.Second, 50 * time.Millisecond

// unsaved are refreshed tokens that could not be written to auth.json. The refresh token they replaced is
// spent at the endpoint, so they are the only working sign-in: the plugin serves them from memory and
// writes them on every later call until the write succeeds.
type unsaved struct {
	u     tokenUpdate // what the endpoint returned
	spent string      // the refresh token redeemed for them
	at    time.Time   // when, for last_refresh
	auth  *authFile   // auth.json as it should be now
}

// source is the codex plugin's sdk.Source.
type source struct {
	sf flight.Group

	mu      sync.Mutex
	cfg     *config  // nil until Configure succeeds
	pending *unsaved // refreshed tokens auth.json does not hold yet, or nil

	// Test hooks (nil outside tests): after a caller joined a refresh and before it waits for it; before
	// taking the file lock; once it is held.
	testHookWaiting    func()
	testHookBeforeLock func()
	testHookLocked     func()
	testHookRereadMiss func() // a re-read after refresh_token_reused found the tokens unchanged
}

// New returns an unconfigured codex Source.
func New() sdk.Source { return &source{} }

// Configure validates the options block. The auth file need not exist yet (the user may run `codex login`
// later); when it exists, its kind decides the Mode shown by `tokenhost check`.
func (s *source) Configure(_ context.Context, options map[string]any) (sdk.Info, error) {
	cfg, err := parseConfig(options)
	if err != nil {
		return sdk.Info{}, err
	}
	mode, upstream, host := ModeChatGPT, DefaultUpstream, "chatgpt.com"
	if data, err := credfile.ReadLimited(cfg.authFile); err == nil {
		if a, err := parseAuth(data); err == nil && a.apiKeyMode {
			mode, upstream, host = ModeAPIKey, APIKeyUpstream, "api.openai.com"
		}
	}
	s.mu.Lock()
	old := s.cfg
	s.cfg = cfg
	s.mu.Unlock()
	if old != nil {
		old.client.CloseIdleConnections()
	}
	return sdk.Info{
		Name:         Name,
		Version:      Version,
		Upstream:     upstream,
		AllowedHosts: []string{host},
		Mode:         mode,
	}, nil
}

// Token reads auth.json and returns its access token, refreshing it first when it expires within
// refresh_window (or, when its expiry cannot be read, when last_refresh is more than StaleAfter ago).
func (s *source) Token(ctx context.Context) (sdk.Token, error) {
	if err := ctx.Err(); err != nil {
		return sdk.Token{}, err
	}
	cfg, err := s.config()
	if err != nil {
		return sdk.Token{}, err
	}
	a, err := s.current(ctx, cfg)
	if err != nil {
		return sdk.Token{}, err
	}
	if a.apiKeyMode {
		return apiKeyToken(a), nil
	}
	if !cfg.due(a, time.Now()) {
		return tokenOf(a), nil
	}
	t, err := s.refresh(ctx, cfg, a.accessToken)
	if err != nil && sdk.IsKind(err, sdk.KindUnavailable) && a.accessToken != "" && (a.exp.IsZero() || time.Now().Before(a.exp)) {
		// The token endpoint is out of reach but the current token still works: serve it, and try again
		// on the next call.
		slog.Debug("codex: refresh failed; serving the current token until it expires", "file", cfg.authFile, "token", sdk.Fingerprint(a.accessToken), "expiry", a.exp)
		return tokenOf(a), nil
	}
	return t, err
}

// Refresh returns a token other than stale. When auth.json already holds another usable token (another
// process refreshed), that is returned without a network call; otherwise the refresh token is redeemed
// under the cross-process lock.
func (s *source) Refresh(ctx context.Context, stale sdk.Token) (sdk.Token, error) {
	if err := ctx.Err(); err != nil {
		return sdk.Token{}, err
	}
	cfg, err := s.config()
	if err != nil {
		return sdk.Token{}, err
	}
	a, err := s.current(ctx, cfg)
	if err != nil {
		return sdk.Token{}, err
	}
	if a.apiKeyMode {
		return apiKeyRefresh(cfg, a, stale.Value)
	}
	if cfg.replaces(a, stale.Value, time.Now()) {
		return tokenOf(a), nil
	}
	return s.refresh(ctx, cfg, stale.Value)
}

// config returns the configuration.
func (s *source) config() (*config, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg == nil {
		return nil, &sdk.Error{Kind: sdk.KindInternal, Message: "codex: a token was requested before Configure"}
	}
	return s.cfg, nil
}

// due reports whether the access token in a needs refreshing at now.
func (c *config) due(a *authFile, now time.Time) bool {
	switch {
	case a.accessToken == "":
		return true
	case !a.exp.IsZero():
		return a.exp.Sub(now) <= c.refreshWindow
	}
	return a.lastRefresh.IsZero() || now.Sub(a.lastRefresh) > StaleAfter
}

// replaces reports whether a holds a usable access token other than stale: proof that someone else
// refreshed already. A known expiry needs only minUsable left (a token just refreshed elsewhere is taken
// even when its whole life is shorter than refresh_window, so two processes never refresh twice); an
// unknown one falls back on last_refresh.
func (c *config) replaces(a *authFile, stale string, now time.Time) bool {
	if a.accessToken == "" || a.accessToken == stale {
		return false
	}
	if !a.exp.IsZero() {
		return a.exp.Sub(now) > minUsable
	}
	return !c.due(a, now)
}

// tokenOf returns the access token of a ChatGPT sign-in with its account header.
func tokenOf(a *authFile) sdk.Token {
	t := sdk.Token{Value: a.accessToken, Type: "Bearer", Expiry: a.exp}
	if a.accountID != "" {
		t.Headers = map[string]string{HeaderAccountID: a.accountID}
	}
	return t
}

// apiKeyToken returns the API key of an api-key auth file; it does not expire.
func apiKeyToken(a *authFile) sdk.Token {
	return sdk.Token{Value: a.apiKey, Type: "Bearer"}
}

// apiKeyRefresh is Refresh for an API key: there is nothing to refresh, so a rejected key needs the user.
func apiKeyRefresh(cfg *config, a *authFile, stale string) (sdk.Token, error) {
	if a.apiKey == stale {
		return sdk.Token{}, sdk.ReauthRequired("the API key in %s was rejected; replace it or run `codex login`", cfg.authFile)
	}
	return apiKeyToken(a), nil
}

// refresh runs one locked refresh for every concurrent caller in this process replacing stale. A caller
// whose ctx ends stops waiting at once; the refresh itself runs on, bounded by lock_timeout and timeout,
// so a token redeemed at the endpoint is always written back.
func (s *source) refresh(ctx context.Context, cfg *config, stale string) (sdk.Token, error) {
	return s.sf.Do(ctx, flight.RefreshKey(stale), s.testHookWaiting, func() (sdk.Token, error) {
		return s.lockedRefresh(context.WithoutCancel(ctx), cfg, stale)
	})
}

// lockedRefresh takes the cross-process lock, re-reads auth.json, and redeems its refresh token unless
// the file already holds a usable token other than stale.
func (s *source) lockedRefresh(ctx context.Context, cfg *config, stale string) (sdk.Token, error) {
	if s.testHookBeforeLock != nil {
		s.testHookBeforeLock()
	}
	unlock, err := lockAuth(ctx, cfg)
	if err != nil {
		return sdk.Token{}, err
	}
	defer unlock()
	if s.testHookLocked != nil {
		s.testHookLocked()
	}

	path := cfg.authFile
	s.flushLocked(cfg)
	a := s.unsavedAuth()
	if a == nil {
		if a, err = readAuth(ctx, path); err != nil {
			return sdk.Token{}, err
		}
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
			return s.store(cfg, a, u, stale)
		}
		if code == codeReused && attempt == 0 {
			// Another program (a Codex CLI, which takes no lock) redeemed it and stores the result.
			if b := s.awaitRotation(ctx, path, a); b != nil {
				if b.accessToken != a.accessToken && cfg.replaces(b, stale, time.Now()) {
					slog.Debug("codex: refresh token was reused; another program stored new tokens", "file", path)
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

// awaitRotation re-reads the auth file until its tokens differ from a's, for at most reusedGrace: the
// program that redeemed the refresh token first may not have written its answer yet. It returns nil when
// the tokens never changed.
func (s *source) awaitRotation(ctx context.Context, path string, a *authFile) *authFile {
	deadline := time.Now().Add(reusedGrace)
	for {
		if b, err := readAuth(ctx, path); err == nil && !b.apiKeyMode && (b.accessToken != a.accessToken || b.refreshToken != a.refreshToken) {
			return b
		}
		if s.testHookRereadMiss != nil {
			s.testHookRereadMiss()
		}
		wait := min(reusedPoll, time.Until(deadline))
		if wait <= 0 {
			return nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// store writes what the token endpoint returned back to auth.json and returns the new access token. When
// the write fails, the tokens are kept as pending (see unsaved) rather than lost.
func (s *source) store(cfg *config, a *authFile, u tokenUpdate, stale string) (sdk.Token, error) {
	path := cfg.authFile
	if u.accessToken == "" && u.refreshToken == "" && u.idToken == "" {
		return sdk.Token{}, sdk.Unavailable("token endpoint %s answered without any token; try again later", cfg.endpoint)
	}
	// Merge into the file as it is now, so a field another program changed meanwhile survives.
	base := a
	if data, err := credfile.ReadLimited(path); err == nil {
		if b, err := parseAuth(data); err == nil && !b.apiKeyMode {
			base = b
		}
	}
	now := time.Now()
	data, err := base.apply(u, now)
	if err != nil {
		return sdk.Token{}, &sdk.Error{Kind: sdk.KindInternal, Message: fmt.Sprintf("cannot encode the refreshed %s", path)}
	}
	if err := credfile.WriteAtomic(path, data, beforeRename); err != nil {
		n, perr := parseAuth(data)
		if perr != nil {
			return sdk.Token{}, fileError(path, perr)
		}
		// The file still holds the refresh token redeemed first, if earlier tokens are unsaved too.
		spent := a.refreshToken
		s.mu.Lock()
		if s.pending != nil {
			spent = s.pending.spent
		}
		s.pending = &unsaved{u: u, spent: spent, at: now, auth: n}
		s.mu.Unlock()
		slog.Warn("codex: the refreshed tokens could not be written to auth.json; serving them from memory and writing them again on every call. The old refresh token is spent: if tokenhost stops before a write succeeds, sign in again with `codex login`. Make the file and its directory writable.",
			"file", path, "error", pathReason(err))
	} else {
		s.setPending(nil) // the file now holds everything
		slog.Debug("codex: tokens refreshed", "file", path, "endpoint", cfg.endpoint, "new_refresh_token", u.refreshToken != "")
	}
	if u.accessToken == "" {
		return sdk.Token{}, sdk.Unavailable("token endpoint %s answered without an access_token; try again later", cfg.endpoint)
	}
	n, err := parseAuth(data)
	if err != nil {
		return sdk.Token{}, fileError(path, err)
	}
	if n.accessToken == stale {
		return sdk.Token{}, sdk.Unavailable("token endpoint %s returned the access token that was to be replaced; try again later", cfg.endpoint)
	}
	return tokenOf(n), nil
}

// current returns auth.json as it stands for this process: the file, unless refreshed tokens are still
// unsaved, in which case it first tries (under the lock) to write them, and serves them from memory while
// it cannot.
func (s *source) current(ctx context.Context, cfg *config) (*authFile, error) {
	if s.unsavedAuth() == nil {
		return readAuth(ctx, cfg.authFile)
	}
	if unlock, err := lockAuth(ctx, cfg); err == nil {
		s.flushLocked(cfg)
		unlock()
	}
	if a := s.unsavedAuth(); a != nil {
		return a, nil
	}
	return readAuth(ctx, cfg.authFile)
}

// flushLocked writes unsaved tokens to auth.json; the caller holds the lock. If the file no longer holds the
// refresh token they replaced, another program stored newer tokens (a refresh, a new `codex login`) and
// the file wins.
func (s *source) flushLocked(cfg *config) {
	s.mu.Lock()
	p := s.pending
	s.mu.Unlock()
	if p == nil {
		return
	}
	base := p.auth
	if data, err := credfile.ReadLimited(cfg.authFile); err == nil {
		if b, err := parseAuth(data); err == nil {
			if b.apiKeyMode || b.refreshToken != p.spent {
				slog.Info("codex: auth.json was rewritten by another program; dropping the unsaved tokens in favour of the file", "file", cfg.authFile)
				s.setPending(nil)
				return
			}
			base = b
		}
	}
	data, err := base.apply(p.u, p.at)
	if err == nil {
		err = credfile.WriteAtomic(cfg.authFile, data, beforeRename)
	}
	if err != nil {
		slog.Warn("codex: the refreshed tokens still cannot be written to auth.json; serving them from memory", "file", cfg.authFile, "error", pathReason(err))
		return
	}
	slog.Info("codex: the refreshed tokens were written to auth.json", "file", cfg.authFile)
	s.setPending(nil)
}

// unsavedAuth returns the auth file as the unsaved tokens make it, or nil when everything is saved.
func (s *source) unsavedAuth() *authFile {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending == nil {
		return nil
	}
	return s.pending.auth
}

func (s *source) setPending(p *unsaved) {
	s.mu.Lock()
	s.pending = p
	s.mu.Unlock()
}

// lockAuth takes the cross-process lock on auth.json.lock beside the (symlink-resolved) auth file,
// waiting at most lock_timeout; the returned func releases it.
func lockAuth(ctx context.Context, cfg *config) (func(), error) {
	lockPath := credfile.LockPath(cfg.authFile)
	unlock, err := credfile.Lock(ctx, lockPath, cfg.lockTimeout)
	switch {
	case err == nil:
		return unlock, nil
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.Is(err, credfile.ErrLockTimeout):
		return nil, sdk.Unavailable("could not lock %s within %s: another process is refreshing the same auth.json; try again, or raise lock_timeout", lockPath, cfg.lockTimeout)
	case errors.Is(err, fs.ErrNotExist):
		return nil, fileError(cfg.authFile, fs.ErrNotExist)
	}
	return nil, &sdk.Error{Kind: sdk.KindInternal, Message: fmt.Sprintf("cannot lock %s (%s); the directory must be writable", lockPath, pathReason(err))}
}

// pathReason returns the reason of a file system error without its path.
func pathReason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Op + ": " + pe.Err.Error()
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Op + ": " + le.Err.Error()
	}
	return err.Error()
}
