package gateway

import (
	"context"

	"github.com/tokenhost/tokenhost/sdk"
)

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
