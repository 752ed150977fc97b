// Package seal encrypts what tokenhost writes to a shared store (AES-256-GCM), hides the store's key
// names behind keyed hashes, and lets a process refuse a value that was rolled back.
//
// It uses only the standard library: crypto/aes and crypto/cipher give an authenticated cipher with a
// constant-time implementation, crypto/hkdf and crypto/hmac derive and use subkeys, and a random 96-bit
// nonce per value is safe for the number of writes a token store makes under one key, so a third-party
// crypto library would add dependencies and nothing else.
//
// Keys. HKDF-SHA256 derives two subkeys from each configured key, with different labels: one seals
// values, the other keys the HMAC-SHA256 that names them, so without the key no one can tell which
// logical key name a store name stands for, even by guessing names. Keys rotate through a Keyring: the
// first key seals and names, every key opens what it sealed, and OlderNames lists where a value may still
// be after a rotation or an upgrade (the names under the older keys, then the unkeyed name of releases
// before names were keyed). Leases are named without a key (LeaseName), so that hosts that disagree on
// the keys still take one lease.
//
// Format. A sealed value is "th2." + key id (8 hex characters) + "." + nonce + ciphertext. Its plaintext
// starts with a header (Meta): whether the value was written with an expiry, when the key's chain of
// versions started, and the value's version in that chain. The ciphertext is bound to the value's logical
// key name (as GCM's additional data), so a value copied under another name does not open. Values of the
// earlier format "th1." (sealed with the key itself, no header) still open, as version 0. A tombstone is a
// th2 value whose header says "moved" (Meta.Moved): it is left where a value was, so that a host whose
// names still point there learns that the value moved, and under which key, instead of finding nothing.
// Releases that open only th1 values fail on it with an error.
//
// Rollback. Someone who can write to the store but does not hold the key cannot forge a value, but can
// write back a value they copied earlier. Versions is a process's memory of the newest value it opened or
// wrote per key, and refuses an older one (its documentation gives the rule). Its limits: a process that
// never saw the newer value (a host started after it was overwritten, or restarted since) cannot tell and
// takes the old one; the memory lasts as long as the process; for a key written with an expiry, a value
// of an earlier chain is taken (the key may have expired and been written afresh by a host that knew
// nothing of it), so such keys are protected within one chain only; and deleting values is always
// possible for whoever can write to the store.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
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

// The HKDF labels of the two subkeys of a key.
const (
	sealLabel = "tokenhost th2 seal"
	nameLabel = "tokenhost th2 names"
)

// ErrWrongKey is wrapped by Open when a value was sealed with a key the keyring does not hold, or when the
// value does not authenticate under the key it names.
var ErrWrongKey = errors.New("the value was sealed with a different encryption key")

// Keyring holds the current encryption key, which seals and names new values, and older keys that still
// open values sealed, and find values named, before a rotation.
type Keyring struct {
	keys []*ringKey // the current key first, then the older ones, each once
	byID map[string]*ringKey
}

// ringKey is one key of a ring with what is derived from it.
type ringKey struct {
	id    string
	th1   cipher.AEAD // the key itself: opens values of the th1 format
	th2   cipher.AEAD // the sealing subkey
	names []byte      // the naming subkey
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
	kr := &Keyring{byID: map[string]*ringKey{}}
	for i, f := range fields {
		raw, err := base64.StdEncoding.DecodeString(f)
		if err != nil || len(raw) != KeySize {
			return nil, fmt.Errorf("encryption key %d of %d is not %d bytes in standard base64 (got %s); create one with `tokenhost store keygen`",
				i+1, len(fields), KeySize, describe(raw, err))
		}
		rk, err := newRingKey(raw)
		if err != nil {
			return nil, fmt.Errorf("encryption key %d of %d: %w", i+1, len(fields), err)
		}
		if _, dup := kr.byID[rk.id]; dup {
			continue
		}
		kr.byID[rk.id] = rk
		kr.keys = append(kr.keys, rk)
	}
	return kr, nil
}

// newRingKey derives a ring key's ciphers and naming subkey from raw, which is KeySize bytes.
func newRingKey(raw []byte) (*ringKey, error) {
	sealKey, err := hkdf.Key(sha256.New, raw, nil, sealLabel, KeySize)
	if err != nil {
		return nil, fmt.Errorf("deriving the sealing subkey: %w", err)
	}
	names, err := hkdf.Key(sha256.New, raw, nil, nameLabel, KeySize)
	if err != nil {
		return nil, fmt.Errorf("deriving the naming subkey: %w", err)
	}
	return &ringKey{id: KeyID(raw), th1: newGCM(raw), th2: newGCM(sealKey), names: names}, nil
}

// newGCM returns AES-256-GCM under key, which is KeySize bytes (so neither step can fail).
func newGCM(key []byte) cipher.AEAD {
	block, _ := aes.NewCipher(key)
	aead, _ := cipher.NewGCM(block)
	return aead
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
func (k *Keyring) Current() string { return k.keys[0].id }

// Has reports whether the key with id is in the ring.
func (k *Keyring) Has(id string) bool { _, ok := k.byID[id]; return ok }
