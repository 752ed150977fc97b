// Package seal encrypts what tokenhost writes to a shared store (AES-256-GCM) and hides the store's key
// names behind hashes, so that a store dump reveals provider names at most.
//
// It uses only the standard library: crypto/aes and crypto/cipher give an authenticated cipher with a
// constant-time implementation, and a random 96-bit nonce per value is safe for the number of writes a
// token store makes under one key, so a third-party crypto library would add dependencies and nothing else.
//
// A sealed value is "th1." + key id (8 hex characters) + "." + nonce + ciphertext, the ciphertext bound
// to the value's logical key name (as GCM's additional data) so a value copied under another name does not
// open. Keys rotate through a Keyring: the first key seals, every key opens what it sealed.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the length of an encryption key in bytes (AES-256).
const KeySize = 32

// prefix starts every sealed value, versioning the format.
const prefix = "th1."

// idLen is the length of a key id in hex characters.
const idLen = 8

// ErrWrongKey is wrapped by Open when a value was sealed with a key the keyring does not hold, or when the
// value does not authenticate under the key it names.
var ErrWrongKey = errors.New("the value was sealed with a different encryption key")

// Keyring holds the current encryption key, which seals new values, and older keys that still open
// values sealed before a rotation.
type Keyring struct {
	current string
	aeads   map[string]cipher.AEAD
}

// NewKey returns a new random key in standard base64, the form ParseKey and the configuration expect.
func NewKey() (string, error) {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return "", fmt.Errorf("generating an encryption key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(k), nil
}

// ParseKeys builds a keyring from base64 keys separated by commas, spaces or newlines; the first one is
// the current key. Errors never contain key material.
func ParseKeys(text string) (*Keyring, error) {
	fields := strings.FieldsFunc(text, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
	if len(fields) == 0 {
		return nil, errors.New("no encryption key given; create one with `tokenhost store keygen`")
	}
	kr := &Keyring{aeads: map[string]cipher.AEAD{}}
	for i, f := range fields {
		raw, err := base64.StdEncoding.DecodeString(f)
		if err != nil || len(raw) != KeySize {
			return nil, fmt.Errorf("encryption key %d of %d is not %d bytes in standard base64 (got %s); create one with `tokenhost store keygen`",
				i+1, len(fields), KeySize, describe(raw, err))
		}
		id := KeyID(raw)
		block, _ := aes.NewCipher(raw) // cannot fail: the length is checked above
		aead, _ := cipher.NewGCM(block)
		kr.aeads[id] = aead
		if i == 0 {
			kr.current = id
		}
	}
	return kr, nil
}

// describe says what was wrong with a key without showing it.
func describe(raw []byte, err error) string {
	if err != nil {
		return "text that is not base64"
	}
	return fmt.Sprintf("%d bytes", len(raw))
}

// KeyID is the public identifier of a key: the first 4 bytes of its SHA-256, in hex.
func KeyID(key []byte) string {
	sum := sha256.Sum256(append([]byte("tokenhost key id\x00"), key...))
	return hex.EncodeToString(sum[:idLen/2])
}

// Current returns the id of the key that seals new values.
func (k *Keyring) Current() string { return k.current }

// Seal encrypts value under the current key, bound to the logical key name.
func (k *Keyring) Seal(name string, value []byte) ([]byte, error) {
	aead := k.aeads[k.current]
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("sealing %s: %w", name, err)
	}
	out := make([]byte, 0, len(prefix)+idLen+1+len(nonce)+len(value)+aead.Overhead())
	out = append(out, prefix...)
	out = append(out, k.current...)
	out = append(out, '.')
	out = append(out, nonce...)
	return aead.Seal(out, nonce, value, []byte(name)), nil
}

// Open decrypts a value Seal produced for the logical key name, with whichever key of the ring sealed it.
func (k *Keyring) Open(name string, sealed []byte) ([]byte, error) {
	head := len(prefix) + idLen + 1
	if len(sealed) < head || string(sealed[:len(prefix)]) != prefix || sealed[head-1] != '.' {
		return nil, fmt.Errorf("opening %s: the stored value is not a sealed tokenhost value (written by something else?)", name)
	}
	id := string(sealed[len(prefix) : head-1])
	aead, ok := k.aeads[id]
	if !ok {
		return nil, fmt.Errorf("opening %s: %w (key id %s, which the configured keys do not include; add the old key after the current one)", name, ErrWrongKey, id)
	}
	body := sealed[head:]
	if len(body) < aead.NonceSize()+aead.Overhead() {
		return nil, fmt.Errorf("opening %s: the stored value is truncated", name)
	}
	plain, err := aead.Open(nil, body[:aead.NonceSize()], body[aead.NonceSize():], []byte(name))
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w (key id %s does not authenticate it: tampered with, or stored under another name)", name, ErrWrongKey, id)
	}
	return plain, nil
}

// HideName maps a logical key name "provider/rest" to "provider:" + a hash of rest, so a store's key names
// show which providers it serves and nothing else. The hash is unkeyed so that it survives key rotation;
// it hides names such as a user's e-mail address from a casual dump, not from someone who can guess them.
func HideName(name string) string {
	provider, _, _ := strings.Cut(name, "/")
	sum := sha256.Sum256([]byte("tokenhost name\x00" + name))
	return provider + ":" + hex.EncodeToString(sum[:16])
}
