package codex

import (
	"encoding/json"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/internal/fakes"
	"github.com/tokenhost/tokenhost/plugins/internal/credfile"
	"github.com/tokenhost/tokenhost/sdk"
	"github.com/tokenhost/tokenhost/sdk/sdktest"
)

// Four hosts share one storage; only the first has an auth.json. Round after round, three callers on every
// host ask at once to replace the same rejected token, each under the fleet's lease as the host holds it:
// one redeem per round at the identity provider, no refresh token presented twice, every caller gets the
// same new token, and auth.json follows every rotation with its other fields kept.
func TestFleetOneRotationPerRefresh(t *testing.T) {
	e := newEnv(t, fakes.CodexAuthConfig{})
	e.seedExpired(map[string]any{"agent_identity": map[string]any{"id": "agent-1"}})
	st := sdktest.NewStorage()
	hosts := []*source{e.fleetSource(st, e.path, nil)}
	for range 3 {
		hosts = append(hosts, e.fleetSource(st, noFile(t), nil))
	}
	ctx := t.Context()
	first, err := hosts[0].Token(ctx) // seeds storage from auth.json and refreshes its expired token
	if err != nil || !e.idp.Valid(first.Value) {
		t.Fatalf("first Token: %v", err)
	}
	var l lease
	const rounds, callers = 5, 3
	stale := first
	for r := range rounds {
		got := make([]sdk.Token, len(hosts)*callers)
		errs := make([]error, len(got))
		var wg sync.WaitGroup
		for i, h := range hosts {
			for c := range callers {
				wg.Go(func() { got[i*callers+c], errs[i*callers+c] = l.refresh(ctx, h, stale) })
			}
		}
		wg.Wait()
		for i := range got {
			if errs[i] != nil {
				t.Fatalf("round %d, call %d: %v", r, i, errs[i])
			}
			if got[i].Value != got[0].Value || got[i].Value == stale.Value || !e.idp.Valid(got[i].Value) {
				t.Fatalf("round %d: call %d did not get the one new token", r, i)
			}
		}
		stale = got[0]
	}
	if n, reused := e.idp.Refreshes(), e.idp.Reused(); n != rounds+1 || reused != 0 || e.idp.Requests() != rounds+1 {
		t.Fatalf("identity provider: %d refreshes, %d reused, %d requests; want %d, 0, %d", n, reused, e.idp.Requests(), rounds+1, rounds+1)
	}
	a := stored(t, st)
	if !e.idp.Live(a.refreshToken) || a.accessToken != stale.Value {
		t.Fatal("storage does not hold the live refresh token and the last access token")
	}
	if _, err := hosts[0].Token(ctx); err != nil {
		t.Fatal(err)
	}
	f := fileAt(t, e.path)
	if f.refreshToken != a.refreshToken || f.accessToken != a.accessToken || !f.lastRefresh.Equal(a.lastRefresh) {
		t.Fatal("auth.json is not in step with storage")
	}
	if id, _ := e.doc()["agent_identity"].(map[string]any); id["id"] != "agent-1" || mode(t, e.path) != 0o600 {
		t.Fatalf("auth.json lost agent_identity or is mode %v", mode(t, e.path))
	}
	t.Logf("%d hosts x %d callers x %d rounds: %d refreshes at the identity provider, %d reused", len(hosts), callers, rounds, e.idp.Refreshes(), e.idp.Reused())
}

