package gateway

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/internal/fakes"
	"github.com/tokenhost/tokenhost/sdk"
	"github.com/tokenhost/tokenhost/sdk/sdktest"
)

// fleetSource configures a gateway source as the host of a fleet does: storage first, then Configure.
func fleetSource(t *testing.T, st sdk.Storage, opts map[string]any) *source {
	t.Helper()
	src := newSource()
	src.UseStorage(st)
	info, err := src.Configure(t.Context(), opts)
	if err != nil {
		t.Fatalf("Configure: %v", err)
	}
	if !info.UsesStorage {
		t.Fatal("Info.UsesStorage is false for a stored sign-in offered storage")
	}
	return src
}

// seededOptions configures the refresh_token grant against srv, seeded with "seed-rt", its file unused.
func seededOptions(t *testing.T, srv *rotatingServer) map[string]any {
	return map[string]any{"grant": grantRefreshToken, "token_url": srv.URL, "client_id": "cli", "refresh_token": "seed-rt", "store": filepath.Join(t.TempDir(), "s.json")}
}

func (s *rotatingServer) refusals() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused
}

// storedSignIn returns the one sign-in in st (there must be exactly one key, signin-<hash>).
func storedSignIn(t *testing.T, st *sdktest.Storage, opts map[string]any) signIn {
	t.Helper()
	v, rev, err := st.Get(t.Context(), fleetKey(opts["token_url"].(string), opts["client_id"].(string)))
	if err != nil || rev == "" {
		t.Fatalf("no sign-in in storage (%v)", err)
	}
	si, err := parseSignIn(v)
	if err != nil {
		t.Fatal(err)
	}
	return si
}

// Sources sharing one storage (hosts of a fleet) seed it once from the refresh_token option, and then
// refresh once per rotation: a source whose token went stale uses the one another source stored.
func TestFleetSignInSharedThroughStorage(t *testing.T) {
	srv := newRotatingServer(t, "seed-rt")
	st := sdktest.NewStorage()
	file := filepath.Join(t.TempDir(), "never.json")
	opts := map[string]any{"grant": grantRefreshToken, "token_url": srv.URL, "client_id": "cli", "refresh_token": "seed-rt", "store": file}
	a, b := fleetSource(t, st, opts), fleetSource(t, st, opts)
	ta, err := a.Token(t.Context())
	if err != nil || ta.Value != "at-1" {
		t.Fatalf("a: %v %v", ta.Value, err)
	}
	tb, err := b.Token(t.Context())
	if err != nil || tb.Value != "at-1" {
		t.Fatalf("b must adopt a's sign-in, not redeem the seed again: %v %v", tb.Value, err)
	}
	ta2, err := a.Refresh(t.Context(), ta)
	if err != nil || ta2.Value != "at-2" {
		t.Fatalf("a refresh: %v %v", ta2.Value, err)
	}
	tb2, err := b.Refresh(t.Context(), tb)
	if err != nil || tb2.Value != "at-2" {
		t.Fatalf("b must use the token a stored: %v %v", tb2.Value, err)
	}
	if srv.refreshes() != 2 || srv.refusals() != 0 {
		t.Fatalf("%d refreshes, %d refused; want 2 and 0", srv.refreshes(), srv.refusals())
	}
	if si := storedSignIn(t, st, opts); si.RefreshToken != "rt-2" || si.AccessToken != "at-2" {
		t.Error("storage does not hold the rotated sign-in")
	}
	if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a fleet sign-in was written to the file too (%v)", err)
	}
}

