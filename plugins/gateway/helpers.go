package gateway

import (
	"context"
	"errors"
	"strings"
	"time"

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

// static serves a key from the environment or a file; it cannot make a new one.
type static struct{ src secretSource }

func parseStatic(o sdk.Options, c *config) (grant, error) {
	src, err := parseSource(o, "key", true, false, c.timeout)
	if err != nil {
		return nil, err
	}
	if src.option == "" {
		return nil, sdk.BadConfig("key_env", "grant static needs a key: key_env (an environment variable name) or key_file")
	}
	return &static{src: src}, nil
}

func (*static) name() string { return grantStatic }

// fetch reads the key; after a rejection it reads again and returns the key only if it changed.
func (g *static) fetch(ctx context.Context, c *config, stale string) (sdk.Token, error) {
	k, err := g.src.read(ctx)
	if err != nil {
		return sdk.Token{}, err
	}
	if len(k) > sdk.MaxTokenBytes {
		return sdk.Token{}, sdk.BadConfig(g.src.option, "%s holds %d bytes, more than the %d a key may have; check that it holds the key alone", g.src.describe(), len(k), sdk.MaxTokenBytes)
	}
	if stale != "" && k == stale {
		return sdk.Token{}, sdk.ReauthRequired("the upstream rejected the key from %s, and tokenhost cannot make a new one; put a valid key in %s (%s)", g.src.describe(), g.src.describe(), g.src.option)
	}
	return sdk.Token{Value: k, Headers: c.headers}, nil
}

func (g *static) refused(string, string) error { return nil }

// asFailure is errors.As for *failure.
func asFailure(err error, f **failure) bool { return errors.As(err, f) }

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
