package codex

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"

	"github.com/tokenhost/tokenhost/sdk"
)

// maxAuthFile bounds how much of auth.json is read; real files are a few kilobytes.
const maxAuthFile = 1 << 20

// readAttempts is how often a file that is empty or not valid JSON is read before it is reported: the
// Codex CLI rewrites auth.json in place, so a reader can catch it half written.
const readAttempts = 3

// readRetryDelay is the pause between those reads.
const readRetryDelay = 25 * time.Millisecond

// Auth modes as the Codex CLI writes them in auth_mode.
const (
	modeAPIKey  = "apikey"
	modeChatGPT = "chatgpt"
)

// authFile is a parsed auth.json. doc and tokens keep every field as it was, so a rewrite changes only what
// the plugin sets.
type authFile struct {
	doc    map[string]json.RawMessage // the top-level object
	tokens map[string]json.RawMessage // the tokens object; nil when absent or null

	apiKeyMode   bool
	apiKey       string // OPENAI_API_KEY; "" when null or absent
	idToken      string
	accessToken  string
	refreshToken string
	accountID    string    // tokens.account_id, else the id_token's claim; "" when neither
	exp          time.Time // the access token's exp; zero when unknown
	lastRefresh  time.Time // zero when absent or unreadable
}

// fileProblem is what is wrong with an auth file, without its path. reauth marks problems only signing in
// again fixes (as opposed to a damaged file).
type fileProblem struct {
	reauth  bool
	partial bool // empty or not JSON: possibly caught while another program rewrote it
	what    string
}

func (p *fileProblem) Error() string { return p.what }

func corrupt(format string, args ...any) error {
	return &fileProblem{what: fmt.Sprintf(format, args...)}
}

func notSignedIn(format string, args ...any) error {
	return &fileProblem{reauth: true, what: fmt.Sprintf(format, args...)}
}

// parseAuth parses the contents of an auth file. Its errors are *fileProblem values that never quote a
// value from the file.
func parseAuth(data []byte) (*authFile, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &fileProblem{partial: true, what: "is empty"}
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, &fileProblem{partial: true, what: fmt.Sprintf("is not valid JSON (syntax error at byte %d)", se.Offset)}
		}
		return nil, corrupt("is not a JSON object")
	}
	if doc == nil {
		return nil, corrupt("is not a JSON object")
	}
	a := &authFile{doc: doc}

	mode, err := optString(doc, "auth_mode")
	if err != nil {
		return nil, err
	}
	if a.apiKey, err = optString(doc, "OPENAI_API_KEY"); err != nil {
		return nil, err
	}
	if rawTokens, ok := doc["tokens"]; ok && !isNull(rawTokens) {
		if err := json.Unmarshal(rawTokens, &a.tokens); err != nil || a.tokens == nil {
			return nil, corrupt("has a tokens field that is not a JSON object")
		}
	}
	if lr, err := optString(doc, "last_refresh"); err == nil && lr != "" {
		if t, err := time.Parse(time.RFC3339Nano, lr); err == nil {
			a.lastRefresh = t
		}
	}

	switch {
	case mode == modeAPIKey, mode == "" && a.apiKey != "" && a.tokens == nil:
		a.apiKeyMode = true
		if a.apiKey == "" {
			return nil, notSignedIn("has auth_mode %q but no OPENAI_API_KEY", modeAPIKey)
		}
		if hasControl(a.apiKey) {
			return nil, corrupt("has an OPENAI_API_KEY with control characters, which cannot be sent in a header")
		}
		return a, nil
	case a.tokens == nil:
		return nil, notSignedIn("has no tokens (it holds no ChatGPT sign-in)")
	}

	for _, f := range []struct {
		name string
		dst  *string
	}{{"id_token", &a.idToken}, {"access_token", &a.accessToken}, {"refresh_token", &a.refreshToken}, {"account_id", &a.accountID}} {
		v, err := optString(a.tokens, f.name)
		if err != nil {
			return nil, corrupt("has tokens.%s that is not a string", f.name)
		}
		if hasControl(v) {
			return nil, corrupt("has tokens.%s with control characters", f.name)
		}
		*f.dst = v
	}
	if a.accessToken == "" && a.refreshToken == "" {
		return nil, notSignedIn("has neither tokens.access_token nor tokens.refresh_token")
	}
	if a.accessToken != "" {
		c, err := readClaims(a.accessToken)
		if err != nil {
			return nil, corrupt("has a tokens.access_token that %s", err)
		}
		a.exp = c.exp
	}
	if a.accountID == "" && a.idToken != "" {
		c, err := readClaims(a.idToken)
		if err != nil {
			return nil, corrupt("has no tokens.account_id and a tokens.id_token that %s", err)
		}
		a.accountID = c.accountID
	}
	return a, nil
}

// optString returns the string at key of m; absent and null are "", any other type is an error.
func optString(m map[string]json.RawMessage, key string) (string, error) {
	raw, ok := m[key]
	if !ok || isNull(raw) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", corrupt("has a %s field that is not a string", key)
	}
	return s, nil
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// hasControl reports whether s holds a character that cannot go into an HTTP header.
func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) })
}

