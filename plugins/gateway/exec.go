package gateway

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/tokenhost/tokenhost/plugins/internal/tokenhttp"
	"github.com/tokenhost/tokenhost/sdk"
)

// execGrant runs a helper command that prints a token.
type execGrant struct {
	argv     []string
	env      []string
	timeout  time.Duration
	cacheFor time.Duration // lifetime given to a token printed without an expiry (0: until rejected)
}

func parseExec(o sdk.Options, c *config) (grant, error) {
	argv, err := o.Strings("command")
	if err != nil {
		return nil, err
	}
	if len(argv) == 0 || argv[0] == "" {
		return nil, sdk.BadConfig("command", "is required: the helper's argv, e.g. [corp-cli, token, --json] (run without a shell)")
	}
	cacheFor, err := o.Duration("cache_for", 0)
	if err != nil {
		return nil, err
	}
	if cacheFor < 0 {
		return nil, sdk.BadConfig("cache_for", "must not be negative")
	}
	env, err := helperEnvOption(o)
	if err != nil {
		return nil, err
	}
	return &execGrant{argv: argv, env: env, timeout: c.timeout, cacheFor: cacheFor}, nil
}

func (*execGrant) name() string { return grantExec }

func (g *execGrant) fetch(ctx context.Context, c *config, _ string) (sdk.Token, error) {
	out, err := runCommand(ctx, g.argv, g.env, g.timeout, "command")
	if err != nil {
		return sdk.Token{}, err
	}
	now := time.Now()
	tr, err := parseHelperOutput(out, now)
	if err != nil {
		return sdk.Token{}, sdk.Unavailable("command %s printed %s; it must print a token, a JSON object with access_token or token, an ExecCredential or az's JSON", g.argv[0], err)
	}
	if tr.expiry.IsZero() && g.cacheFor > 0 {
		tr.expiry = now.Add(g.cacheFor)
	}
	return c.toToken(tr), nil
}

func (g *execGrant) refused(ep, detail string) error {
	return sdk.Unavailable("%s refused the helper's token (%s)", ep, detail)
}

// helperEnvOption reads helper_env: names of environment variables a helper command sees beyond the
// minimal set.
func helperEnvOption(o sdk.Options) ([]string, error) {
	names, err := o.Strings("helper_env")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		if n == "" || strings.ContainsAny(n, "= \t") {
			return nil, sdk.BadConfig("helper_env", "%q is not an environment variable name", n)
		}
	}
	return names, nil
}

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
