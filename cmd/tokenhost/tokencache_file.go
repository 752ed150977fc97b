package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gofrs/flock"

	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/internal/atomicfile"
)

// lockRetry is how often a busy cache lock is tried again.
const lockRetry = 10 * time.Millisecond

// lock takes the lock of pc's cache file (the file's name with ".lock", mode 0600, in the directory locks
// beside the cache's, so that forget never removes a lock another process holds), waiting at most wait;
// the returned func releases it. Every write of the file happens under it, so that helper runs of
// parallel callers decide one after another on what the one before wrote. Without a cache directory it
// does nothing.
func (c tokenCache) lock(ctx context.Context, pc *config.Provider, wait time.Duration) (unlock func(), err error) {
	if c.dir == "" {
		return func() {}, nil
	}
	dir := filepath.Join(filepath.Dir(c.dir), "locks")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("provider %s: cannot make the token cache's lock directory %s: %w; make it (mode 0700) or set XDG_CACHE_HOME to a directory of your own", pc.Name, dir, err)
	}
	if err := c.checkDirs(); err != nil {
		return nil, fmt.Errorf("provider %s: %w", pc.Name, err)
	}
	path := filepath.Join(dir, filepath.Base(c.path(pc))+".lock")
	lk := flock.New(path, flock.SetPermissions(0o600))
	lctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	ok, err := lk.TryLockContext(lctx, lockRetry)
	if err == nil && ok {
		return func() { _ = lk.Unlock() }, nil
	}
	_ = lk.Close()
	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case err == nil, errors.Is(err, context.DeadlineExceeded):
		return nil, fmt.Errorf("provider %s: the token cache lock %s stayed busy for %s: another tokenhost token of this provider is stuck; end it, or remove the lock file if none runs", pc.Name, path, wait)
	}
	return nil, fmt.Errorf("provider %s: cannot lock the token cache %s: %w; check that directory's permissions or set XDG_CACHE_HOME to a directory of your own", pc.Name, path, err)
}

// readRaw returns the fields of pc's cache file, or an empty set when there is none, it is unreadable or
// there is no cache directory.
func (c tokenCache) readRaw(pc *config.Provider) map[string]json.RawMessage {
	out := map[string]json.RawMessage{}
	if c.dir == "" || c.checkDirs() != nil {
		return out
	}
	if data, err := os.ReadFile(c.path(pc)); err == nil {
		var m map[string]json.RawMessage
		if json.Unmarshal(data, &m) == nil && m != nil {
			out = m
		}
	}
	return out
}

// update re-reads pc's cache file, sets the fields in set (a nil value removes the field) and writes it
// back atomically with mode 0600; every other field, including ones this version does not know, stays.
// The caller holds the lock.
func (c tokenCache) update(pc *config.Provider, set map[string]any) error {
	if c.dir == "" {
		return nil
	}
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return err
	}
	if err := c.checkDirs(); err != nil {
		return fmt.Errorf("provider %s: %w", pc.Name, err)
	}
	m := c.readRaw(pc)
	for k, v := range set {
		if v == nil {
			delete(m, k)
			continue
		}
		raw, err := json.Marshal(v)
		if err != nil {
			return err
		}
		m[k] = raw
	}
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return atomicfile.Write(c.path(pc), data, nil)
}

// tokenFields returns ct's fields as update sets them: every field a cached token has, so none of an
// older token's stays beside a newer one.
func tokenFields(ct cachedToken) map[string]any {
	set := map[string]any{"token": ct.Token, "headers": ct.Headers, "issued": nil, "identity": nil, "salt": nil, "sum": nil}
	if !ct.Issued.IsZero() {
		set["issued"] = ct.Issued
	}
	if len(ct.Identity) > 0 {
		set["identity"] = ct.Identity
	}
	if ct.Salt != "" {
		set["salt"], set["sum"] = ct.Salt, ct.Sum
	}
	return set
}