// Without the lease (one that ran out under a slow identity provider), hosts that race on storage's refresh
// token lose to the first redeem at the identity provider, re-read storage and use the winner's tokens: no
// error, one token per round, and storage keeps the live refresh token.
func TestFleetLostRaceUsesTheWinnersTokens(t *testing.T) {
	e := newEnv(t, fakes.CodexAuthConfig{})
	e.seedExpired(nil)
	st := sdktest.NewStorage()
	hosts := []*source{e.fleetSource(st, e.path, nil)}
	for range 3 {
		hosts = append(hosts, e.fleetSource(st, noFile(t), nil))
	}
	ctx := t.Context()
	stale, err := hosts[0].Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const rounds = 4
	for r := range rounds {
		got := make([]sdk.Token, 2*len(hosts))
		errs := make([]error, len(got))
		var wg sync.WaitGroup
		for i := range got {
			wg.Go(func() { got[i], errs[i] = hosts[i%len(hosts)].Refresh(ctx, stale) })
		}
		wg.Wait()
		for i := range got {
			if errs[i] != nil || got[i].Value != got[0].Value || got[i].Value == stale.Value {
				t.Fatalf("round %d, call %d: not the one new token (%v)", r, i, errs[i])
			}
		}
		stale = got[0]
	}
	if n := e.idp.Refreshes(); n != rounds+1 {
		t.Fatalf("%d refreshes at the identity provider; want %d", n, rounds+1)
	}
	if !e.idp.Live(stored(t, st).refreshToken) {
		t.Fatal("storage lost the live refresh token")
	}
	t.Logf("without the lease: %d refreshes, %d redeems refused as reused (recovered)", e.idp.Refreshes(), e.idp.Reused())
}

// Four hosts, each with an auth.json of its own sign-in (all refreshed at the same moment), start at once:
// storage is seeded once, every host serves the first host's token, and every auth.json adopts it.
func TestFleetSeedingFirstHostWins(t *testing.T) {
	e := newEnv(t, fakes.CodexAuthConfig{})
	st := sdktest.NewStorage()
	at := time.Now().Add(-time.Minute)
	var paths []string
	var hosts []*source
	for range 4 {
		p := noFile(t)
		if err := mkdirFor(p); err != nil {
			t.Fatal(err)
		}
		e.writeSignIn(p, at, nil)
		paths = append(paths, p)
		hosts = append(hosts, e.fleetSource(st, p, nil))
	}
	got := make([]sdk.Token, len(hosts))
	errs := make([]error, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Go(func() { got[i], errs[i] = h.Token(t.Context()) })
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil || got[i].Value != got[0].Value {
			t.Fatalf("host %d: not the fleet's token (%v)", i, errs[i])
		}
	}
	if st.Writes != 1 || e.idp.Requests() != 0 {
		t.Fatalf("%d writes to storage, %d token requests; want 1 and 0", st.Writes, e.idp.Requests())
	}
	a := stored(t, st)
	for i, p := range paths {
		if f := fileAt(t, p); f.refreshToken != a.refreshToken || f.accessToken != got[0].Value {
			t.Fatalf("host %d's auth.json did not adopt the fleet's sign-in", i)
		}
	}
}

