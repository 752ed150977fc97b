package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tokenhost/tokenhost/sdk"
)

// fleetFlushEvery is how often a refreshed sign-in the fleet store did not take is offered to it again,
// besides at the start of every call.
const fleetFlushEvery = 500 * time.Millisecond

// fleetSaveTimeout bounds the store writes after a refresh, which run even when the refresh used up the
// caller's time: the refresh token they store is the only one that still works.
const fleetSaveTimeout = 5 * time.Second

// fleetStore is the signInStore of a provider the host shares through a fleet store: the sign-in lives in
// the storage the host serves (sdk.Storage) under a key naming the authorization server and client, the
// same for every host. A refresh reads it with its revision and stores the rotated sign-in by
// compare-and-set before its token is used; it never refreshes without the store, since another host may
// have rotated the refresh token meanwhile.
type fleetStore struct {
	st   sdk.Storage
	key  string     // signin-<hash>
	file *fileStore // a sign-in made on this machine before fleet mode: seeds an empty store
	seed signIn     // the refresh_token option: seeds an empty store when there is no file
	sem  chan struct{}

	mu       sync.Mutex
	pending  *fleetPending // a refreshed sign-in the store did not take
	flushing bool          // a goroutine offers pending to the store
	seen     bool          // this process has read a sign-in from the store
}

// fleetPending is a refreshed sign-in not yet in the store, and the revision its refresh replaced.
type fleetPending struct {
	si       signIn
	rev      string
	replaced string // the refresh token si's refresh redeemed: a store that still holds it holds nothing newer
}

func newFleetStore(st sdk.Storage, key string, file *fileStore, seed signIn) *fleetStore {
	return &fleetStore{st: st, key: key, file: file, seed: seed, sem: make(chan struct{}, 1)}
}

func (f *fleetStore) where() string { return "the fleet's shared store" }

