package gateway

import (
	"path/filepath"

	"github.com/tokenhost/tokenhost/sdk"
)

// identity returns what, beside the options, decides whose token the configuration gets (sdk.Info's
// IdentityFrom): the client's key files, the stored sign-in's file, the files and variables a subject
// token, actor token, assertion or key is read from. opaque is true when the host's token cache cannot
// see it: a helper command (its own sign-in lives wherever the command keeps it) or a sign-in kept in a
// fleet store.
func (c *config) identity() (from []sdk.IdentitySource, opaque bool) {
	for _, f := range c.keyFiles {
		from = append(from, identityFile(f))
	}
	switch g := c.grant.(type) {
	case clientCredentials, *mcpClientCredentials:
	case *storedGrant:
		if c.fleet {
			return nil, true
		}
		from = append(from, identityFile(g.file.path))
		if g.defaulted {
			from = append(from, sdk.IdentityEnv("XDG_STATE_HOME", "HOME", "USERPROFILE")...)
		}
	case *tokenExchange:
		for _, src := range []secretSource{g.subject, g.actor} {
			if len(src.command) > 0 {
				return nil, true
			}
			from = append(from, src.identity()...)
		}
	case *jwtBearer:
		from = append(from, g.file.identity()...)
	case *static:
		from = append(from, g.src.identity()...)
	default: // exec, or a grant this switch does not know yet
		return nil, true
	}
	return from, false
}

// identity names the file or variable s reads.
func (s secretSource) identity() []sdk.IdentitySource {
	switch {
	case s.file != "":
		return []sdk.IdentitySource{identityFile(s.file)}
	case s.env != "":
		return sdk.IdentityEnv(s.env)
	}
	return nil
}

// identityFile names path, made absolute against the plugin's working directory (the host's).
func identityFile(path string) sdk.IdentitySource {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	return sdk.IdentityFile(path)
}