// The Codex CLI on the auth.json host refreshes on its own (spending the fleet's refresh token), or the
// user signs in again: that host's next call moves the newer auth.json into storage, and the other hosts
// use it without redeeming storage's spent refresh token.
func TestFleetNewerAuthJSONWins(t *testing.T) {
	e := newEnv(t, fakes.CodexAuthConfig{})
	e.seedExpired(nil)
	st := sdktest.NewStorage()
	a, b := e.fleetSource(st, e.path, nil), e.fleetSource(st, noFile(t), nil)
	ctx := t.Context()
	t1, err := a.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cliRefresh := func() fakes.CodexTokens { // as the Codex CLI does: redeem the file's token, write the file
		t.Helper()
		cli, err := e.idp.Rotate(fileAt(t, e.path).refreshToken)
		if err != nil {
			t.Fatal(err)
		}
		later := stored(t, st).lastRefresh.Add(time.Second)
		if err := fakes.WriteCodexAuth(e.path, cli.AccessToken, cli.RefreshToken, cli.IDToken, e.idp.AccountID(),
			map[string]any{"last_refresh": later.Format(time.RFC3339Nano)}); err != nil {
			t.Fatal(err)
		}
		return cli
	}

	cli := cliRefresh()
	if tok, err := a.Token(ctx); err != nil || tok.Value != cli.AccessToken {
		t.Fatalf("the auth.json host did not serve the CLI's newer token (%v)", err)
	}
	reqs := e.idp.Requests()
	if tok, err := b.Refresh(ctx, t1); err != nil || tok.Value != cli.AccessToken || e.idp.Requests() != reqs {
		t.Fatalf("the other host did not take the newer sign-in from storage without a token request (%v)", err)
	}
	if stored(t, st).refreshToken != cli.RefreshToken || e.idp.Reused() != 0 {
		t.Fatal("storage does not hold the CLI's refresh token, or a spent one was presented")
	}

	// The other host redeems first and is refused: it re-reads storage until the auth.json host moves the
	// CLI's tokens in (here at its first re-read), and uses them instead of asking for `codex login`.
	prev := cli
	cli = cliRefresh()
	atPoints(b, map[string]func(){pointRereadMiss: func() {
		if _, err := a.Token(ctx); err != nil {
			t.Errorf("auth.json host: %v", err)
		}
	}})
	if tok, err := b.Refresh(ctx, sdk.Token{Value: prev.AccessToken}); err != nil || tok.Value != cli.AccessToken {
		t.Fatalf("after refresh_token_reused: %v", err)
	}
	if e.idp.Reused() != 1 {
		t.Fatalf("%d reused; want exactly the one refused redeem", e.idp.Reused())
	}

	// A new `codex login` on the auth.json host replaces the fleet's sign-in too.
	login := e.writeSignIn(e.path, stored(t, st).lastRefresh.Add(time.Second), nil)
	if tok, err := a.Token(ctx); err != nil || tok.Value != login.AccessToken || stored(t, st).refreshToken != login.RefreshToken {
		t.Fatalf("a new login did not replace the fleet's sign-in (%v)", err)
	}
}

// With the store out of reach, a host redeems nothing (another host may have spent the refresh token it
// knows): Unavailable, no token request, auth.json's refresh token untouched. A token it saw that has not
// expired is still served. Once the store answers, it refreshes.
func TestFleetStoreDownBeforeRedeem(t *testing.T) {
	e := newEnv(t, fakes.CodexAuthConfig{})
	_, rt := e.seedExpired(nil)
	var down atomic.Bool
	down.Store(true)
	st := &flaky{Storage: sdktest.NewStorage(), down: switched(&down)}
	a, b := e.fleetSource(st, e.path, nil), e.fleetSource(st, noFile(t), nil)
	ctx := t.Context()
	for name, src := range map[string]*source{"auth.json host": a, "other host": b} {
		_, err := src.Token(ctx)
		assertKind(t, err, sdk.KindUnavailable, "store")
		if e.idp.Requests() != 0 || !e.idp.Live(rt) || fileAt(t, e.path).refreshToken != rt {
			t.Fatalf("%s: redeemed a refresh token without the store", name)
		}
	}
	down.Store(false)
	tok, err := a.Token(ctx)
	if err != nil || e.idp.Refreshes() != 1 {
		t.Fatalf("with the store back: %v, %d refreshes", err, e.idp.Refreshes())
	}
	if got, err := b.Token(ctx); err != nil || got.Value != tok.Value {
		t.Fatalf("other host: %v", err)
	}
	down.Store(true)
	if got, err := b.Token(ctx); err != nil || got.Value != tok.Value {
		t.Fatalf("store down again: the unexpired token was not served (%v)", err)
	}
	fresh := e.fleetSource(st, noFile(t), nil)
	if _, err := fresh.Refresh(ctx, tok); !sdk.IsKind(err, sdk.KindUnavailable) || e.idp.Requests() != 1 {
		t.Fatalf("a refresh without the store: %v, %d token requests", err, e.idp.Requests())
	}
}

