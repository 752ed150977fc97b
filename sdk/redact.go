package sdk

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Fingerprint returns a short, non-reversible label for a secret, safe for logs ("sha256:1a2b3c4d").
func Fingerprint(secret string) string {
	if secret == "" {
		return "<empty>"
	}
	sum := sha256.Sum256([]byte(secret))
	return "sha256:" + hex.EncodeToString(sum[:4])
}

// secretWords are the name parts that mark a configuration key as holding a secret.
var secretWords = []string{"secret", "password", "passphrase", "api_key", "apikey", "private_key", "assertion"}

// IsSecretKey reports whether an option named key holds a secret: its value is redacted wherever it could
// be shown, and the host resolves key_env and key_file indirections for it.
func IsSecretKey(key string) bool {
	k := strings.ToLower(key)
	if k == "key" || k == "token" || strings.HasSuffix(k, "_token") || strings.HasSuffix(k, "_key") {
		return true
	}
	for _, w := range secretWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// RedactString replaces every occurrence of each non-empty secret in s with its fingerprint.
func RedactString(s string, secrets ...string) string {
	for _, sec := range secrets {
		if len(sec) >= 4 && strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, "["+Fingerprint(sec)+"]")
		}
	}
	return s
}

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
