// Package sealtest writes and reads what tokenhost wrote before store names were keyed and sealed values
// carried versions — th1 values under unkeyed names — for tests of upgrades. It repeats that format here
// rather than keeping a way to write it in store/seal, which only reads it.
package sealtest

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
)

// v1 returns the th1 cipher of key (standard base64) and its key id.
func v1(t testing.TB, key string) (cipher.AEAD, string) {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(key)
	if err != nil {
		t.Fatal(err)
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	id := sha256.Sum256(append([]byte("tokenhost key id\x00"), raw...))
	return aead, hex.EncodeToString(id[:4])
}

// OpenV1 opens sealed, stored for the logical key name, as releases before versioned values did: a th1
// value under key (standard base64), and for anything else the errors they gave.
func OpenV1(t testing.TB, key, name string, sealed []byte) ([]byte, error) {
	t.Helper()
	aead, id := v1(t, key)
	head := len("th1.") + len(id) + 1
	if len(sealed) < head || string(sealed[:len("th1.")]) != "th1." || sealed[head-1] != '.' {
		return nil, fmt.Errorf("opening %s: the stored value is not a sealed tokenhost value (written by something else?)", name)
	}
	if got := string(sealed[len("th1.") : head-1]); got != id {
		return nil, fmt.Errorf("opening %s: the value was sealed with a different encryption key (key id %s)", name, got)
	}
	body := sealed[head:]
	if len(body) < aead.NonceSize()+aead.Overhead() {
		return nil, fmt.Errorf("opening %s: the stored value is truncated", name)
	}
	return aead.Open(nil, body[:aead.NonceSize()], body[aead.NonceSize():], []byte(name))
}

// SealV1 seals value for the logical key name in the th1 format under key (standard base64):
// "th1." + key id + "." + nonce + AES-256-GCM ciphertext under the key itself, bound to name.
func SealV1(t testing.TB, key, name string, value []byte) []byte {
	t.Helper()
	aead, id := v1(t, key)
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	out := append([]byte("th1."+id+"."), nonce...)
	return aead.Seal(out, nonce, value, []byte(name))
}

// LegacyName is the unkeyed store name of the logical key name "provider/rest": "provider:" and 16
// bytes of a SHA-256 of it, in hex.
func LegacyName(name string) string {
	provider, _, _ := strings.Cut(name, "/")
	sum := sha256.Sum256([]byte("tokenhost name\x00" + name))
	return provider + ":" + hex.EncodeToString(sum[:16])
}
