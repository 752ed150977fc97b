package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

// runCommand runs argv (no shell) with a minimal environment, no stdin, and a timeout, and returns its
// standard output. A failure names the command and quotes the first line of its standard error, cleaned.
func runCommand(ctx context.Context, argv, env []string, timeout time.Duration, option string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = minimalEnv(env)
	cmd.WaitDelay = time.Second // a helper's children holding the pipes open do not keep us waiting
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &limitWriter{w: &stdout, n: maxBody}
	cmd.Stderr = &limitWriter{w: &stderr, n: 4096}
	err := cmd.Run()
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		return nil, sdk.Unavailable("%s %s did not finish within %s; it was stopped (raise timeout if it is just slow)", option, argv[0], timeout)
	case errors.Is(err, exec.ErrNotFound), errors.Is(err, os.ErrNotExist):
		return nil, sdk.BadConfig(option, "cannot run %s: not found (give a full path or check PATH)", argv[0])
	case err != nil:
		first, _ := bufio.NewReader(&stderr).ReadString('\n')
		msg := tokenhttp.Clean(first, tokenhttp.MaxDescription, nil)
		if msg == "" {
			msg = "no message on stderr"
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nil, sdk.Unavailable("%s %s exited with status %d: %s", option, argv[0], ee.ExitCode(), msg)
		}
		return nil, sdk.BadConfig(option, "cannot run %s: %s", argv[0], tokenhttp.Clean(err.Error(), tokenhttp.MaxDescription, nil))
	}
	return stdout.Bytes(), nil
}

// limitWriter keeps the first n bytes written to it and drops the rest.
type limitWriter struct {
	w io.Writer
	n int
}

// Write keeps what fits and reports all of p written, so the command never blocks on a full pipe.
func (l *limitWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		_, _ = l.w.Write(p[:k])
		l.n -= k
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
		return tokenResponse{access: text, tokenType: "Bearer"}, nil
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
