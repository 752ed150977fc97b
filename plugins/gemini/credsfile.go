package gemini

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tokenhost/tokenhost/internal/fsmsg"
	"github.com/tokenhost/tokenhost/plugins/internal/credfile"
	"github.com/tokenhost/tokenhost/plugins/internal/tokenhttp"
	"github.com/tokenhost/tokenhost/sdk"
)

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

// parseCreds parses the contents of an oauth_creds.json. Its errors are *credfile.Problem values that never
// quote a value from the file.
func parseCreds(data []byte) (*credsFile, error) {
	doc, err := credfile.ParseObject(data)
	if err != nil {
		return nil, err
	}
	f := &credsFile{doc: doc}
	typ, err := credfile.OptString(doc, "type")
	if err != nil {
		return nil, err
	}
	if typ != "" {
		return nil, credfile.Corrupt("holds %s credentials (a \"type\" field), not a Gemini CLI sign-in; use source adc with adc_file set to this file", quoteType(typ))
	}
	for _, fl := range []struct {
		name string
		dst  *string
	}{{"access_token", &f.accessToken}, {"refresh_token", &f.refreshToken}, {"token_type", &f.tokenType}} {
		v, err := credfile.OptString(doc, fl.name)
		if err != nil {
			return nil, err
		}
		if tokenhttp.HasControl(v) || strings.ContainsAny(v, " \t") {
			return nil, credfile.Corrupt("has a %s with spaces or control characters", fl.name)
		}
		*fl.dst = v
	}
	if f.accessToken == "" && f.refreshToken == "" {
		return nil, credfile.NotSignedIn("holds neither an access_token nor a refresh_token")
	}
	if f.expiry, err = parseExpiry(doc["expiry_date"]); err != nil {
		return nil, err
	}
	return f, nil
}

// parseExpiry reads expiry_date: milliseconds since the epoch, possibly fractional, as a JSON number (or,
// leniently, a string holding one). Absent or null is the zero time.
func parseExpiry(raw json.RawMessage) (time.Time, error) {
	if raw == nil || credfile.IsNull(raw) {
		return time.Time{}, nil
	}
	text := string(bytes.TrimSpace(raw))
	if strings.HasPrefix(text, `"`) {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return time.Time{}, credfile.Corrupt("has an expiry_date that is not a number")
		}
		text = strings.TrimSpace(s)
	}
	ms, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsNaN(ms) || math.IsInf(ms, 0) {
		return time.Time{}, credfile.Corrupt("has an expiry_date that is not a number of milliseconds")
	}
	if ms < 0 || ms > maxExpiryMillis {
		return time.Time{}, credfile.Corrupt("has an expiry_date out of range")
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
	if tt, err := credfile.OptString(g.fields, "token_type"); err == nil && tt != "" {
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

// fileError turns a failure to read or parse the credential file at path into an error that names the file
// and says what to do next; next is the sign-in step for this kind of file.
func fileError(path string, err error, next string) error {
	var p *credfile.Problem
	switch {
	case errors.Is(err, os.ErrNotExist):
		return sdk.ReauthRequired("%s does not exist; %s", path, next)
	case errors.As(err, &p) && p.Reauth:
		return sdk.ReauthRequired("%s %s; %s", path, p.What, next)
	case errors.As(err, &p):
		return sdk.Internal("%s %s; fix or remove it, then %s", path, p.What, next)
	case errors.Is(err, credfile.ErrIsDir), errors.Is(err, credfile.ErrNotRegular):
		return sdk.Internal("%s %s", path, err)
	case errors.Is(err, os.ErrPermission):
		return sdk.Internal("cannot read %s: permission denied", path)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return sdk.Internal("cannot read %s: %s", path, fsmsg.Reason(err))
}
