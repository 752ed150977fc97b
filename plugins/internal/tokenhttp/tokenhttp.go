// Package tokenhttp holds what the plugins that call an OAuth token endpoint share: the check of a token
// endpoint URL, their HTTP client, and the pieces of error messages about an endpoint's answer or failure,
// none of which quotes a secret, a URL's query or a response body.
package tokenhttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tokenhost/tokenhost/internal/netaddr"
	"github.com/tokenhost/tokenhost/sdk"
	"github.com/tokenhost/tokenhost/sdk/tokenkit"
)

// MaxDescription is how much of an endpoint's error_description a message quotes.
const MaxDescription = 200

// ErrUserInfo is CheckURL's error for a URL that carries a user name or password.
var ErrUserInfo = errors.New("must not carry credentials")

// CheckURL validates raw as an absolute https URL (plain http only for loopback hosts) without user
// information or a #fragment, and returns its Display form. Its errors are phrases that follow the option's
// name ("must not have a #fragment"); example is the URL suggested when raw is not an absolute URL.
func CheckURL(raw, example string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return "", fmt.Errorf("must be an absolute https URL such as %s", example)
	}
	if u.User != nil {
		return "", ErrUserInfo
	}
	if u.Fragment != "" {
		return "", errors.New("must not have a #fragment")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !netaddr.IsLoopback(u.Hostname()) {
			return "", fmt.Errorf("must be an https URL (plain http is accepted only for loopback hosts), got http://%s", u.Host)
		}
	default:
		return "", fmt.Errorf("must be an https URL, got scheme %q", u.Scheme)
	}
	return tokenkit.Display(raw), nil
}

// NewTransport returns a fresh transport with the settings of http.DefaultTransport (proxies from the
// environment), so a plugin shares no connections with anyone else.
func NewTransport() http.RoundTripper {
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		return t.Clone()
	}
	return &http.Transport{Proxy: http.ProxyFromEnvironment}
}

// NewClient returns a client that sends through rt, gives up on a request after timeout, and follows no
// redirect, so credentials never follow one.
func NewClient(rt http.RoundTripper, timeout time.Duration) *http.Client {
	return &http.Client{
		Transport: rt,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// IsTimeout reports whether a request failed because a deadline or timeout passed.
func IsTimeout(err error) bool {
	var ue *url.Error
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ue) && ue.Timeout()) || (errors.As(err, &ne) && ne.Timeout())
}

// ErrTooLarge is ReadBody's error for an answer longer than its limit.
var ErrTooLarge = errors.New("answer too large")

// ReadBody reads all of r up to max bytes; a longer answer is ErrTooLarge, never cut short, so nothing
// (a token in a form-encoded answer) is taken from a truncated body.
func ReadBody(r io.Reader, max int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, ErrTooLarge
	}
	return data, nil
}

// DescribeType names the media type of a Content-Type header for a message.
func DescribeType(ct string) string {
	if ct == "" {
		return "no content type"
	}
	if mt, _, err := mime.ParseMediaType(ct); err == nil {
		return mt
	}
	return "an invalid content type"
}

// NetReason returns the most useful part of a transport error, without the URL.
func NetReason(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Op + " " + op.Net + ": " + op.Err.Error()
	}
	if err == nil {
		return "unknown error"
	}
	return err.Error()
}

// Clean makes text from outside safe to quote: secrets redacted, control characters dropped, at most max
// runes.
func Clean(s string, max int, secrets []string) string {
	s = sdk.RedactString(s, secrets...)
	var b strings.Builder
	n := 0
	for _, r := range s {
		if r == utf8.RuneError || (unicode.IsControl(r) && r != ' ') {
			r = ' '
		}
		if n == max {
			b.WriteString("…")
			break
		}
		b.WriteRune(r)
		n++
	}
	return strings.TrimSpace(b.String())
}

// HasControl reports whether s holds a character that cannot go into an HTTP header.
func HasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) })
}