// The store fails right after a redeem: the new token is served anyway, the rotated tokens are kept in
// memory (and in auth.json where the host has one) and are the first thing written once the store answers.
func TestFleetStoreDownAfterRedeem(t *testing.T) {
	e := newEnv(t, fakes.CodexAuthConfig{})
	e.seedExpired(nil)
	var downFrom atomic.Int64 // the store fails once the identity provider has answered this many refreshes
	downFrom.Store(math.MaxInt64)
	mem := sdktest.NewStorage()
	st := &flaky{Storage: mem, down: func() bool { return e.idp.Refreshes() >= downFrom.Load() }}
	a, b := e.fleetSource(st, e.path, nil), e.fleetSource(st, noFile(t), nil)
	ctx := t.Context()
	t1, err := a.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []struct {
		name string
		src  *source
	}{{"host without auth.json", b}, {"auth.json host", a}} {
		before := stored(t, mem)
		downFrom.Store(e.idp.Refreshes() + 1)
		tok, err := h.src.Refresh(ctx, t1)
		if err != nil || tok.Value == t1.Value || !e.idp.Valid(tok.Value) {
			t.Fatalf("%s: the redeemed token was not served (%v)", h.name, err)
		}
		if stored(t, mem).refreshToken != before.refreshToken {
			t.Fatalf("%s: storage changed while down", h.name)
		}
		if again, err := h.src.Token(ctx); err != nil || again.Value != tok.Value {
			t.Fatalf("%s: the kept token was not served while the store is down (%v)", h.name, err)
		}
		if h.src == a && fileAt(t, e.path).accessToken != tok.Value {
			t.Fatal("auth.json was not given the rotated tokens while the store was down")
		}
		h.src.UseStorage(st) // offered again (a reconfigure): the kept tokens stay
		downFrom.Store(math.MaxInt64)
		if again, err := h.src.Token(ctx); err != nil || again.Value != tok.Value {
			t.Fatalf("%s: store back: %v", h.name, err)
		}
		if s := stored(t, mem); s.accessToken != tok.Value || !e.idp.Live(s.refreshToken) {
			t.Fatalf("%s: the rotated tokens were not written once the store answered", h.name)
		}
		t1 = tok
	}
	if e.idp.Reused() != 0 {
		t.Fatalf("%d refresh tokens presented twice", e.idp.Reused())
	}
}

// Rotations by other hosts reach auth.json on the next call of its host: the tokens and last_refresh change,
// every other field (top level and inside tokens) is kept, the file stays 0600.
func TestFleetKeepsAuthJSONInStep(t *testing.T) {
	e := newEnv(t, fakes.CodexAuthConfig{})
	rt := "rt_extra_fields"
	e.idp.SeedRefreshToken(rt)
	doc := map[string]any{
		"auth_mode": "chatgpt", "OPENAI_API_KEY": nil, "last_refresh": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339),
		"agent_identity": map[string]any{"id": "agent-7", "kind": "local"}, "personal_access_token": "pat-keep",
		"tokens": map[string]any{"id_token": e.idToken(), "access_token": e.jwt(time.Now().Add(-time.Minute)), "refresh_token": rt,
			"account_id": e.idp.AccountID(), "future_field": 42},
	}
	raw, _ := json.MarshalIndent(doc, "", "  ")
	e.write(string(raw))
	st := sdktest.NewStorage()
	a, _, _, t2 := e.pair(st)
	ctx := t.Context()
	if fileAt(t, e.path).accessToken == t2.Value {
		t.Fatal("auth.json changed without its host running")
	}
	if tok, err := a.Token(ctx); err != nil || tok.Value != t2.Value {
		t.Fatalf("auth.json host: %v", err)
	}
	s, f := stored(t, st), fileAt(t, e.path)
	if f.refreshToken != s.refreshToken || f.accessToken != t2.Value || !f.lastRefresh.Equal(s.lastRefresh) {
		t.Fatal("auth.json is not in step with storage")
	}
	m := e.doc()
	tokens, _ := m["tokens"].(map[string]any)
	if id, _ := m["agent_identity"].(map[string]any); id["id"] != "agent-7" || id["kind"] != "local" ||
		m["personal_access_token"] != "pat-keep" || m["OPENAI_API_KEY"] != nil || m["auth_mode"] != "chatgpt" ||
		tokens["future_field"] != float64(42) || tokens["account_id"] != e.idp.AccountID() {
		t.Fatal("auth.json lost a field the plugin does not own")
	}
	if _, present := m["OPENAI_API_KEY"]; !present || mode(t, e.path) != 0o600 {
		t.Fatalf("OPENAI_API_KEY dropped, or mode %v", mode(t, e.path))
	}
}

