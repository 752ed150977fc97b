package gemini

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/tokenhost/tokenhost/sdk"
)

// maxCredsFile bounds how much of a credential file is read; real files are a few kilobytes.
const maxCredsFile = 1 << 20

// readAttempts is how often a file that is empty or not valid JSON is read before it is reported: the
// Gemini CLI rewrites oauth_creds.json in place, so a reader can catch it half written.
const readAttempts = 3

// readRetryDelay is the pause between those reads.
const readRetryDelay = 25 * time.Millisecond

// maxExpiryMillis bounds expiry_date; beyond it the value is not a date.
const maxExpiryMillis = 1e15

// credsFile is a parsed oauth_creds.json. doc keeps every field as it was, so a rewrite changes only what
// the plugin sets.
type credsFile struct {
	doc map[string]json.RawMessage

	accessToken  string
	refreshToken string
	tokenType    string
	expiry       time.Time // zero when expiry_date is absent or null
}

// fileProblem is what is wrong with a credential file, without its path. reauth marks problems only signing
// in again fixes (as opposed to a damaged file).
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

// parseObject parses a JSON object, reporting problems as *fileProblem values that quote nothing from it.
func parseObject(data []byte) (map[string]json.RawMessage, error) {
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
	return doc, nil
}

// parseCreds parses the contents of an oauth_creds.json. Its errors are *fileProblem values that never
// quote a value from the file.
func parseCreds(data []byte) (*credsFile, error) {
	doc, err := parseObject(data)
	if err != nil {
		return nil, err
	}
	f := &credsFile{doc: doc}
	typ, err := optString(doc, "type")
	if err != nil {
		return nil, err
	}
	if typ != "" {
		return nil, corrupt("holds %s credentials (a \"type\" field), not a Gemini CLI sign-in; use source adc with adc_file set to this file", quoteType(typ))
	}
	for _, fl := range []struct {
		name string
		dst  *string
	}{{"access_token", &f.accessToken}, {"refresh_token", &f.refreshToken}, {"token_type", &f.tokenType}} {
		v, err := optString(doc, fl.name)
		if err != nil {
			return nil, err
		}
		if hasControl(v) || strings.ContainsAny(v, " \t") {
			return nil, corrupt("has a %s with spaces or control characters", fl.name)
		}
		*fl.dst = v
	}
	if f.accessToken == "" && f.refreshToken == "" {
		return nil, notSignedIn("holds neither an access_token nor a refresh_token")
	}
	if f.expiry, err = parseExpiry(doc["expiry_date"]); err != nil {
		return nil, err
	}
	return f, nil
}

// parseExpiry reads expiry_date: milliseconds since the epoch, possibly fractional, as a JSON number (or,
// leniently, a string holding one). Absent or null is the zero time.
func parseExpiry(raw json.RawMessage) (time.Time, error) {
	if raw == nil || isNull(raw) {
		return time.Time{}, nil
	}
	text := string(bytes.TrimSpace(raw))
	if strings.HasPrefix(text, `"`) {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return time.Time{}, corrupt("has an expiry_date that is not a number")
		}
		text = strings.TrimSpace(s)
	}
	ms, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsNaN(ms) || math.IsInf(ms, 0) {
		return time.Time{}, corrupt("has an expiry_date that is not a number of milliseconds")
	}
	if ms < 0 || ms > maxExpiryMillis {
		return time.Time{}, corrupt("has an expiry_date out of range")
	}
	sec := math.Floor(ms / 1000)
	nsec := int64(math.Round((ms - sec*1000) * 1e6))
	return time.Unix(int64(sec), nsec), nil
}

// usable reports whether the access token can be served: present, and not expiring within window (a token
// of unknown expiry is usable until the upstream rejects it).
func (f *credsFile) usable(now time.Time, window time.Duration) bool {
	return f.accessToken != "" && (f.expiry.IsZero() || f.expiry.Sub(now) > window)
}

// token returns the file's access token for the host.
func (f *credsFile) token(quotaProject string) sdk.Token {
	return sdk.Token{Value: f.accessToken, Type: tokenType(f.tokenType), Expiry: f.expiry, Headers: quotaHeaders(quotaProject)}
}

// grant is a successful refresh grant response.
type grant struct {
	accessToken  string
	refreshToken string // "" when the endpoint sent none
	expiresIn    time.Duration
	fields       map[string]json.RawMessage // token_type, scope, id_token as the endpoint sent them
}

// apply merges a refresh grant response into the file as the Gemini CLI would: the new access token and
// the fields that came with it replace the old ones, expires_in becomes expiry_date (integer milliseconds),
// the refresh token is kept unless a new one came back, and every other field stays as it was.
func (f *credsFile) apply(g *grant, now time.Time) {
	set := func(k string, v any) {
		b, _ := json.Marshal(v)
		f.doc[k] = b
	}
	set("access_token", g.accessToken)
	f.accessToken = g.accessToken
	if g.refreshToken != "" {
		set("refresh_token", g.refreshToken)
		f.refreshToken = g.refreshToken
	}
	for k, v := range g.fields {
		f.doc[k] = v
	}
	if tt, err := optString(g.fields, "token_type"); err == nil && tt != "" {
		f.tokenType = tt
	}
	delete(f.doc, "expires_in")
	if g.expiresIn > 0 {
		f.expiry = now.Add(g.expiresIn)
		f.doc["expiry_date"] = json.RawMessage(strconv.FormatInt(f.expiry.UnixMilli(), 10))
	} else {
		f.expiry = time.Time{}
		delete(f.doc, "expiry_date")
	}
}

