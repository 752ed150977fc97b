// Package sealtest writes what tokenhost wrote before store names were keyed and sealed values carried
// versions — th1 values under unkeyed names — for tests of upgrades. It repeats that format here rather
// than keeping a way to write it in store/seal, which only reads it.
package sealtest

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
)

// SealV1 seals value for the logical key name in the th1 format under key (standard base64):
// "th1." + key id + "." + nonce + AES-256-GCM ciphertext under the key itself, bound to name.
func SealV1(t testing.TB, key, name string, value []byte) []byte {
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
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	out := append([]byte("th1."+hex.EncodeToString(id[:4])+"."), nonce...)
	return aead.Seal(out, nonce, value, []byte(name))
}

// LegacyName is the unkeyed store name of the logical key name "provider/rest": "provider:" and 16
// bytes of a SHA-256 of it, in hex.
func LegacyName(name string) string {
	provider, _, _ := strings.Cut(name, "/")
	sum := sha256.Sum256([]byte("tokenhost name\x00" + name))
	return provider + ":" + hex.EncodeToString(sum[:16])
}
