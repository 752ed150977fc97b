package gateway

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/tokenhost/tokenhost/internal/fsmsg"
	"github.com/tokenhost/tokenhost/plugins/internal/credfile"
	"github.com/tokenhost/tokenhost/sdk"
)

// lockSlack is how much longer than one token request a process waits for another's lock on a stored
// sign-in: the holder is at most one request (and one write) away from releasing it.
const lockSlack = 10 * time.Second

// fileStore is one provider's stored sign-in on this machine: a file under $XDG_STATE_HOME/tokenhost/,
// locked while it is read and refreshed, replaced atomically, and a pending copy for when it cannot be
// written. It is the signInStore without a fleet store.
type fileStore struct {
	path    string
	pending credfile.Pending[signIn]
}

// defaultStorePath is $XDG_STATE_HOME/tokenhost/gateway-<hash>.json (~/.local/state when XDG_STATE_HOME is
// not set), the hash naming the authorization server and client, so each provider has its own file.
func defaultStorePath(server, clientID string) (string, error) {
	dir := os.Getenv("XDG_STATE_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", sdk.BadConfig("store", "no home directory to keep the sign-in in (%v); set store to a file path", err)
		}
		dir = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(dir, "tokenhost", "gateway-"+signInHash(server, clientID)+".json"), nil
}

// lock takes the file's cross-process lock, creating the directory (0700) when needed; a directory
// another user owns or can write is refused (credfile.CheckDir).
func (s *fileStore) lock(ctx context.Context, timeout time.Duration) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return nil, sdk.BadConfig("store", "cannot create %s: %s", filepath.Dir(s.path), fsmsg.Reason(err))
	}
	for _, dir := range []string{filepath.Dir(s.path), filepath.Dir(credfile.Resolve(s.path))} {
		if err := credfile.CheckDir(dir); err != nil {
			return nil, sdk.BadConfig("store", "the sign-in %s cannot be kept safely: %s", s.path, fsmsg.Reason(err))
		}
	}
	unlock, err := credfile.Lock(ctx, credfile.LockPath(s.path), timeout+lockSlack)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, sdk.Unavailable("the stored sign-in %s is locked by another process (%v); try again", s.path, err)
	}
	return unlock, nil
}

// where names the file in messages.
func (s *fileStore) where() string { return s.path }

// load reads the stored sign-in; ok is false when there is none. The caller holds the lock.
func (s *fileStore) load(ctx context.Context) (cur current, err error) {
	si, ok, err := s.read(ctx)
	return current{si: si, ok: ok}, err
}

// read is load for the file alone; a fleet store also reads it, to seed itself from a sign-in made here.
func (s *fileStore) read(ctx context.Context) (si signIn, ok bool, err error) {
	if r, err := s.pending.Flush(ctx, s.path, markOf, encodeSignIn, nil); err != nil {
		slog.Warn("gateway: the refreshed sign-in still cannot be stored; serving it from memory", "file", s.path, "error", fsmsg.Reason(err))
	} else if r == credfile.Superseded {
		slog.Info("gateway: the stored sign-in was rewritten by another process; using it", "file", s.path)
	}
	if v, held := s.pending.Value(); held {
		return v, true, nil
	}
	si, err = credfile.Read(ctx, s.path, parseSignIn)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return signIn{}, false, nil
	case err != nil:
		return signIn{}, false, sdk.ReauthRequired("the stored sign-in %s cannot be used (%s); %s", s.path, fsmsg.Reason(err), loginHint)
	}
	return si, true, nil
}

// save persists si, the rotated successor of cur, and returns it: the file has no other writer that
// could have rotated meanwhile, since the caller holds the lock.
func (s *fileStore) save(_ context.Context, cur current, si signIn) signIn {
	s.write(si, sdk.Fingerprint(cur.si.RefreshToken))
	return si
}

// put replaces the stored sign-in with a new one (a login). The caller holds the lock.
func (s *fileStore) put(_ context.Context, si signIn) error {
	s.pending.Clear()
	s.write(si, "")
	if _, held := s.pending.Value(); held {
		return sdk.BadConfig("store", "signed in, but the sign-in cannot be stored in %s; fix the directory's permissions or set store", s.path)
	}
	return nil
}

// write persists si atomically; when the file cannot be written, si is kept in memory and written later,
// since a rotated refresh token is the only one that still works. The caller holds the lock.
func (s *fileStore) write(si signIn, replaced string) {
	cur, _ := credfile.ReadLimited(s.path) // its unknown fields stay; nil when there is none
	data, err := encodeSignIn(cur, si)
	if err == nil {
		err = credfile.WriteAtomic(s.path, data, nil)
	}
	if err != nil {
		s.pending.Keep(si, replaced)
		slog.Warn("gateway: cannot store the refreshed sign-in; serving it from memory until it can be", "file", s.path, "error", fsmsg.Reason(err))
	}
}

// remove forgets the stored sign-in. The caller holds the lock.
func (s *fileStore) remove(context.Context) (string, error) {
	s.pending.Clear()
	err := os.Remove(s.path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", sdk.Internal("cannot delete %s: %s", s.path, fsmsg.Reason(err))
	}
	return fmt.Sprintf("Deleted %s.", s.path), nil
}
