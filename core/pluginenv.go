package core

import (
	"strings"

	"github.com/tokenhost/tokenhost/internal/envpattern"
)

// baseEnv is the environment every plugin process gets, when the host has it: what any program needs to
// find its files, speak the user's locale and time zone, and reach the network through the machine's
// proxy and CA settings. A name ending in "*" is a prefix. Anything else reaches a plugin only when its
// built-in registration declares it (BuiltinEnv) or the provider's config lists it (env: [NAMES]).
var baseEnv = []string{
	"PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "LC_*", "TZ", "TMPDIR", "XDG_*",
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "SSL_CERT_FILE", "SSL_CERT_DIR",
	// Windows: where the system, the profile and the temporary directory are.
	"SYSTEMROOT", "SYSTEMDRIVE", "WINDIR", "USERPROFILE", "APPDATA", "LOCALAPPDATA", "TEMP", "TMP",
}

// hostOnlyPrefix marks the host's own variables (config overrides, internal switches): never passed on by
// a pattern, only go-plugin's handshake cookie and the built-in switch the host sets itself.
const hostOnlyPrefix = "TOKENHOST_"

// pluginEnv returns the variables of environ a plugin may see: those named by baseEnv or by one of the
// allow lists. Names compare case-insensitively (http_proxy is HTTP_PROXY), and TOKENHOST_* variables
// are never passed, whatever a list says.
func pluginEnv(environ []string, allow ...[]string) []string {
	var out []string
	for _, kv := range environ {
		name, _, ok := strings.Cut(kv, "=")
		if !ok || name == "" || strings.HasPrefix(strings.ToUpper(name), hostOnlyPrefix) {
			continue
		}
		if envpattern.Match(name, baseEnv) || anyAllowed(name, allow) {
			out = append(out, kv)
		}
	}
	return out
}

func anyAllowed(name string, lists [][]string) bool {
	for _, l := range lists {
		if envpattern.Match(name, l) {
			return true
		}
	}
	return false
}