// A sign-in made with `tokenhost login` before fleet mode seeds an empty store, and its file moves there.
func TestFleetSeedsFromTheFileOnce(t *testing.T) {
	srv := newRotatingServer(t, "rt-0")
	file := filepath.Join(t.TempDir(), "corp.json")
	if err := os.WriteFile(file, mustJSON(t, signIn{Version: storeVersion, RefreshToken: "rt-0", AccessToken: "at-0", Expiry: time.Now().Add(time.Hour)}), 0o600); err != nil {
		t.Fatal(err)
	}
	st := sdktest.NewStorage()
	opts := map[string]any{"grant": grantRefreshToken, "token_url": srv.URL, "client_id": "cli", "store": file}
	tok, err := fleetSource(t, st, opts).Token(t.Context())
	if err != nil || tok.Value != "at-0" {
		t.Fatalf("token %v, %v; want the file's", tok.Value, err)
	}
	if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the seeded file is still there (%v); its refresh token is spent once the fleet refreshes", err)
	}
	if si := storedSignIn(t, st, opts); si.RefreshToken != "rt-0" {
		t.Error("storage does not hold the file's sign-in")
	}
	// A second host with its own (older) file adopts the store's copy and leaves its file alone.
	other := filepath.Join(t.TempDir(), "corp.json")
	if err := os.WriteFile(other, mustJSON(t, signIn{Version: storeVersion, RefreshToken: "old", AccessToken: "old-at", Expiry: time.Now().Add(time.Hour)}), 0o600); err != nil {
		t.Fatal(err)
	}
	opts["store"] = other
	if tok, err := fleetSource(t, st, opts).Token(t.Context()); err != nil || tok.Value != "at-0" {
		t.Fatalf("second host: %v, %v; want the store's token", tok.Value, err)
	}
	if srv.refreshes() != 0 {
		t.Errorf("%d refreshes; the stored access token was fresh", srv.refreshes())
	}
}

// With the store unavailable before a refresh, the source fails with Unavailable and redeems nothing: a
// copy of its own may be spent already.
func TestFleetStoreDownBeforeRefresh(t *testing.T) {
	srv := newRotatingServer(t, "seed-rt")
	st := sdktest.NewStorage()
	opts := seededOptions(t, srv)
	src := fleetSource(t, st, opts)
	tok, err := src.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	st.SetFail(sdk.Unavailable("provider corp keeps its sign-in in the fleet's shared store, which is unavailable"))
	_, err = src.Refresh(t.Context(), tok)
	if !sdk.IsKind(err, sdk.KindUnavailable) || !strings.Contains(err.Error(), "shared store") {
		t.Fatalf("Refresh with the store down: %v; want Unavailable naming the store", err)
	}
	if srv.refreshes() != 1 {
		t.Fatalf("%d refreshes; the store was down, so none after the first", srv.refreshes())
	}
}

// casFailing is a storage whose CompareAndSet fails (the store went away after a Get) while failCAS is set.
type casFailing struct {
	*sdktest.Storage
	failCAS atomic.Bool
}

func (c *casFailing) CompareAndSet(ctx context.Context, key, rev string, value []byte) (bool, error) {
	if c.failCAS.Load() {
		return false, sdk.Unavailable("store down")
	}
	return c.Storage.CompareAndSet(ctx, key, rev, value)
}

// A refresh whose result the store does not take (it went away after the read) serves the new token, keeps
// the rotated sign-in in memory, refuses to refresh again while the store is down, and stores it first
// thing when the store answers: the rotation is never lost and no spent token is redeemed.
func TestFleetStoreDownAfterRefreshKeepsTheRotation(t *testing.T) {
	srv := newRotatingServer(t, "seed-rt")
	st := &casFailing{Storage: sdktest.NewStorage()}
	opts := seededOptions(t, srv)
	src := fleetSource(t, st, opts)
	first, err := src.Token(t.Context()) // seeds, redeems seed-rt: rt-1 stored
	if err != nil {
		t.Fatal(err)
	}
	st.failCAS.Store(true)
	second, err := src.Refresh(t.Context(), first) // redeems rt-1: rt-2 only in memory
	if err != nil || second.Value != "at-2" {
		t.Fatalf("a refresh the store did not take must still serve its token: %v %v", second.Value, err)
	}
	if si := storedSignIn(t, st.Storage, opts); si.RefreshToken != "rt-1" {
		t.Fatal("the store took a write it refused")
	}
	st.SetFail(sdk.Unavailable("store down"))
	if _, err := src.Refresh(t.Context(), second); !sdk.IsKind(err, sdk.KindUnavailable) {
		t.Fatalf("refresh while the store is down and the sign-in unstored: %v; want Unavailable", err)
	}
	st.SetFail(nil)
	st.failCAS.Store(false)
	third, err := src.Refresh(t.Context(), second)
	if err != nil || third.Value != "at-3" {
		t.Fatalf("after the store returned: %v %v", third.Value, err)
	}
	if srv.refusals() != 0 || srv.refreshes() != 3 {
		t.Fatalf("%d refreshes, %d refused; want 3 and 0 (the unstored rt-2 was redeemed, never the spent rt-1)", srv.refreshes(), srv.refusals())
	}
	if si := storedSignIn(t, st.Storage, opts); si.RefreshToken != "rt-3" {
		t.Error("storage does not hold the latest rotation")
	}
}

