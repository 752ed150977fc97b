package credfile

import (
	"context"
	"errors"
	"path/filepath"
	"time"

	"github.com/gofrs/flock"
)

// lockRetryDelay is how often a busy lock is tried again; the Codex CLI polls its lock at the same pace.
const lockRetryDelay = 10 * time.Millisecond

// LockPath returns the lock file of the credential file at path: path with symlinks resolved (one lock per
// file, however it is reached) and ".lock" appended.
func LockPath(path string) string {
	return resolved(path) + ".lock"
}

// resolved returns path with symlinks resolved, or path itself when that fails (the file may not exist).
func resolved(path string) string {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		return real
	}
	return path
}

// ErrLockTimeout is Lock's error when another process held the lock for all of the timeout.
var ErrLockTimeout = errors.New("the lock stayed busy for the whole timeout")

// Lock takes an exclusive flock(2) on lockPath (created with mode 0600 when missing), trying again every
// few milliseconds for at most timeout; the returned func releases it. It fails with ctx's error when ctx
// ends first, ErrLockTimeout when the timeout passes, else the error of opening or locking the file.
func Lock(ctx context.Context, lockPath string, timeout time.Duration) (unlock func(), err error) {
	lk := flock.New(lockPath, flock.SetPermissions(0o600))
	lctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ok, err := lk.TryLockContext(lctx, lockRetryDelay)
	if err == nil && ok {
		return func() { _ = lk.Unlock() }, nil
	}
	_ = lk.Close() // releases the file handle of a failed attempt
	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case err == nil, errors.Is(err, context.DeadlineExceeded):
		return nil, ErrLockTimeout
	}
	return nil, err
}

// LockError is what LockInOrder returns when one of its locks could not be taken: the lock's path and why.
type LockError struct {
	Path string // the lock file
	Err  error  // ErrLockTimeout, ctx's error, or the file system's
}

// Error names the lock file and the cause.
func (e *LockError) Error() string { return e.Path + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *LockError) Unwrap() error { return e.Err }

// LockInOrder takes the locks at paths one after another, each within timeout, as Lock does; the returned
// func releases them in reverse order. Every program that takes the same locks must take them in the same
// order, or two of them can deadlock. When one cannot be taken, those already held are released and the
// error is a *LockError naming it.
func LockInOrder(ctx context.Context, timeout time.Duration, paths ...string) (unlock func(), err error) {
	held := make([]func(), 0, len(paths))
	release := func() {
		for i := len(held) - 1; i >= 0; i-- {
			held[i]()
		}
	}
	for _, p := range paths {
		u, err := Lock(ctx, p, timeout)
		if err != nil {
			release()
			return nil, &LockError{Path: p, Err: err}
		}
		held = append(held, u)
	}
	return release, nil
}

// Resolve returns path with symlinks resolved, or path itself when that fails (the file may not exist yet):
// the one name of a credential file, however it is reached.
func Resolve(path string) string { return resolved(path) }
