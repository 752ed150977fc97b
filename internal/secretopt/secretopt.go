// Package secretopt holds the host's rule for the secret indirections of a provider's options (X_env and
// X_file, where sdk.IsSecretKey(X)): which of them the host resolves at load time and which it passes to
// the plugin as they are.
package secretopt

import "strings"

// pluginRead are the indirection options (X_file, X_env) whose value the plugin reads itself, on every
// use, instead of the host resolving them once at load time: tokens that rotate on disk (a Kubernetes
// projected token, an assertion another program rewrites), keys a plugin loads in its own format, and
// sources an error message must be able to name.
var pluginRead = map[string]bool{
	"subject_token_file": true, "subject_token_env": true, "actor_token_file": true, "assertion_file": true,
	"private_key_file": true, "key_file": true, "key_env": true,
}

// PluginReads reports whether the host must pass the option key to the plugin as it is (a file path or a
// variable name the plugin reads when it needs the value) rather than resolving it at load time.
func PluginReads(key string) bool { return pluginRead[strings.ToLower(key)] }
