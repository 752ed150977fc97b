package gemini

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tokenhost/tokenhost/plugins/internal/credfile"
	"github.com/tokenhost/tokenhost/plugins/internal/flight"
	"github.com/tokenhost/tokenhost/plugins/internal/tokenhttp"
	"github.com/tokenhost/tokenhost/sdk"
)

// maxTokenResponse bounds how much of a token endpoint answer is read.
const maxTokenResponse = 1 << 20

// cliToken serves the access token of oauth_creds.json, refreshing it when it expires within
// refresh_window; concurrent callers share one refresh.
func (s *source) cliToken(ctx context.Context, cfg *config) (sdk.Token, error) {
	f, err := s.currentCreds(ctx, cfg)
	if err != nil {
		return sdk.Token{}, cliFileError(cfg.credsFile, err)
	}
	if f.usable(time.Now(), cfg.refreshWindow) {
		return f.token(cfg.quotaProject), nil
	}
	stale := f.accessToken
	t, err := s.sf.Do(ctx, flight.RefreshKey(stale), nil, func() (sdk.Token, error) {
		return s.cliRefresh(ctx, cfg, stale)
	})
	if err != nil && sdk.IsKind(err, sdk.KindUnavailable) && stale != "" && time.Now().Before(f.expiry) {
		// The endpoint is failing, but the stored token has not expired yet: serve it meanwhile.
		slog.Debug("gemini: refresh failed, serving the stored token until it expires", "file", cfg.credsFile, "expiry", f.expiry)
		return f.token(cfg.quotaProject), nil
	}
	return t, err
}

// cliRefresh replaces the access token stale ("" when there was none) under the cross-process lock: it
// re-reads oauth_creds.json and returns a token another process stored meanwhile, else redeems the refresh
// token and writes the answer back before unlocking. It runs detached from the caller's cancellation,
// bounded by lock_timeout and timeout.
func (s *source) cliRefresh(ctx context.Context, cfg *config, stale string) (sdk.Token, error) {
	ctx = context.WithoutCancel(ctx)
	if _, err := os.Stat(cfg.credsFile); err != nil {
		return sdk.Token{}, cliFileError(cfg.credsFile, err)
	}
	unlock, err := s.lock(ctx, cfg)
	if err != nil {
		return sdk.Token{}, err
	}
	defer unlock()

	s.flushCredsLocked(cfg)
	f := s.unsaved()
	if f == nil {
		if f, err = credfile.Read(ctx, cfg.credsFile, parseCreds); err != nil {
			return sdk.Token{}, cliFileError(cfg.credsFile, err)
		}
	}
	now := time.Now()
	if f.accessToken != stale && f.usable(now, cfg.refreshWindow) {
		slog.Debug("gemini: another process refreshed the sign-in", "file", cfg.credsFile, "token", sdk.Fingerprint(f.accessToken))
		return f.token(cfg.quotaProject), nil
	}
	if f.refreshToken == "" {
		return sdk.Token{}, sdk.ReauthRequired("%s has no refresh_token, so its access token cannot be renewed; %s", cfg.credsFile, nextGeminiCLI)
	}

	rctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	g, err := redeem(rctx, cfg, f.refreshToken)
	if err != nil {
		slog.Debug("gemini: refresh failed", "file", cfg.credsFile, "kind", sdk.KindOf(err))
		return sdk.Token{}, err
	}
	at := time.Now()
	replaced := unsavedCreds{access: f.accessToken, refresh: f.refreshToken}
	f.apply(g, at)
	data, err := f.encode()
	if err == nil {
		err = credfile.WriteAtomic(cfg.credsFile, data, s.testHookBeforeRename)
	}
	if err != nil {
		// Keep the refreshed sign-in rather than lose it (Google may have rotated the refresh token).
		s.mu.Lock()
		if s.pending != nil { // the file still holds what the first unsaved refresh replaced
			replaced.access, replaced.refresh = s.pending.access, s.pending.refresh
		}
		s.pending = &unsavedCreds{f: f, g: g, at: at, access: replaced.access, refresh: replaced.refresh}
		s.mu.Unlock()
		slog.Warn("gemini: the refreshed sign-in could not be written to oauth_creds.json; serving it from memory and writing it again on every call. Make the file and its directory writable.",
			"file", cfg.credsFile, "error", tokenhttp.Clean(pathErrReason(err), tokenhttp.MaxDescription, []string{g.accessToken, f.refreshToken}))
		return f.token(cfg.quotaProject), nil
	}
	s.setPendingCreds(nil)
	slog.Debug("gemini: sign-in refreshed", "file", cfg.credsFile, "token", sdk.Fingerprint(f.accessToken), "expiry", f.expiry)
	return f.token(cfg.quotaProject), nil
}

// unsavedCreds is a refreshed sign-in that could not be written to oauth_creds.json: served from memory and
// written on every later call until a write succeeds. access and refresh are the tokens the file held
// before; a file holding others was rewritten by another program and wins.
type unsavedCreds struct {
	f               *credsFile // the sign-in as it should be stored
	g               *grant     // what the endpoint returned
	at              time.Time  // when
	access, refresh string     // what the file held when the refresh replaced it
}

// currentCreds returns oauth_creds.json as it stands for this process: the file, unless a refreshed
// sign-in is still unsaved, in which case it first tries (under the lock) to write it, and serves it from
// memory while it cannot.
func (s *source) currentCreds(ctx context.Context, cfg *config) (*credsFile, error) {
	if s.unsaved() != nil {
		if unlock, err := s.lock(ctx, cfg); err == nil {
			s.flushCredsLocked(cfg)
			unlock()
		}
		if f := s.unsaved(); f != nil {
			return f, nil
		}
	}
	return credfile.Read(ctx, cfg.credsFile, parseCreds)
}