func (f *fleetStore) lock(ctx context.Context, _ time.Duration) (func(), error) {
	select {
	case f.sem <- struct{}{}:
		return func() { <-f.sem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (f *fleetStore) load(ctx context.Context) (current, error) {
	if p := f.held(); p != nil {
		if err := f.flush(ctx, p); err != nil {
			return current{si: p.si, ok: true, offline: err}, nil
		}
	}
	v, rev, err := f.st.Get(ctx, f.key)
	if err != nil {
		return current{}, err
	}
	if rev == "" {
		return f.seedStore(ctx)
	}
	return f.decode(v, rev)
}

// decode reads a stored value; a sign-out mark or an unreadable value means the fleet must sign in again.
func (f *fleetStore) decode(v []byte, rev string) (current, error) {
	si, err := parseSignIn(v)
	if err != nil {
		return current{}, sdk.ReauthRequired("the sign-in in the fleet's shared store cannot be used (it %v); %s", err, loginHint)
	}
	f.mu.Lock()
	f.seen = true
	f.mu.Unlock()
	if !si.SignedOut.IsZero() {
		return current{}, sdk.ReauthRequired("the fleet was signed out (`tokenhost logout` at %s); %s", si.SignedOut.Format(time.RFC3339), loginHint)
	}
	return current{si: si, ok: true, rev: rev}, nil
}

// seedStore fills an empty store once: with the sign-in file of this machine (`tokenhost login` before
// fleet mode), which then moves into the store, or else with the refresh_token option. The first host
// wins; the others adopt its copy. A store that held a sign-in this process read is not seeded again (it
// lost its data): the seed's refresh token is spent by then, and redeeming it would trip reuse detection.
func (f *fleetStore) seedStore(ctx context.Context) (current, error) {
	f.mu.Lock()
	seen := f.seen
	f.mu.Unlock()
	if seen {
		return current{}, sdk.ReauthRequired("the fleet's shared store no longer holds the sign-in it held (was it restarted without persistence?); %s", loginHint)
	}
	si, fromFile, err := f.file.read(ctx)
	if err != nil {
		return current{}, err
	}
	from := f.file.path
	if !fromFile {
		if f.seed.RefreshToken == "" {
			return current{}, sdk.ReauthRequired("no sign-in in the fleet's shared store yet; %s (once, on any host)", loginHint)
		}
		si, from = f.seed, "the refresh_token option"
	}
	data, err := encodeSignIn(nil, si)
	if err != nil {
		return current{}, sdk.Internal("cannot encode the sign-in: %v", err)
	}
	stored, err := f.st.CompareAndSet(ctx, f.key, "", data)
	if err != nil {
		return current{}, err
	}
	if stored {
		slog.Info("gateway: seeded the fleet's shared store with the sign-in", "from", from)
		if fromFile {
			if _, err := f.file.remove(ctx); err != nil {
				slog.Warn("gateway: the sign-in moved into the fleet's shared store, but its old file cannot be deleted; delete it, since its refresh token is spent once the fleet refreshes", "file", f.file.path, "error", err.Error())
			}
		}
	}
	v, rev, err := f.st.Get(ctx, f.key)
	switch {
	case err != nil:
		return current{}, err
	case rev == "":
		return current{}, sdk.Unavailable("the sign-in seeded into the fleet's shared store was removed at once; try again")
	}
	return f.decode(v, rev)
}

func (f *fleetStore) save(ctx context.Context, cur current, si signIn) signIn {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fleetSaveTimeout)
	defer cancel()
	data, err := encodeSignIn(nil, si)
	stored := false
	if err == nil {
		stored, err = f.st.CompareAndSet(ctx, f.key, cur.rev, data)
	}
	switch {
	case err != nil:
		f.keep(si, cur.rev, cur.si.RefreshToken)
		slog.Warn("gateway: the fleet's shared store did not take the refreshed sign-in; serving it from memory and storing it as soon as the store answers", "error", err.Error())
		return si
	case stored:
		return si
	}
	// Another host stored a sign-in since cur was read (a lease that ran out, or a login).
	if v, rev, err := f.st.Get(ctx, f.key); err == nil && rev != "" {
		if other, err := parseSignIn(v); err == nil && other.SignedOut.IsZero() && fresh(sdk.Token{Value: other.AccessToken, Expiry: other.Expiry}) {
			slog.Info("gateway: another host of the fleet stored a newer sign-in meanwhile; using its token")
			return other
		}
	}
	slog.Warn("gateway: another host of the fleet replaced the sign-in meanwhile; this refresh's token is served once and not stored")
	return si
}

func (f *fleetStore) put(ctx context.Context, si signIn) error {
	return f.replace(ctx, si, "sign-in")
}

func (f *fleetStore) remove(ctx context.Context) (string, error) {
	if err := f.replace(ctx, signIn{SignedOut: time.Now().UTC()}, "sign-out"); err != nil {
		return "", err
	}
	return "Signed the fleet out: the sign-in is gone from the fleet's shared store.", nil
}

// replace stores si whatever the store holds, and drops any refreshed sign-in still pending.
func (f *fleetStore) replace(ctx context.Context, si signIn, what string) error {
	data, err := encodeSignIn(nil, si)
	if err != nil {
		return sdk.Internal("cannot encode the %s: %v", what, err)
	}
	for range 3 {
		_, rev, err := f.st.Get(ctx, f.key)
		if err != nil {
			return err
		}
		stored, err := f.st.CompareAndSet(ctx, f.key, rev, data)
		if err != nil {
			return err
		}
		if stored {
			f.mu.Lock()
			f.pending, f.seen = nil, true
			f.mu.Unlock()
			return nil
		}
	}
	return sdk.Unavailable("the fleet's shared store kept changing while the %s was stored (hosts refreshing); try again", what)
}

// held returns the pending sign-in, or nil.
func (f *fleetStore) held() *fleetPending {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pending
}

// keep holds si, which replaced revision rev, until the store takes it, offering it again every
// fleetFlushEvery as well as at the start of each call.
func (f *fleetStore) keep(si signIn, rev, replaced string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pending != nil {
		// the store still holds what the first unstored refresh replaced
		rev, replaced = f.pending.rev, f.pending.replaced
	}
	f.pending = &fleetPending{si: si, rev: rev, replaced: replaced}
	if !f.flushing {
		f.flushing = true
		go f.flushLater()
	}
}

// flushLater offers the pending sign-in to the store until it is stored or superseded.
func (f *fleetStore) flushLater() {
	t := time.NewTicker(fleetFlushEvery)
	defer t.Stop()
	for range t.C {
		ctx, cancel := context.WithTimeout(context.Background(), fleetSaveTimeout)
		unlock, _ := f.lock(ctx, 0)
		if unlock == nil {
			cancel()
			continue
		}
		p := f.held()
		done := p == nil || f.flush(ctx, p) == nil
		unlock()
		cancel()
		if done {
			f.mu.Lock()
			// keep may have set a new pending after this flush; then go on.
			if f.pending == nil {
				f.flushing = false
				f.mu.Unlock()
				return
			}
			f.mu.Unlock()
		}
	}
}

// flush stores p unless another host stored a sign-in since p's refresh (a login), which then wins; an
// error means the store still does not answer and p stays pending. The caller holds the lock.
func (f *fleetStore) flush(ctx context.Context, p *fleetPending) error {
	v, rev, err := f.st.Get(ctx, f.key)
	if err != nil {
		return err
	}
	result := "superseded"
	if rev == p.rev || rev == "" || f.holdsReplaced(v, p) {
		data, err := encodeSignIn(nil, p.si)
		if err != nil {
			return sdk.Internal("cannot encode the sign-in: %v", err)
		}
		stored, err := f.st.CompareAndSet(ctx, f.key, rev, data)
		if err != nil {
			return err
		}
		if stored {
			result = "stored"
		}
	}
	f.mu.Lock()
	if f.pending == p {
		f.pending = nil
	}
	f.mu.Unlock()
	if result == "stored" {
		slog.Info("gateway: the fleet's shared store took the refreshed sign-in it missed")
	} else {
		slog.Warn("gateway: another host stored a sign-in while this host's refreshed one waited for the store; using the store's")
	}
	return nil
}

// holdsReplaced reports whether the stored sign-in v is still the one p's refresh replaced: the same
// refresh token under another revision (the store re-sealed or moved it, e.g. during a key rotation). Its
// refresh token is spent, so p must replace it; judging by the revision alone would drop the only live
// refresh token.
func (f *fleetStore) holdsReplaced(v []byte, p *fleetPending) bool {
	if p.replaced == "" {
		return false
	}
	other, err := parseSignIn(v)
	return err == nil && other.SignedOut.IsZero() && other.RefreshToken == p.replaced
}

// fleetKey is the storage key of a sign-in with the authorization server server and client clientID.
func fleetKey(server, clientID string) string {
	return fmt.Sprintf("signin-%s", signInHash(server, clientID))
}