// encode renders the file as the Gemini CLI writes it: two-space indented JSON (keys sorted).
func (f *credsFile) encode() ([]byte, error) {
	return json.MarshalIndent(f.doc, "", "  ")
}

// optString returns the string at key of m; absent and null are "", any other type is an error.
func optString(m map[string]json.RawMessage, key string) (string, error) {
	raw, ok := m[key]
	if !ok || isNull(raw) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", corrupt("has a non-string %s field", key)
	}
	return s, nil
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// hasControl reports whether s holds a character that cannot go into an HTTP header.
func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) })
}

// quoteType quotes a credential type from a file when it looks like one, and hides it otherwise.
func quoteType(t string) string {
	if len(t) > 40 || strings.ContainsFunc(t, func(r rune) bool { return !(r == '_' || r >= 'a' && r <= 'z') }) {
		return "an unknown kind of"
	}
	return strconv.Quote(t)
}

func tokenType(t string) string {
	if t == "" || strings.EqualFold(t, "bearer") {
		return "Bearer"
	}
	return t
}

func quotaHeaders(project string) map[string]string {
	if project == "" {
		return nil
	}
	return map[string]string{quotaHeader: project}
}

var (
	errIsDir      = errors.New("is a directory")
	errNotRegular = errors.New("is not a regular file")
)

// readLimited reads at most maxCredsFile bytes of the regular file at path.
func readLimited(path string) ([]byte, error) {
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
	data, err := io.ReadAll(io.LimitReader(f, maxCredsFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxCredsFile {
		return nil, corrupt("is larger than %d bytes, far more than a credential file holds", maxCredsFile)
	}
	return data, nil
}

// readWithRetry reads path and parses it with parse, reading again (a few times, briefly apart) when the
// file is empty or not valid JSON, as a file caught while another program rewrites it in place is.
func readWithRetry[T any](ctx context.Context, path string, parse func([]byte) (T, error)) (T, error) {
	var zero T
	var lastErr error
	for attempt := range readAttempts {
		if attempt > 0 {
			t := time.NewTimer(readRetryDelay)
			select {
			case <-ctx.Done():
				t.Stop()
				return zero, ctx.Err()
			case <-t.C:
			}
		}
		data, err := readLimited(path)
		if err != nil {
			return zero, err
		}
		v, err := parse(data)
		if err == nil {
			return v, nil
		}
		lastErr = err
		var p *fileProblem
		if !errors.As(err, &p) || !p.partial {
			break
		}
	}
	return zero, lastErr
}

// fileError turns a failure to read or parse the credential file at path into an error that names the file
// and says what to do next; next is the sign-in step for this kind of file.
func fileError(path string, err error, next string) error {
	var p *fileProblem
	switch {
	case errors.Is(err, os.ErrNotExist):
		return sdk.ReauthRequired("%s does not exist; %s", path, next)
	case errors.As(err, &p) && p.reauth:
		return sdk.ReauthRequired("%s %s; %s", path, p.what, next)
	case errors.As(err, &p):
		return &sdk.Error{Kind: sdk.KindInternal, Message: fmt.Sprintf("%s %s; fix or remove it, then %s", path, p.what, next)}
	case errors.Is(err, errIsDir), errors.Is(err, errNotRegular):
		return &sdk.Error{Kind: sdk.KindInternal, Message: fmt.Sprintf("%s %s", path, err)}
	case errors.Is(err, os.ErrPermission):
		return &sdk.Error{Kind: sdk.KindInternal, Message: fmt.Sprintf("cannot read %s: permission denied", path)}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return &sdk.Error{Kind: sdk.KindInternal, Message: fmt.Sprintf("cannot read %s: %s", path, pathErrReason(err))}
}

// pathErrReason returns an OS error's reason without the path it carries.
func pathErrReason(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err.Error()
	}
	return err.Error()
}

// writeAtomic replaces path with data: a temporary file in the same directory is written, synced and set
// to mode 0600, beforeRename (a test hook, normally nil) runs, the file is renamed over path, and the
// directory is synced. A failure at any step leaves path as it was and removes the temporary file.
func writeAtomic(path string, data []byte, beforeRename func(tmp string) error) (err error) {
	if real, rerr := filepath.EvalSymlinks(path); rerr == nil {
		path = real // replace the file a symlink points at, not the link
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(name)
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Chmod(0o600); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if beforeRename != nil {
		if err = beforeRename(name); err != nil {
			return err
		}
	}
	if err = os.Rename(name, path); err != nil {
		return err
	}
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync() // durability of the rename; not every file system supports it
		_ = d.Close()
	}
	return nil
}