// When another host stored a sign-in while this one refreshed (a login elsewhere), the compare-and-set
// fails and the newer sign-in's token is used.
func TestFleetRefusedWriteUsesTheNewerSignIn(t *testing.T) {
	srv := newRotatingServer(t, "seed-rt")
	srv.hold = make(chan struct{})
	st := sdktest.NewStorage()
	opts := seededOptions(t, srv)
	src := fleetSource(t, st, opts)
	done := make(chan sdk.Token, 1)
	go func() {
		tok, err := src.Token(context.Background())
		if err != nil {
			t.Error(err)
		}
		done <- tok
	}()
	<-srv.arrived
	key := fleetKey(srv.URL, "cli")
	_, rev, _ := st.Get(t.Context(), key)
	newer := mustJSON(t, signIn{Version: storeVersion, RefreshToken: "login-rt", AccessToken: "login-at", Expiry: time.Now().Add(time.Hour)})
	if ok, err := st.CompareAndSet(t.Context(), key, rev, newer); !ok || err != nil {
		t.Fatal("could not store the other host's sign-in")
	}
	close(srv.hold)
	if tok := <-done; tok.Value != "login-at" {
		t.Fatalf("token %q; want the newer sign-in's", tok.Value)
	}
	if si := storedSignIn(t, st, opts); si.RefreshToken != "login-rt" {
		t.Error("the refused write replaced the newer sign-in")
	}
}

// `tokenhost login` in fleet mode signs the whole fleet in; `tokenhost logout` signs it out, and no host
// then seeds the store again from its own copy.
func TestFleetLoginAndLogout(t *testing.T) {
	idp := fakes.NewDeviceServer("fleet-cli")
	t.Cleanup(idp.Close)
	st := sdktest.NewStorage()
	file := filepath.Join(t.TempDir(), "corp.json")
	opts := map[string]any{"grant": grantRefreshToken, "issuer": idp.URL(), "client_id": "fleet-cli", "refresh_token": "stale-seed", "store": file}
	login := newSource(withWait(func(context.Context, time.Duration) error { return nil }))
	login.UseStorage(st)
	if _, err := login.Configure(t.Context(), opts); err != nil {
		t.Fatal(err)
	}
	res, err := login.Login(t.Context(), &showUI{})
	if err != nil || !strings.Contains(res.Message, "fleet's shared store") {
		t.Fatalf("login: %q %v", res.Message, err)
	}
	if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
		t.Error("a fleet login wrote the file")
	}
	other := fleetSource(t, st, opts)
	tok, err := other.Token(t.Context())
	if err != nil || !idp.Valid(tok.Value) {
		t.Fatalf("another host after the login: %v", err)
	}
	if _, err := other.Refresh(t.Context(), tok); err != nil || idp.Refreshes() != 1 {
		t.Fatalf("refresh after the login: %v (%d refreshes)", err, idp.Refreshes())
	}
	msg, err := login.Logout(t.Context())
	if err != nil || !strings.Contains(msg, "Signed the fleet out") || idp.Revoked() != 1 {
		t.Fatalf("logout: %q %v (revoked %d)", msg, err, idp.Revoked())
	}
	fresh := fleetSource(t, st, opts) // a host started after the logout, with a refresh_token option
	if _, err := fresh.Token(t.Context()); !sdk.IsKind(err, sdk.KindReauthRequired) || !strings.Contains(err.Error(), "signed out") {
		t.Fatalf("after logout: %v; want ReauthRequired saying the fleet was signed out", err)
	}
	if idp.Refreshes() != 1 {
		t.Error("a host redeemed a refresh token after the fleet signed out")
	}
}