// flushCredsLocked writes an unsaved sign-in into oauth_creds.json, keeping the file's other fields; the
// caller holds the lock.
func (s *source) flushCredsLocked(cfg *config) {
	s.mu.Lock()
	p := s.pending
	s.mu.Unlock()
	if p == nil {
		return
	}
	base := p.f
	if data, err := credfile.ReadLimited(cfg.credsFile); err == nil {
		if b, err := parseCreds(data); err == nil {
			if b.accessToken != p.access || b.refreshToken != p.refresh {
				slog.Info("gemini: oauth_creds.json was rewritten by another program; dropping the unsaved sign-in in favour of the file", "file", cfg.credsFile)
				s.setPendingCreds(nil)
				return
			}
			b.apply(p.g, p.at)
			base = b
		}
	}
	data, err := base.encode()
	if err == nil {
		err = credfile.WriteAtomic(cfg.credsFile, data, s.testHookBeforeRename)
	}
	if err != nil {
		slog.Warn("gemini: the refreshed sign-in still cannot be written to oauth_creds.json; serving it from memory", "file", cfg.credsFile)
		return
	}
	slog.Info("gemini: the refreshed sign-in was written to oauth_creds.json", "file", cfg.credsFile)
	s.setPendingCreds(nil)
}

// unsaved returns a copy of the unsaved sign-in (callers may apply a grant to it), or nil.
func (s *source) unsaved() *credsFile {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending == nil {
		return nil
	}
	c := *s.pending.f
	c.doc = maps.Clone(c.doc)
	return &c
}

func (s *source) setPendingCreds(p *unsavedCreds) {
	s.mu.Lock()
	s.pending = p
	s.mu.Unlock()
}

// cliFileError is fileError for oauth_creds.json: a missing file also points at the options that say where
// it is.
func cliFileError(path string, err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return sdk.ReauthRequired("%s does not exist; sign in with the Gemini CLI first (run `gemini` and choose /auth), or set creds_file (or GEMINI_CLI_HOME) to where it keeps oauth_creds.json", path)
	}
	return fileError(path, err, nextGeminiCLI)
}

// lock takes the exclusive lock on oauth_creds.json.lock, waiting at most lock_timeout; it returns the
// function that releases it.
func (s *source) lock(ctx context.Context, cfg *config) (func(), error) {
	path := credfile.LockPath(cfg.credsFile)
	if s.testHookLocking != nil {
		s.testHookLocking()
	}
	unlock, err := credfile.Lock(ctx, path, cfg.lockTimeout)
	switch {
	case err == nil:
		return unlock, nil
	case errors.Is(err, credfile.ErrLockTimeout):
		return nil, sdk.Unavailable("another process held the lock %s for more than lock_timeout (%s); try again, or raise lock_timeout", path, cfg.lockTimeout)
	}
	return nil, &sdk.Error{Kind: sdk.KindInternal, Message: fmt.Sprintf("cannot lock %s: %s", path, pathErrReason(err))}
}

// redeem sends the refresh grant to the token endpoint as the Gemini CLI does: a form-encoded POST with the
// client id and secret in the body.
func redeem(ctx context.Context, cfg *config, refreshToken string) (*grant, error) {
	tokenURL := cfg.tokenURL
	if tokenURL == "" {
		tokenURL = DefaultTokenURL
	}
	ep := endpoint{display: tokenhttp.Display(tokenURL), next: nextGeminiCLI, clientKey: "client_id", redact: []string{refreshToken, cfg.clientSecret}}
	form := url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {refreshToken},
		"client_id":     {cfg.clientID},
		"client_secret": {cfg.clientSecret},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, &sdk.Error{Kind: sdk.KindInternal, Message: fmt.Sprintf("cannot build the token request to %s", ep.display)}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := cfg.client.Do(req)
	if err != nil {
		return nil, transportError(ep, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponse))
	if err != nil {
		return nil, transportError(ep, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, responseError(ep, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	g, err := parseGrant(body)
	if err != nil {
		return nil, sdk.Unavailable("token endpoint %s answered %d with %s; try again later", ep.display, resp.StatusCode, err)
	}
	return g, nil
}

// parseGrant reads a successful token response. Its errors describe what is missing, never a value.
func parseGrant(body []byte) (*grant, error) {
	doc, err := credfile.ParseObject(body)
	if err != nil {
		return nil, errors.New("a body that is not a JSON token response")
	}
	g := &grant{fields: map[string]json.RawMessage{}}
	if g.accessToken, err = optString(doc, "access_token"); err != nil || g.accessToken == "" {
		return nil, errors.New("no access_token")
	}
	if tokenhttp.HasControl(g.accessToken) || strings.ContainsAny(g.accessToken, " \t") {
		return nil, errors.New("an access_token that cannot be sent in a header")
	}
	if g.refreshToken, err = optString(doc, "refresh_token"); err != nil || tokenhttp.HasControl(g.refreshToken) {
		return nil, errors.New("a malformed refresh_token")
	}
	if raw, ok := doc["expires_in"]; ok && !credfile.IsNull(raw) {
		text := strings.Trim(strings.TrimSpace(string(raw)), `"`)
		secs, err := strconv.ParseFloat(text, 64)
		if err != nil || secs < 0 || secs > 1e9 {
			return nil, errors.New("a malformed expires_in")
		}
		g.expiresIn = time.Duration(secs * float64(time.Second))
	}
	for _, k := range []string{"token_type", "scope", "id_token"} {
		if v, ok := doc[k]; ok {
			if _, err := optString(doc, k); err != nil {
				return nil, fmt.Errorf("a malformed %s", k)
			}
			g.fields[k] = v
		}
	}
	return g, nil
}