// A refresh token spent by a program that never stores its answer: after reuse_wait with storage and
// auth.json unchanged, the host asks for `codex login`.
func TestFleetReusedWithoutNewTokensAsksForLogin(t *testing.T) {
	e := newEnv(t, fakes.CodexAuthConfig{})
	e.seedExpired(nil)
	st := sdktest.NewStorage()
	a := e.fleetSource(st, e.path, map[string]any{"reuse_wait": "0s"})
	t1, err := a.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.idp.Rotate(stored(t, st).refreshToken); err != nil {
		t.Fatal(err)
	}
	_, err = a.Refresh(t.Context(), t1)
	assertKind(t, err, sdk.KindReauthRequired, "codex login` on a host of the fleet", fleetWhere)
	assertNoSecrets(t, err.Error(), t1.Value, stored(t, st).refreshToken)
}

// A host without auth.json before any host seeded storage asks for `codex login` on a host of the fleet;
// an API-key auth.json is served as it is, storage untouched; Info names the fleet mode.
func TestFleetNothingToSeedAndAPIKey(t *testing.T) {
	e := newEnv(t, fakes.CodexAuthConfig{})
	st := sdktest.NewStorage()
	_, err := e.fleetSource(st, noFile(t), nil).Token(t.Context())
	assertKind(t, err, sdk.KindReauthRequired, "codex login", "host of the fleet")

	e.write(`{"auth_mode":"apikey","OPENAI_API_KEY":"sk-fleet-test"}`)
	src := e.fleetSource(st, e.path, nil)
	if tok, err := src.Token(t.Context()); err != nil || tok.Value != "sk-fleet-test" || st.Writes != 0 {
		t.Fatalf("api key in fleet mode: %v, %d writes", err, st.Writes)
	}
	e.seedExpired(nil)
	info, err := e.fleetSource(st, e.path, nil).Configure(t.Context(), e.options(nil))
	if err != nil || info.Mode != ModeFleet || !info.UsesStorage || !info.NoTokenCache {
		t.Fatalf("Info in fleet mode: %+v, %v", info, err)
	}
}

// The store loses the sign-in (a Redis restarted without persistence) while the auth.json host's file
// lags behind another host's rotation: the file's spent sign-in is seeded first, and the host that last
// saw the newer one restores it, so nobody redeems the spent refresh token.
func TestFleetStoreThatLostDataGetsTheNewestCopyBack(t *testing.T) {
	e := newEnv(t, fakes.CodexAuthConfig{})
	e.seedExpired(nil)
	st := sdktest.NewStorage()
	a, b, t1, t2 := e.pair(st)
	ctx := t.Context()
	if err := st.Delete(ctx, fleetKey); err != nil {
		t.Fatal(err)
	}
	if tok, err := a.Token(ctx); err != nil || tok.Value != t1.Value {
		t.Fatalf("auth.json host after the loss: %v", err) // seeded from its lagging file; t1 has not expired
	}
	if tok, err := b.Token(ctx); err != nil || tok.Value != t2.Value {
		t.Fatalf("the host that saw the newer sign-in did not restore it (%v)", err)
	}
	if tok, err := a.Refresh(ctx, t1); err != nil || tok.Value != t2.Value {
		t.Fatalf("auth.json host did not take the restored sign-in (%v)", err)
	}
	if s := stored(t, st); !e.idp.Live(s.refreshToken) || e.idp.Reused() != 0 || e.idp.Refreshes() != 2 {
		t.Fatalf("storage's refresh token live: %v; %d reused, %d refreshes", e.idp.Live(s.refreshToken), e.idp.Reused(), e.idp.Refreshes())
	}
	if fileAt(t, e.path).accessToken != t2.Value {
		t.Fatal("auth.json was not brought in step with the restored sign-in")
	}
}

