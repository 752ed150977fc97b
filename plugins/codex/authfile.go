package codex

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"time"

	"github.com/tokenhost/tokenhost/plugins/internal/credfile"
	"github.com/tokenhost/tokenhost/plugins/internal/tokenhttp"
	"github.com/tokenhost/tokenhost/sdk"
)

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
	gen          int64     // fleet mode: the generation of the fleet's stored sign-in (fleet.go); 0 for a file
}

// parseAuth parses the contents of an auth file. Its errors are *credfile.Problem values that never quote
// a value from the file.
func parseAuth(data []byte) (*authFile, error) {
	doc, err := credfile.ParseObject(data)
	if err != nil {
		return nil, err
	}
	a := &authFile{doc: doc}

	mode, err := credfile.OptString(doc, "auth_mode")
	if err != nil {
		return nil, err
	}
	if a.apiKey, err = credfile.OptString(doc, "OPENAI_API_KEY"); err != nil {
		return nil, err
	}
	if rawTokens, ok := doc["tokens"]; ok && !credfile.IsNull(rawTokens) {
		if err := json.Unmarshal(rawTokens, &a.tokens); err != nil || a.tokens == nil {
			return nil, credfile.Corrupt("has a tokens field that is not a JSON object")
		}
	}
	if lr, err := credfile.OptString(doc, "last_refresh"); err == nil && lr != "" {
		if t, err := time.Parse(time.RFC3339Nano, lr); err == nil {
			a.lastRefresh = t
		}
	}

	switch {
	case mode == modeAPIKey, mode == "" && a.apiKey != "" && a.tokens == nil:
		a.apiKeyMode = true
		if a.apiKey == "" {
			return nil, credfile.NotSignedIn("has auth_mode %q but no OPENAI_API_KEY", modeAPIKey)
		}
		if tokenhttp.HasControl(a.apiKey) {
			return nil, credfile.Corrupt("has an OPENAI_API_KEY with control characters, which cannot be sent in a header")
		}
		return a, nil
	case a.tokens == nil:
		return nil, credfile.NotSignedIn("has no tokens (it holds no ChatGPT sign-in)")
	}

	for _, f := range []struct {
		name string
		dst  *string
	}{{"id_token", &a.idToken}, {"access_token", &a.accessToken}, {"refresh_token", &a.refreshToken}, {"account_id", &a.accountID}} {
		v, err := credfile.OptString(a.tokens, f.name)
		if err != nil {
			return nil, credfile.Corrupt("has tokens.%s that is not a string", f.name)
		}
		if tokenhttp.HasControl(v) {
			return nil, credfile.Corrupt("has tokens.%s with control characters", f.name)
		}
		*f.dst = v
	}
	if a.accessToken == "" && a.refreshToken == "" {
		return nil, credfile.NotSignedIn("has neither tokens.access_token nor tokens.refresh_token")
	}
	if a.accessToken != "" {
		c, err := readClaims(a.accessToken)
		if err != nil {
			return nil, credfile.Corrupt("has a tokens.access_token that %s", err)
		}
		a.exp = c.exp
	}
	if a.accountID == "" && a.idToken != "" {
		c, err := readClaims(a.idToken)
		if err != nil {
			return nil, credfile.Corrupt("has no tokens.account_id and a tokens.id_token that %s", err)
		}
		a.accountID = c.accountID
	}
	return a, nil
}

// readAuth reads and parses the auth file at path. Errors name the file and say what to do next: a missing
// file, or one with no sign-in, is sdk.ReauthRequired; a damaged one is KindInternal.
func readAuth(ctx context.Context, path string) (*authFile, error) {
	a, err := credfile.Read(ctx, path, parseAuth)
	if err != nil {
		return nil, fileError(path, err)
	}
	return a, nil
}

// fileError turns a problem reading or parsing the auth file at path into an sdk error naming the file.
func fileError(path string, err error) error {
	var p *credfile.Problem
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.As(err, &p) && p.Reauth:
		return sdk.ReauthRequired("%s %s; sign in with `codex login`", path, p.What)
	case errors.As(err, &p):
		return sdk.Internal("%s %s; repair it, or sign in again with `codex login` to write a new one", path, p.What)
	case errors.Is(err, fs.ErrNotExist):
		return sdk.ReauthRequired("%s does not exist; sign in with `codex login` (or point auth_file or %s at your auth.json)", path, EnvCodexHome)
	case errors.Is(err, credfile.ErrIsDir), errors.Is(err, credfile.ErrNotRegular):
		return sdk.Internal("%s %s, not the Codex CLI's auth.json; remove it and sign in with `codex login`, or set auth_file", path, err)
	case errors.Is(err, fs.ErrPermission):
		return sdk.Internal("%s cannot be read: permission denied; tokenhost must run as the user who ran `codex login`", path)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return sdk.Internal("%s cannot be read: %v", path, err)
}

// tokenUpdate is what a token endpoint answered; empty fields did not come back.
type tokenUpdate struct {
	idToken, accessToken, refreshToken string
	accountID                          string // set only when copying a sign-in; a refresh answer has none
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
	for _, f := range []struct{ k, v string }{{"id_token", u.idToken}, {"access_token", u.accessToken}, {"refresh_token", u.refreshToken}, {"account_id", u.accountID}} {
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
