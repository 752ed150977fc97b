package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/tokenhost/tokenhost/plugins/internal/tokenhttp"
	"github.com/tokenhost/tokenhost/sdk"
)

// helperEnv are the environment variables a helper command inherits; nothing else of the plugin's
// environment (which may hold other providers' secrets) reaches it.
var helperEnv = []string{"PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "TMPDIR",
	"XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR", "KUBECONFIG", "AZURE_CONFIG_DIR",
	"HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "https_proxy", "http_proxy", "no_proxy", "SSL_CERT_FILE"}

// minimalEnv returns the helper environment: helperEnv and the names in extra, as far as they are set.
func minimalEnv(extra []string) []string {
	var env []string
	for _, k := range append(helperEnv[:len(helperEnv):len(helperEnv)], extra...) {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// Limits on what a helper prints: more on standard output is an error (a token is never cut short); of
// standard error, the first line of what fits is quoted.
const (
	maxHelperOutput = 1 << 20
	maxHelperStderr = 4096
)

// runCommand runs argv (no shell) with a minimal environment, no stdin, and a timeout, in a process group
// of its own that is killed whole when the timeout passes or the caller gives up, and returns its standard
// output. A failure names the command and quotes the first line of its standard error with token-shaped
// words redacted; the plugin's log keeps that line whole.
func runCommand(ctx context.Context, argv, env []string, timeout time.Duration, option string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = minimalEnv(env)
	helperGroup(cmd)
	cmd.WaitDelay = time.Second // a helper's children holding the pipes open do not keep us waiting
	var stdout, stderr bytes.Buffer
	out := &limitWriter{w: &stdout, n: maxHelperOutput, full: cancel}
	cmd.Stdout = out
	cmd.Stderr = &limitWriter{w: &stderr, n: maxHelperStderr}
	err := cmd.Run()
	switch {
	case out.over:
		return nil, sdk.Unavailable("%s %s printed more than %d bytes (1 MiB) on standard output and was stopped; a token is at most %d bytes: check what it prints",
			option, argv[0], maxHelperOutput, sdk.MaxTokenBytes)
	case ctx.Err() == context.DeadlineExceeded:
		return nil, sdk.Unavailable("%s %s did not finish within %s; it was stopped (raise timeout if it is just slow)", option, argv[0], timeout)
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.Is(err, exec.ErrNotFound), errors.Is(err, os.ErrNotExist):
		return nil, sdk.BadConfig(option, "cannot run %s: not found (give a full path or check PATH)", argv[0])
	case err != nil:
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return nil, sdk.BadConfig(option, "cannot run %s: %s", argv[0], tokenhttp.Clean(err.Error(), tokenhttp.MaxDescription, nil))
		}
		first, _ := bufio.NewReader(&stderr).ReadString('\n')
		// The local log gets the longer line (for diagnosis), still without token-shaped words: nothing a
		// helper prints reaches a log, an error or a served page as a credential.
		slog.Warn("gateway: helper command failed", "option", option, "command", argv[0], "status", ee.ExitCode(),
			"stderr", tokenhttp.Clean(sdk.RedactTokens(first), maxHelperStderr, nil))
		msg := tokenhttp.Clean(sdk.RedactTokens(first), tokenhttp.MaxDescription, nil)
		if msg == "" {
			msg = "no message on stderr"
		}
		return nil, sdk.Unavailable("%s %s exited with status %d: %s", option, argv[0], ee.ExitCode(), msg)
	}
	return stdout.Bytes(), nil
}

// limitWriter keeps the first n bytes written to it, drops the rest, and notes that it did.
type limitWriter struct {
	w    io.Writer
	n    int
	over bool
	full func() // called once when something is dropped; nil: nothing
}

// Write keeps what fits and reports all of p written, so the command never blocks on a full pipe.
func (l *limitWriter) Write(p []byte) (int, error) {
	k := min(len(p), l.n)
	if k > 0 {
		_, _ = l.w.Write(p[:k])
		l.n -= k
	}
	if k < len(p) && !l.over {
		l.over = true
		if l.full != nil {
			l.full()
		}
	}
	return len(p), nil
}

// helperOutput is the JSON shapes a helper may print, decoded at once.
type helperOutput struct {
	// Generic and credential_process style.
	AccessToken string          `json:"access_token"`
	Token       string          `json:"token"`
	ExpiresIn   json.RawMessage `json:"expires_in"`
	ExpiresAt   json.RawMessage `json:"expires_at"`
	Expiry      json.RawMessage `json:"expiry"`
	Expiration  json.RawMessage `json:"Expiration"`
	// client-go ExecCredential.
	Kind   string `json:"kind"`
	Status *struct {
		Token               string `json:"token"`
		ExpirationTimestamp string `json:"expirationTimestamp"`
	} `json:"status"`
	// az account get-access-token -o json.
	AZToken     string          `json:"accessToken"`
	AZExpiresOn string          `json:"expiresOn"`
	AZExpiresAt json.RawMessage `json:"expires_on"`
}

// azLocalTime is the layout of az's expiresOn: local time without a zone.
const azLocalTime = "2006-01-02 15:04:05.999999"

// parseHelperOutput reads what a helper printed: a bare one-line token, or JSON. Its errors describe the
// output without quoting it.
func parseHelperOutput(out []byte, now time.Time) (tokenResponse, error) {
	text := strings.TrimSpace(string(out))
	if text == "" {
		return tokenResponse{}, errors.New("nothing")
	}
	if !strings.HasPrefix(text, "{") {
		if strings.ContainsAny(text, " \t\r\n") || tokenhttp.HasControl(text) {
			return tokenResponse{}, errors.New("more than one word and no JSON object")
		}
		return checkLength(tokenResponse{access: text, tokenType: "Bearer"})
	}
	var h helperOutput
	if err := json.Unmarshal([]byte(text), &h); err != nil {
		return tokenResponse{}, errors.New("JSON that cannot be read")
	}
	tr := tokenResponse{tokenType: "Bearer"}
	var err error
	switch {
	case h.Status != nil && h.Status.Token != "":
		tr.access = h.Status.Token
		if h.Status.ExpirationTimestamp != "" {
			if tr.expiry, err = time.Parse(time.RFC3339, h.Status.ExpirationTimestamp); err != nil {
				return tokenResponse{}, errors.New("an ExecCredential whose status.expirationTimestamp is not RFC 3339")
			}
		}
	case h.AZToken != "":
		tr.access = h.AZToken
		switch {
		case len(h.AZExpiresAt) > 0:
			tr.expiry, err = readExpiry(jsonValue(h.AZExpiresAt), expiryUnix, now)
		case h.AZExpiresOn != "":
			tr.expiry, err = time.ParseInLocation(azLocalTime, h.AZExpiresOn, time.Local)
		}
		if err != nil {
			return tokenResponse{}, errors.New("az output whose expiry cannot be read")
		}
	case h.AccessToken != "" || h.Token != "":
		tr.access = h.AccessToken
		if tr.access == "" {
			tr.access = h.Token
		}
		switch {
		case len(h.ExpiresIn) > 0:
			tr.expiry, err = readExpiry(jsonValue(h.ExpiresIn), expirySeconds, now)
		case len(h.ExpiresAt) > 0:
			tr.expiry, err = readFlexibleTime(jsonValue(h.ExpiresAt), now)
		case len(h.Expiry) > 0:
			tr.expiry, err = readFlexibleTime(jsonValue(h.Expiry), now)
		case len(h.Expiration) > 0:
			tr.expiry, err = readFlexibleTime(jsonValue(h.Expiration), now)
		}
		if err != nil {
			return tokenResponse{}, fmt.Errorf("JSON whose expiry %s", err)
		}
	default:
		return tokenResponse{}, errors.New("JSON without access_token, token, status.token or accessToken")
	}
	if tokenhttp.HasControl(tr.access) {
		return tokenResponse{}, errors.New("a token with control characters")
	}
	return checkLength(tr)
}

// checkLength refuses a token longer than sdk.MaxTokenBytes; its error is a phrase that quotes nothing.
func checkLength(tr tokenResponse) (tokenResponse, error) {
	if len(tr.access) > sdk.MaxTokenBytes {
		return tokenResponse{}, fmt.Errorf("a token of %d bytes, more than the %d a token may have", len(tr.access), sdk.MaxTokenBytes)
	}
	return tr, nil
}

// readFlexibleTime reads an RFC 3339 string or Unix seconds.
func readFlexibleTime(v any, now time.Time) (time.Time, error) {
	if s, ok := v.(string); ok && strings.ContainsAny(s, "-:T") {
		return readExpiry(s, expiryRFC3339, now)
	}
	return readExpiry(v, expiryUnix, now)
}

func jsonValue(raw json.RawMessage) any {
	var v any
	_ = json.Unmarshal(raw, &v)
	return v
}
