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

	"github.com/tokenhost/tokenhost/internal/fsmsg"
	"github.com/tokenhost/tokenhost/plugins/internal/credfile"
	"github.com/tokenhost/tokenhost/plugins/internal/flight"
	"github.com/tokenhost/tokenhost/plugins/internal/tokenhttp"
	"github.com/tokenhost/tokenhost/sdk"
	"github.com/tokenhost/tokenhost/sdk/tokenkit"
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
	t, err := s.sf.Do(ctx, flight.RefreshKey(stale), func() (sdk.Token, error) {
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

	s.flushCreds(ctx, cfg, "unsaved", nil)
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
	replaced := credsMarkOf(f)
	f.apply(g, time.Now())
	s.pending.Keep(unsavedCreds{f: f}, replaced)
	s.flushCreds(ctx, cfg, "refreshed", []string{g.accessToken, f.refreshToken})
	slog.Debug("gemini: sign-in refreshed", "file", cfg.credsFile, "token", sdk.Fingerprint(f.accessToken), "expiry", f.expiry)
	return f.token(cfg.quotaProject), nil
}

// unsavedCreds is a refreshed sign-in that oauth_creds.json does not hold yet (see credfile.Pending).
type unsavedCreds struct {
	f *credsFile // the sign-in as it should be stored
}

// currentCreds returns oauth_creds.json as it stands for this process: the file, unless a refreshed
// sign-in is still unsaved, in which case it first tries (under the lock) to write it, and serves it from
// memory while it cannot.
func (s *source) currentCreds(ctx context.Context, cfg *config) (*credsFile, error) {
	if _, held := s.pending.Value(); held {
		if unlock, err := s.lock(ctx, cfg); err == nil {
			s.flushCreds(ctx, cfg, "unsaved", nil)
			unlock()
		}
		if f := s.unsaved(); f != nil {
			return f, nil
		}
	}
	return credfile.Read(ctx, cfg.credsFile, parseCreds)
}

// flushCreds writes an unsaved sign-in into oauth_creds.json, keeping the file's other fields; the caller
// holds the lock. The file is re-read first: the Gemini CLI rewrites it in place with no lock, and when it
// no longer holds the tokens the refresh replaced, the CLI stored a newer sign-in, which wins. what
// ("refreshed" or "unsaved") words the log line; redact lists values an error must not show.
func (s *source) flushCreds(ctx context.Context, cfg *config, what string, redact []string) {
	res, err := s.pending.Flush(ctx, cfg.credsFile, credsMark, encodeUnsavedCreds, s.probe.beforeRename)
	switch {
	case err != nil && what == "refreshed":
		slog.Warn("gemini: the refreshed sign-in could not be written to oauth_creds.json; serving it from memory and writing it again on every call. Make the file and its directory writable.",
			"file", cfg.credsFile, "error", tokenhttp.Clean(fsmsg.Reason(err), tokenhttp.MaxDescription, redact))
	case err != nil:
		slog.Warn("gemini: the refreshed sign-in still cannot be written to oauth_creds.json; serving it from memory", "file", cfg.credsFile)
	case res == credfile.Superseded:
		slog.Info("gemini: oauth_creds.json was rewritten by another program; keeping the file and dropping the unsaved sign-in", "file", cfg.credsFile)
	case res == credfile.Written && what == "unsaved":
		slog.Info("gemini: the refreshed sign-in was written to oauth_creds.json", "file", cfg.credsFile)
	}
}

// credsMarkOf identifies the sign-in of an oauth_creds.json by its access and refresh tokens.
func credsMarkOf(f *credsFile) string { return f.accessToken + "\x00" + f.refreshToken }

// credsMark is credsMarkOf for the file's contents.
func credsMark(data []byte) (string, error) {
	f, err := parseCreds(data)
	if err != nil {
		return "", err
	}
	return credsMarkOf(f), nil
}

// ownedFields are the fields of oauth_creds.json a refresh sets; every other field belongs to the file.
var ownedFields = []string{"access_token", "refresh_token", "expiry_date", "expires_in", "token_type", "scope", "id_token"}

// encodeUnsavedCreds returns oauth_creds.json as it should be: current (nil when unreadable: the unsaved
// sign-in alone) with the fields a refresh sets taken from the unsaved sign-in.
func encodeUnsavedCreds(current []byte, p unsavedCreds) ([]byte, error) {
	if current == nil {
		return p.f.encode()
	}
	b, err := parseCreds(current)
	if err != nil {
		return p.f.encode()
	}
	for _, k := range ownedFields {
		if v, ok := p.f.doc[k]; ok {
			b.doc[k] = v
		} else {
			delete(b.doc, k)
		}
	}
	return b.encode()
}

// unsaved returns a copy of the unsaved sign-in (callers may apply a grant to it), or nil.
func (s *source) unsaved() *credsFile {
	p, held := s.pending.Value()
	if !held {
		return nil
	}
	c := *p.f
	c.doc = maps.Clone(c.doc)
	return &c
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
	if s.probe.locking != nil {
		s.probe.locking()
	}
	unlock, err := credfile.Lock(ctx, path, cfg.lockTimeout)
	switch {
	case err == nil:
		return unlock, nil
	case errors.Is(err, credfile.ErrLockTimeout):
		return nil, sdk.Unavailable("another process held the lock %s for more than lock_timeout (%s); try again, or raise lock_timeout", path, cfg.lockTimeout)
	}
	return nil, sdk.Internal("cannot lock %s: %s", path, fsmsg.Reason(err))
}

// redeem sends the refresh grant to the token endpoint as the Gemini CLI does: a form-encoded POST with the
// client id and secret in the body.
func redeem(ctx context.Context, cfg *config, refreshToken string) (*grant, error) {
	tokenURL := cfg.tokenURL
	if tokenURL == "" {
		tokenURL = DefaultTokenURL
	}
	ep := endpoint{display: tokenkit.Display(tokenURL), next: nextGeminiCLI, clientKey: "client_id", redact: []string{refreshToken, cfg.clientSecret}}
	form := url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {refreshToken},
		"client_id":     {cfg.clientID},
		"client_secret": {cfg.clientSecret},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, sdk.Internal("cannot build the token request to %s", ep.display)
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
	if g.accessToken, err = credfile.OptString(doc, "access_token"); err != nil || g.accessToken == "" {
		return nil, errors.New("no access_token")
	}
	if tokenhttp.HasControl(g.accessToken) || strings.ContainsAny(g.accessToken, " \t") {
		return nil, errors.New("an access_token that cannot be sent in a header")
	}
	if g.refreshToken, err = credfile.OptString(doc, "refresh_token"); err != nil || tokenhttp.HasControl(g.refreshToken) {
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
			if _, err := credfile.OptString(doc, k); err != nil {
				return nil, fmt.Errorf("a malformed %s", k)
			}
			g.fields[k] = v
		}
	}
	return g, nil
}