// readAuth reads and parses the auth file at path. Errors name the file and say what to do next: a missing
// file, or one with no sign-in, is sdk.ReauthRequired; a damaged one is KindInternal.
func readAuth(ctx context.Context, path string) (*authFile, error) {
	var lastErr error
	for attempt := range readAttempts {
		if attempt > 0 {
			t := time.NewTimer(readRetryDelay)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			case <-t.C:
			}
		}
		data, err := readLimited(path)
		if err != nil {
			return nil, fileError(path, err)
		}
		a, err := parseAuth(data)
		if err == nil {
			return a, nil
		}
		lastErr = err
		var p *fileProblem
		if !errors.As(err, &p) || !p.partial {
			break // only a half-written file is worth a second look
		}
	}
	return nil, fileError(path, lastErr)
}

// readLimited reads at most maxAuthFile bytes of the regular file at path.
func readLimited(path string) ([]byte, error) {
	// Stat first: opening a FIFO would block.
	if st, err := os.Stat(path); err != nil {
		return nil, err
	} else if st.IsDir() {
		return nil, errIsDir
	} else if !st.Mode().IsRegular() {
		return nil, errNotRegular
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, errIsDir
	}
	if !st.Mode().IsRegular() {
		return nil, errNotRegular
	}
	data, err := io.ReadAll(io.LimitReader(f, maxAuthFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxAuthFile {
		return nil, corrupt("is larger than %d bytes, far more than an auth file holds", maxAuthFile)
	}
	return data, nil
}

var (
	errIsDir      = errors.New("is a directory")
	errNotRegular = errors.New("is not a regular file")
)

// fileError turns a problem reading or parsing the auth file at path into an sdk error naming the file.
func fileError(path string, err error) error {
	var p *fileProblem
	switch {
	case errors.As(err, &p) && p.reauth:
		return sdk.ReauthRequired("%s %s; sign in with `codex login`", path, p.what)
	case errors.As(err, &p):
		return &sdk.Error{Kind: sdk.KindInternal, Message: fmt.Sprintf("%s %s; repair it, or sign in again with `codex login` to write a new one", path, p.what)}
	case errors.Is(err, fs.ErrNotExist):
		return sdk.ReauthRequired("%s does not exist; sign in with `codex login` (or point auth_file or %s at your auth.json)", path, EnvCodexHome)
	case errors.Is(err, errIsDir), errors.Is(err, errNotRegular):
		return &sdk.Error{Kind: sdk.KindInternal, Message: fmt.Sprintf("%s %s, not the Codex CLI's auth.json; remove it and sign in with `codex login`, or set auth_file", path, err)}
	case errors.Is(err, fs.ErrPermission):
		return &sdk.Error{Kind: sdk.KindInternal, Message: fmt.Sprintf("%s cannot be read: permission denied; tokenhost must run as the user who ran `codex login`", path)}
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return &sdk.Error{Kind: sdk.KindInternal, Message: fmt.Sprintf("%s cannot be read: %v", path, err)}
}

// tokenUpdate is what a token endpoint answered; empty fields did not come back.
type tokenUpdate struct {
	idToken, accessToken, refreshToken string
}

// apply returns the document a with the fields of u that came back and last_refresh set to now; every
// other field, known or unknown, is kept as it was. The result is pretty-printed with two spaces.
func (a *authFile) apply(u tokenUpdate, now time.Time) ([]byte, error) {
	doc := make(map[string]json.RawMessage, len(a.doc)+1)
	for k, v := range a.doc {
		doc[k] = v
	}
	tokens := make(map[string]json.RawMessage, len(a.tokens)+3)
	for k, v := range a.tokens {
		tokens[k] = v
	}
	set := func(m map[string]json.RawMessage, k, v string) error {
		b, err := marshal(v)
		if err == nil {
			m[k] = b
		}
		return err
	}
	for _, f := range []struct{ k, v string }{{"id_token", u.idToken}, {"access_token", u.accessToken}, {"refresh_token", u.refreshToken}} {
		if f.v == "" {
			continue
		}
		if err := set(tokens, f.k, f.v); err != nil {
			return nil, err
		}
	}
	tb, err := marshal(tokens)
	if err != nil {
		return nil, err
	}
	doc["tokens"] = tb
	if err := set(doc, "last_refresh", now.UTC().Format(time.RFC3339Nano)); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// marshal encodes v as compact JSON without HTML escaping.
func marshal(v any) (json.RawMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// beforeRename runs between writing the temporary file and renaming it over auth.json; tests make it fail
// to prove a crash there leaves the original intact.
var beforeRename = func(tmp string) error { return nil }

// writeAtomic replaces the file at path with data: a temporary file in the same directory is written,
// synced and set to mode 0600, then renamed over path, and the directory is synced. A symlink at path is
// followed, so the link stays a link. On failure the original is untouched and no temporary file remains.
func writeAtomic(path string, data []byte) (err error) {
	target := path
	if resolved, rerr := filepath.EvalSymlinks(path); rerr == nil {
		target = resolved
	}
	dir := filepath.Dir(target)
	f, err := os.CreateTemp(dir, "."+filepath.Base(target)+".tokenhost-*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Chmod(0o600); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = beforeRename(tmp); err != nil {
		return err
	}
	if err = os.Rename(tmp, target); err != nil {
		return err
	}
	syncDir(dir)
	return nil
}

// syncDir flushes a directory entry change to disk; best effort, as some file systems refuse it.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}
