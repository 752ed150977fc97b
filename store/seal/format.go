package seal

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
)

// The prefixes that start sealed values: th2 is written, th1 (no header, sealed with the key itself) is
// still opened.
const (
	prefixV1 = "th1."
	prefixV2 = "th2."
)

// idLen is the length of a key id in hex characters.
const idLen = 8

// headerLen is the length of a th2 plaintext's header: flags, chain start, version.
const headerLen = 1 + 8 + 8

// The header flags: flagExpires marks a value written with an expiry, flagMoved a tombstone (Meta.Moved).
const (
	flagExpires = 1
	flagMoved   = 2
)

// Meta is what a sealed value says about itself besides its value; Versions orders values by it.
type Meta struct {
	// Expires is true when the value was written with an expiry.
	Expires bool
	// Chain is when the key's chain of versions started, on the writer's clock in Unix nanoseconds; 0 for
	// a th1 value.
	Chain int64
	// Version counts the values of the chain from 1; 0 for a th1 value.
	Version uint64
	// Moved marks a tombstone, which holds no value: the value stored under its name before moved under
	// the name of the key that sealed the tombstone (the key id its header shows), or, where that is the
	// tombstone's own name, stayed under an older one.
	Moved bool
}

// Seal encrypts value with its Meta under the current key, bound to the logical key name. m.Version must
// be at least 1 (0 stands for the th1 values that carry none).
func (k *Keyring) Seal(name string, m Meta, value []byte) ([]byte, error) {
	if m.Version == 0 {
		return nil, fmt.Errorf("sealing %s: a value's version starts at 1", name)
	}
	rk := k.keys[0]
	nonce := make([]byte, rk.th2.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("sealing %s: %w", name, err)
	}
	plain := make([]byte, headerLen, headerLen+len(value))
	if m.Expires {
		plain[0] |= flagExpires
	}
	if m.Moved {
		plain[0] |= flagMoved
	}
	binary.BigEndian.PutUint64(plain[1:9], uint64(m.Chain))
	binary.BigEndian.PutUint64(plain[9:17], m.Version)
	plain = append(plain, value...)
	out := make([]byte, 0, len(prefixV2)+idLen+1+len(nonce)+len(plain)+rk.th2.Overhead())
	out = append(out, prefixV2...)
	out = append(out, rk.id...)
	out = append(out, '.')
	out = append(out, nonce...)
	return rk.th2.Seal(out, nonce, plain, []byte(name)), nil
}

// Open decrypts a value sealed for the logical key name, with whichever key of the ring sealed it, and
// returns it with its Meta (zero for a th1 value).
func (k *Keyring) Open(name string, sealed []byte) ([]byte, Meta, error) {
	head := len(prefixV2) + idLen + 1
	if len(sealed) < head || sealed[head-1] != '.' {
		return nil, Meta{}, notSealed(name)
	}
	var v2 bool
	switch string(sealed[:len(prefixV2)]) {
	case prefixV2:
		v2 = true
	case prefixV1:
	default:
		return nil, Meta{}, notSealed(name)
	}
	id := string(sealed[len(prefixV2) : head-1])
	rk, ok := k.byID[id]
	if !ok {
		return nil, Meta{}, fmt.Errorf("opening %s: %w (key id %s, which the configured keys do not include; give this host the fleet's keys, the current one first)", name, ErrWrongKey, id)
	}
	aead := rk.th1
	if v2 {
		aead = rk.th2
	}
	body := sealed[head:]
	if len(body) < aead.NonceSize()+aead.Overhead() {
		return nil, Meta{}, fmt.Errorf("opening %s: the stored value is truncated", name)
	}
	plain, err := aead.Open(nil, body[:aead.NonceSize()], body[aead.NonceSize():], []byte(name))
	if err != nil {
		return nil, Meta{}, fmt.Errorf("opening %s: %w (key id %s does not authenticate it: tampered with, or stored under another name)", name, ErrWrongKey, id)
	}
	if !v2 {
		return plain, Meta{}, nil
	}
	if len(plain) < headerLen || plain[0]&^(flagExpires|flagMoved) != 0 {
		return nil, Meta{}, fmt.Errorf("opening %s: the sealed value's header is not one this version of tokenhost writes (key id %s); is a newer tokenhost writing to the store?", name, id)
	}
	m := Meta{Expires: plain[0]&flagExpires != 0, Moved: plain[0]&flagMoved != 0, Chain: int64(binary.BigEndian.Uint64(plain[1:9])), Version: binary.BigEndian.Uint64(plain[9:17])}
	if m.Version == 0 {
		return nil, Meta{}, fmt.Errorf("opening %s: the sealed value's version is 0, which no tokenhost writes (key id %s)", name, id)
	}
	return plain[headerLen:], m, nil
}

// notSealed is the error of a value that is not in a sealed format at all.
func notSealed(name string) error {
	return fmt.Errorf("opening %s: the stored value is not a sealed tokenhost value (written by something else?)", name)
}
