package seal

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrRolledBack is wrapped by Versions.Opened when a value is older than one this process has seen for
// the same key: someone who can write to the store wrote an old value back.
var ErrRolledBack = errors.New("the stored value was rolled back")

// Versions remembers, for each logical key name, the newest value this process opened or wrote, and
// refuses a value older than that. Values are ordered by their Meta: a write over a value the writer
// can open continues that value's chain (its version + 1); a write over nothing (or over a value it
// cannot open or refuses) starts a new chain, stamped with the writer's clock and later than every
// chain this process has seen for the key. Opened refuses a value when the remembered one is
//
//   - of the same chain with a higher version, or with the same version and a different value; or
//   - without an expiry, and the value is of an earlier chain (a th1 value counts as the earliest).
//
// Values are compared by their plaintext, not their sealed bytes, so a value moved under another name
// (sealed afresh, maybe under another key, with the same Meta) is the same value. A value of another
// chain is otherwise taken and remembered: a key with an expiry that expired is written afresh, at
// version 1, by whichever host comes next, which may never have seen the old chain.
// Keys without an expiry keep their chain for as long as they exist; one deleted and written afresh by a
// host whose clock is behind the old chain's start is refused until this process restarts. The package
// documentation says what this cannot catch.
type Versions struct {
	mu   sync.Mutex
	seen map[string]seenValue
}

// seenValue is the newest value of a key a process has seen, with the SHA-256 of its plaintext.
type seenValue struct {
	m   Meta
	sum [sha256.Size]byte
}

// NewVersions returns an empty memory.
func NewVersions() *Versions { return &Versions{seen: map[string]seenValue{}} }

// Opened checks value, which opened for the logical key name with Meta m, against the newest value of
// name this process has seen, and remembers it when it is newer. The error names the key and its
// provider, never the value.
func (v *Versions) Opened(name string, m Meta, value []byte) error {
	sum := sha256.Sum256(value)
	v.mu.Lock()
	defer v.mu.Unlock()
	s, ok := v.seen[name]
	if !ok {
		v.remember(name, m, sum)
		return nil
	}
	var why string
	switch {
	case m.Version > 0 && m.Chain == s.m.Chain && m.Version < s.m.Version:
		why = fmt.Sprintf("it is version %d of its chain, and this host has read version %d", m.Version, s.m.Version)
	case m.Version > 0 && m.Chain == s.m.Chain && m.Version == s.m.Version && sum != s.sum:
		why = fmt.Sprintf("it is a different value with version %d, which this host has read", m.Version)
	case !s.m.Expires && m.Chain < s.m.Chain:
		why = "it is from before the chain of versions this host has read"
	}
	if why != "" {
		return fmt.Errorf("opening %s (provider %s): %w (%s); someone who can write to the store wrote an older value back: find out who, then restart the hosts that report this (they forget what they read) and sign in again if the sign-in no longer works",
			name, providerOf(name), ErrRolledBack, why)
	}
	if m.Chain != s.m.Chain || m.Version > s.m.Version {
		v.remember(name, m, sum)
	}
	return nil
}

// Wrote remembers value, which this process wrote (sealed with Meta m) for the logical key name, unless
// it has seen a newer one meanwhile.
func (v *Versions) Wrote(name string, m Meta, value []byte) {
	sum := sha256.Sum256(value)
	v.mu.Lock()
	defer v.mu.Unlock()
	if s, ok := v.seen[name]; ok && (m.Chain < s.m.Chain || (m.Chain == s.m.Chain && m.Version <= s.m.Version)) {
		return
	}
	v.remember(name, m, sum)
}

// remember records m as the newest value of name; th1 values (version 0) are not recorded. v.mu is held.
func (v *Versions) remember(name string, m Meta, sum [sha256.Size]byte) {
	if m.Version > 0 {
		v.seen[name] = seenValue{m: m, sum: sum}
	}
}

// Next returns the Meta of a value about to be written for the logical key name, with or without an
// expiry, over the stored value of Meta stored: nil when the key is absent, or its value does not open
// or was refused. The result continues the stored value's chain, or starts a new one.
func (v *Versions) Next(name string, stored *Meta, expires bool) Meta {
	if stored != nil && stored.Version > 0 {
		return Meta{Expires: expires, Chain: stored.Chain, Version: stored.Version + 1}
	}
	chain := time.Now().UnixNano()
	v.mu.Lock()
	if s, ok := v.seen[name]; ok && chain <= s.m.Chain {
		chain = s.m.Chain + 1
	}
	v.mu.Unlock()
	return Meta{Expires: expires, Chain: chain, Version: 1}
}
