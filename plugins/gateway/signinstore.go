package gateway

import (
	"context"
	"time"
)

// current is a stored sign-in as read, with what a save needs to replace exactly that version.
type current struct {
	si  signIn
	ok  bool   // false: nothing is stored
	rev string // the fleet store's revision of si ("" for a file)
	// offline, when not nil, says si is a refreshed sign-in the fleet store has not taken yet (it is
	// unavailable): its access token may be served, but it must not be refreshed until the store answers.
	offline error
}

// signInStore keeps one provider's stored sign-in: in a 0600 file of this machine (fileStore), or, when
// the host shares the provider through a fleet store, in the storage the host serves (fleetStore), where
// every host of the fleet finds the same sign-in. A caller holds lock from load to save, so that this
// process redeems a refresh token once; across hosts the host's fetch lease does the same.
type signInStore interface {
	// lock waits for this sign-in's lock; unlock releases it.
	lock(ctx context.Context, timeout time.Duration) (unlock func(), err error)
	// load reads the stored sign-in.
	load(ctx context.Context) (current, error)
	// save stores si, the refreshed successor of cur, before its token is used, and returns the sign-in
	// whose token to serve: si, or a newer one another host stored meanwhile. When si cannot be stored it
	// is kept in memory and stored later: its refresh token is the only one that still works.
	save(ctx context.Context, cur current, si signIn) signIn
	// put replaces whatever is stored with a new sign-in (`tokenhost login`).
	put(ctx context.Context, si signIn) error
	// remove forgets the stored sign-in (`tokenhost logout`) and says what it did.
	remove(ctx context.Context) (string, error)
	// where names the sign-in's place in messages.
	where() string
}

var (
	_ signInStore = (*fileStore)(nil)
	_ signInStore = (*fleetStore)(nil)
)
