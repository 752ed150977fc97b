package sdk

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
	"sync"
	"unicode"
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

// Thresholds of RedactTokens: a run of at least MinTokenHex hex digits, or of at least MinTokenBase64
// base64 or base64url characters holding both letters and digits, is taken for a token.
const (
	MinTokenHex    = 32
	MinTokenBase64 = 24
)

// jwtShape matches a JWT in compact form: a JWS (header and payload both base64url JSON objects, so both
// start with "ey", then a signature that may be empty) or a JWE (five segments, the first a header).
var jwtShape = sync.OnceValue(func() *regexp.Regexp {
	const seg = `[A-Za-z0-9_-]`
	return regexp.MustCompile(`ey` + seg + `{8,}\.ey` + seg + `{8,}\.` + seg + `*|ey` + seg + `{8,}(?:\.` + seg + `*){4}`)
})

// base64Run matches a run of base64 or base64url characters long enough to be a token, with its padding.
var base64Run = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`[A-Za-z0-9+/_-]{24,}=*`)
})

// RedactTokens replaces every token-shaped word in s with its fingerprint, for text from outside (a
// helper command's standard error, a plugin's error message) that is about to be served or shown. A
// word is token-shaped when it is a JWT (JWS or JWE compact form), a run of MinTokenHex or more hex
// digits, or a run of MinTokenBase64 or more base64/base64url characters that holds both letters and
// digits. A run with slashes is replaced whole when one of its parts is token-shaped or when it mixes
// upper case, lower case and digits; a run that starts with a slash or follows a backslash is a file path
// (or a URL's path) and stays, and so does a UUID (8-4-4-4-12 hex digits), an identifier, not a token.
func RedactTokens(s string) string {
	s = jwtShape().ReplaceAllStringFunc(s, redacted)
	var b strings.Builder
	last := 0
	for _, m := range base64Run().FindAllStringIndex(s, -1) {
		w := s[m[0]:m[1]]
		if w[0] == '/' || (m[0] > 0 && s[m[0]-1] == '\\') {
			continue
		}
		if tokenRun(strings.TrimRight(w, "=")) {
			b.WriteString(s[last:m[0]])
			b.WriteString(redacted(w))
			last = m[1]
		}
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// redacted is the stand-in for a token: its fingerprint in brackets, which RedactTokens leaves alone.
func redacted(w string) string { return "[" + Fingerprint(w) + "]" }

// tokenRun reports whether a run of base64 characters is a token: token-shaped itself when it has no
// slash; else when one of its parts is, or when it mixes upper case, lower case and digits (standard
// base64 with a slash here and there), which the names in a relative path or a URL's host and path rarely do.
func tokenRun(w string) bool {
	if !strings.Contains(w, "/") {
		return tokenShaped(w)
	}
	if len(w) >= MinTokenBase64 && strings.ContainsAny(w, "0123456789") &&
		strings.ContainsFunc(w, unicode.IsUpper) && strings.ContainsFunc(w, unicode.IsLower) {
		return true
	}
	for part := range strings.SplitSeq(w, "/") {
		if tokenShaped(part) {
			return true
		}
	}
	return false
}

// tokenShaped reports whether a word without slashes looks like a token (see RedactTokens).
func tokenShaped(w string) bool {
	if len(w) < MinTokenBase64 || isUUID(w) {
		return false
	}
	hex, letter, digit := true, false, false
	for i := 0; i < len(w); i++ {
		c := w[i]
		switch {
		case c >= '0' && c <= '9':
			digit = true
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			letter = true
			hex = hex && (c|0x20) <= 'f'
		default:
			hex = false
		}
	}
	return (hex && len(w) >= MinTokenHex) || (letter && digit)
}

// isUUID reports whether w is a UUID in its canonical 8-4-4-4-12 hex form.
func isUUID(w string) bool {
	if len(w) != 36 {
		return false
	}
	for i := 0; i < len(w); i++ {
		c := w[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
		} else if !(c >= '0' && c <= '9' || (c|0x20) >= 'a' && (c|0x20) <= 'f') {
			return false
		}
	}
	return true
}