// A store that lost the sign-in this process read (a Redis restarted without persistence) is not seeded
// again with the long-spent refresh_token option.
func TestFleetLostStoreIsNotReseeded(t *testing.T) {
	srv := newRotatingServer(t, "seed-rt")
	st := sdktest.NewStorage()
	opts := seededOptions(t, srv)
	src := fleetSource(t, st, opts)
	tok, err := src.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(t.Context(), fleetKey(srv.URL, "cli")); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Refresh(t.Context(), tok); !sdk.IsKind(err, sdk.KindReauthRequired) || !strings.Contains(err.Error(), "no longer holds") {
		t.Fatalf("refresh after the store lost the sign-in: %v", err)
	}
	if srv.refreshes() != 1 || srv.refusals() != 0 {
		t.Errorf("%d refreshes, %d refused; the spent seed must not be redeemed", srv.refreshes(), srv.refusals())
	}
}

// Without storage (no fleet store), a stored sign-in stays in its file and Info.UsesStorage is false.
func TestNoStorageKeepsTheFile(t *testing.T) {
	srv := newRotatingServer(t, "seed-rt")
	file := filepath.Join(t.TempDir(), "s.json")
	src := newSource()
	info, err := src.Configure(t.Context(), map[string]any{"grant": grantRefreshToken, "token_url": srv.URL, "client_id": "cli", "refresh_token": "seed-rt", "store": file})
	if err != nil || info.UsesStorage {
		t.Fatalf("info %+v, %v", info, err)
	}
	if _, err := src.Token(t.Context()); err != nil {
		t.Fatal(err)
	}
	if readStore(t, file).RefreshToken != "rt-1" {
		t.Error("the file does not hold the rotated sign-in")
	}
}

// A rotated sign-in the store did not take stays pending; when the store then holds the same spent sign-in
// under a new revision (re-sealed or moved by another host during a key rotation), the pending rotation
// replaces it instead of being dropped as "superseded": the only live refresh token is never lost.
func TestFleetPendingRotationSurvivesAMovedSignIn(t *testing.T) {
	srv := newRotatingServer(t, "seed-rt")
	st := &casFailing{Storage: sdktest.NewStorage()}
	opts := seededOptions(t, srv)
	src := fleetSource(t, st, opts)
	first, err := src.Token(t.Context()) // seeds, redeems seed-rt: rt-1 stored
	if err != nil {
		t.Fatal(err)
	}
	st.failCAS.Store(true)
	second, err := src.Refresh(t.Context(), first) // redeems rt-1: rt-2 only in memory
	if err != nil || second.Value != "at-2" {
		t.Fatalf("a refresh the store did not take must still serve its token: %v %v", second.Value, err)
	}
	st.failCAS.Store(false)
	key := fleetKey(srv.URL, "cli")
	v, rev, err := st.Get(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := st.Storage.CompareAndSet(t.Context(), key, rev, v); !ok || err != nil { // the same sign-in, a new revision
		t.Fatal("could not rewrite the stored sign-in")
	}
	third, err := src.Refresh(t.Context(), second)
	if err != nil || third.Value != "at-3" {
		t.Fatalf("after the move: %v %v", third.Value, err)
	}
	if srv.refusals() != 0 {
		t.Fatalf("%d refreshes refused: the spent rt-1 was redeemed again (the pending rt-2 was dropped)", srv.refusals())
	}
	if si := storedSignIn(t, st.Storage, opts); si.RefreshToken != "rt-3" {
		t.Errorf("storage holds %q; want the latest rotation rt-3", si.RefreshToken)
	}
}