// A host whose clock runs behind rotates the fleet's sign-in, so storage's last_refresh is older than the
// one another host last saw there: the generation, not the clock, says storage's is newer, and the other
// host uses it instead of "restoring" the spent sign-in it remembers.
func TestFleetGenerationsNotClocksOrderStoredSignIns(t *testing.T) {
	e := newEnv(t, fakes.CodexAuthConfig{})
	e.seedExpired(nil)
	st := sdktest.NewStorage()
	_, b, _, t2 := e.pair(st)
	ctx := t.Context()
	seen := stored(t, st)
	slow, err := e.idp.Rotate(seen.refreshToken) // the slow-clock host's redeem
	if err != nil {
		t.Fatal(err)
	}
	next := *seen
	next.idToken, next.accessToken, next.refreshToken = slow.IDToken, slow.AccessToken, slow.RefreshToken
	next.lastRefresh = seen.lastRefresh.Add(-time.Minute)
	data, err := encodeStored(&next, seen.gen+1)
	if err != nil {
		t.Fatal(err)
	}
	_, rev, _ := st.Get(ctx, fleetKey)
	if ok, err := st.CompareAndSet(ctx, fleetKey, rev, data); !ok || err != nil {
		t.Fatalf("writing the slow host's rotation: %v, %v", ok, err)
	}
	if tok, err := b.Refresh(ctx, t2); err != nil || tok.Value != slow.AccessToken {
		t.Fatalf("the other host did not use the slow host's newer sign-in (%v)", err)
	}
	if s := stored(t, st); s.refreshToken != slow.RefreshToken || e.idp.Reused() != 0 {
		t.Fatalf("storage went back to the spent sign-in (reused %d)", e.idp.Reused())
	}
}

// FuzzParseStored feeds arbitrary bytes to the parser of the fleet's stored sign-in: it never panics, its
// errors are *credfile.Problem values, and a value it accepts survives encodeStored with its tokens,
// last_refresh and generation.
func FuzzParseStored(f *testing.F) {
	jwt := fakes.MakeCodexJWT(map[string]any{"exp": 1700000000})
	f.Add([]byte(`{"tokens":{"id_token":"` + jwt + `","access_token":"` + jwt + `","refresh_token":"r","account_id":"a"},"last_refresh":"2025-08-01T12:00:00Z","generation":3}`))
	f.Add([]byte(`{"tokens":{"refresh_token":"r"},"generation":"x"}`))
	f.Add([]byte(`{"tokens":{"refresh_token":"r"},"generation":1e99}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := parseStored(data)
		if err != nil {
			var p *credfile.Problem
			if !errors.As(err, &p) {
				t.Fatalf("error of type %T, want *credfile.Problem", err)
			}
			return
		}
		if a.apiKeyMode {
			return
		}
		out, err := encodeStored(a, a.gen)
		if err != nil {
			t.Fatalf("encodeStored: %v", err)
		}
		b, err := parseStored(out)
		if err != nil {
			t.Fatalf("an encoded sign-in does not parse: %v", err)
		}
		if b.accessToken != a.accessToken || b.refreshToken != a.refreshToken || b.idToken != a.idToken ||
			b.accountID != a.accountID || b.gen != a.gen || !b.lastRefresh.Equal(a.lastRefresh) {
			t.Fatal("a stored sign-in did not survive encoding")
		}
	})
}
