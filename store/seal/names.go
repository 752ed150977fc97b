package seal

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// nameHexLen is the length of the hash part of a store name in hex characters (128 bits).
const nameHexLen = 32

// Name returns the name under which a store keeps the value of the logical key name "provider/rest":
// "provider:" and an HMAC-SHA256 of name under the current key's naming subkey. A store's names thus
// show which providers it serves and nothing else, and only a holder of the key can tell which name a
// guessed key name has.
func (k *Keyring) Name(name string) string { return k.keys[0].name(name) }

// OlderNames returns the names under which a value of the logical key name may have been stored before:
// under each older key of the ring, in the ring's order, and last the unkeyed name of releases before
// names were keyed.
func (k *Keyring) OlderNames(name string) []string {
	out := make([]string, 0, len(k.keys))
	for _, rk := range k.keys[1:] {
		out = append(out, rk.name(name))
	}
	return append(out, legacyName(name))
}

// LeaseName returns the name under which a store keeps the lease of the logical key name: the unkeyed
// name (see legacyName) and ":lease", as releases before keyed names named it. It depends on no key, so
// every host of a fleet takes the same lease whichever keys it holds, during a rotation and during an
// upgrade alike. That leaks nothing a keyed name hides: a lease holds a random holder id, not a secret,
// and the name of a lease tokenhost takes, "<provider>/access-token", shows no more than the provider.
func LeaseName(name string) string { return legacyName(name) + ":lease" }

// name is the store name of name under rk.
func (rk *ringKey) name(name string) string {
	mac := hmac.New(sha256.New, rk.names)
	mac.Write([]byte(name))
	return providerOf(name) + ":" + hex.EncodeToString(mac.Sum(nil))[:nameHexLen]
}

// legacyName is the store name of name before names were keyed: an unkeyed SHA-256, which anyone can
// compute for a name they guess.
func legacyName(name string) string {
	sum := sha256.Sum256([]byte("tokenhost name\x00" + name))
	return providerOf(name) + ":" + hex.EncodeToString(sum[:nameHexLen/2])
}

// providerOf returns the provider part of a logical key name "provider/rest".
func providerOf(name string) string {
	provider, _, _ := strings.Cut(name, "/")
	return provider
}
