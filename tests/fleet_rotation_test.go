//go:build unix

package tests

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/internal/fakes"
	"github.com/tokenhost/tokenhost/internal/redistest"
)

// The rotating fleet's timing: access tokens live rotationLife; hosts refresh rotationAhead before expiry,
// so the fleet rotates about once per (rotationLife - rotationAhead), and when the store goes away a host
// serves its cached token for up to rotationLife before it answers 503 (both show in a 3 s outage); a
// lease is fetch_timeout (2 s) + 1 s.
const (
	rotationLife  = 2 * time.Second
	rotationAhead = time.Second
)

// Phases of TestFleetRotatingSignIn's traffic, counted apart.
const (
	phaseSteady   int32 = iota // Redis up, every host alive
	phaseOutage                // from killing redis-server until every host sees it back
	phaseRecovery              // after that: a lease holder killed mid-refresh, the others going on
)

// rotationFleet is 8 `tokenhost serve` processes sharing one sign-in, kept in a persistent redis-server,
// at a device-code identity provider whose refresh tokens rotate and whose reuse revokes the sign-in.
type rotationFleet struct {
	idp   *fakes.DeviceServer
	redis *redistest.Server
	hosts []*fleetHost
}

// startRotationFleet starts the fleet and signs it in with one `tokenhost login`.
func startRotationFleet(t *testing.T, n int) *rotationFleet {
	t.Helper()
	f := &rotationFleet{redis: redistest.StartPersistent(t), idp: fakes.NewDeviceServer("fleet-cli")}
	f.idp.SetExpiresIn(rotationLife)
	up := fakes.NewUpstream(f.idp.Valid)
	t.Cleanup(func() { up.Close(); f.idp.Close() })
	key := strings.TrimSpace(tokenhost(t, "", nil, "store", "keygen").stdout)
	config := func(tokenURL string) string {
		return fleetStore(f.redis) + fmt.Sprintf(`providers:
  corp:
    plugin: gateway
    upstream: %s
    refresh_before: %s
    fetch_timeout: 2s
    options:
      grant: refresh_token
      issuer: %s
      token_url: %s
      client_id: fleet-cli
`, up.URL(), rotationAhead, f.idp.URL(), tokenURL)
	}
	// One sign-in, on a machine of its own, signs in the fleet (before the hosts start: `tokenhost login`
	// runs are checked for stray processes).
	state := t.TempDir()
	r := tokenhost(t, writeFile(t, "", "login.yaml", config(f.idp.URL()+fakes.TokenPath)), []string{"STORE_KEY=" + key, "XDG_STATE_HOME=" + state},
		"login", "corp", "--no-browser")
	if r.code != 0 || !strings.Contains(r.stdout, "fleet's shared store") {
		t.Fatalf("tokenhost login with the fleet's configuration\n%s", r)
	}
	f.hosts = serveFleet(t, n, f.idp.URL(), config, "STORE_KEY="+key)
	return f
}

// frontCalls is every host's count of requests to the identity provider.
func (f *rotationFleet) frontCalls() (sum int64) {
	for _, h := range f.hosts {
		sum += h.front.calls.Load()
	}
	return sum
}

// settled waits, once the test's traffic has stopped, until every request a host sent to the identity
// provider has been judged or abandoned there: a refresh ahead that one of the last requests started may
// still be on its way, counted by its host's front but not yet by the identity provider. It returns the
// requests sent, judged and the rotations among them, read when none was in between; a request that is
// never accounted for fails the test at ctx's end.
func (f *rotationFleet) settled(ctx context.Context, t *testing.T) (sent, judged, rotations int64) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond) // the poll interval of a condition wait
	defer tick.Stop()
	for {
		before := f.frontCalls()
		judged, rotations = f.idp.Judged()
		dropped := f.idp.Abandoned()
		if sent = f.frontCalls(); sent == before && judged+dropped == sent {
			return sent, judged, rotations
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%d requests sent by hosts to the identity provider, %d judged and %d abandoned there; every one must be one or the other",
				sent, judged, dropped)
		case <-tick.C:
		}
	}
}

// TestFleetRotatingSignIn checks a fleet sharing a sign-in whose refresh token rotates: 8
// `tokenhost serve` processes, one persistent redis-server holding the sign-in, an identity provider that
// rotates refresh tokens on every refresh and revokes the whole sign-in when a spent one comes back, access
// tokens living 2 s, and one `tokenhost login` for the fleet.
//
//  1. 20 s of traffic through all 8: every request 200; the identity provider saw exactly one refresh
//     per rotation and no invalid_grant, about once per token lifetime for the whole fleet.
//  2. redis-server killed (SIGKILL) for 3 s: requests get 200 while a host's cached token lasts, then fail
//     fast with 503 store_unavailable (no host refreshes without the store); once Redis is back (with its
//     data), every host serves again. Then a host is killed with SIGKILL while it holds the lease with its
//     refresh request held at the identity provider, which drops the request unjudged when the host is
//     gone (it had not run the grant): the lease runs out, another host redeems the same, still valid
//     refresh token, and the other 7 go on, every request 200. No invalid_grant at any point.
func TestFleetRotatingSignIn(t *testing.T) {
	if testing.Short() {
		t.Skip("the rotating fleet acceptance test runs about 35 s")
	}
	f := startRotationFleet(t, 8)
	guard, cancelGuard := context.WithTimeout(context.Background(), hangGuard)
	defer cancelGuard()

	// 1. Steady traffic.
	calls0, _, rot0 := f.settled(guard, t)
	start := time.Now()
	ctx, stop := context.WithTimeout(guard, 20*time.Second)
	tr := &traffic{}
	drive(ctx, f.hosts, tr).Wait()
	stop()
	elapsed := time.Since(start)
	ok := tr.check(t, "steady traffic through 8 hosts sharing a rotating sign-in")
	sent, _, rotated := f.settled(guard, t)
	rotations, calls := rotated-rot0, sent-calls0
	lifetimes := float64(elapsed) / float64(rotationLife-rotationAhead)
	t.Logf("steady, 8 hosts: %d requests in %s, all 200; %d refresh requests at the identity provider, %d rotations, %d invalid_grant, for %.1f token lifetimes (%.2f rotations per lifetime; per host %v)",
		ok, elapsed.Round(time.Millisecond), calls, rotations, f.idp.InvalidGrants(), lifetimes, float64(rotations)/lifetimes, perHost(f.hosts))
	if calls != rotations || f.idp.InvalidGrants() != 0 || f.idp.Reuses() != 0 {
		t.Fatalf("%d refresh requests for %d rotations, %d invalid_grant, %d families revoked; want one request per rotation and none refused", calls, rotations, f.idp.InvalidGrants(), f.idp.Reuses())
	}
	if rotations == 0 || float64(rotations) > 2*lifetimes+2 {
		t.Fatalf("%d rotations in %.1f token lifetimes; want about one per lifetime for the fleet", rotations, lifetimes)
	}

	// 2. Redis killed for 3 s, then a lease holder killed before the identity provider ran its refresh.
	ctx, stop = context.WithCancel(guard)
	defer stop()
	tr = &traffic{}
	tr.phase.Store(phaseOutage)
	wg := drive(ctx, f.hosts, tr)
	f.redis.Stop()
	down := time.Now()
	waitReady(guard, t, f.hosts[0], `"store": "unavailable"`)
	<-time.After(3*time.Second - time.Since(down)) // Redis stays away 3 s (the fault under test)
	f.redis.Restart(t)
	for _, h := range f.hosts {
		waitReady(guard, t, h, `"store": "ok"`)
	}
	tr.phase.Store(phaseRecovery)
	rejoined := time.Since(down)

	release := f.idp.Hold()
	defer release()
	if err := f.idp.WaitHeld(guard, 1); err != nil {
		t.Fatal("no host refreshed while the identity provider held requests")
	}
	var victim *fleetHost
	for _, h := range f.hosts {
		if victim == nil && h.front.inflight.Load() > 0 {
			victim = h
		}
	}
	if victim == nil {
		t.Fatal("a refresh is held but no host's is pending")
	}
	kids, _ := strayProcesses(victim.srv.cmd.Process.Pid, "")
	victim.dead.Store(true)
	if err := victim.srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for _, k := range kids { // the machine goes: its plugin process with it
		_ = syscall.Kill(k.pid, syscall.SIGKILL)
	}
	<-victim.srv.done
	victim.srv.done <- nil // for startServe's cleanup
	for _, k := range kids {
		var ws syscall.WaitStatus
		_, _ = syscall.Wait4(k.pid, &ws, 0, nil)
	}
	if err := f.idp.WaitAbandoned(guard, 1); err != nil {
		t.Fatal("the identity provider never saw the killed host's refresh go away")
	}
	killed, atKill := time.Now(), f.idp.Refreshes()
	release()
	// The dead holder's lease runs out; another host refreshes with the same sign-in; traffic goes on.
	if err := f.idp.WaitRefreshes(guard, atKill+1); err != nil {
		t.Fatal("the fleet never refreshed again after the lease holder died")
	}
	tookOver := time.Since(killed)
	if err := f.idp.WaitRefreshes(guard, atKill+3); err != nil { // and goes on refreshing
		t.Fatal("the fleet stopped refreshing after the lease holder died")
	}
	stop()
	wg.Wait()
	f.settled(guard, t) // every refresh request the hosts sent was judged or abandoned

	outage, recovery := tr.phased(phaseOutage), tr.phased(phaseRecovery)
	t.Logf("faults: Redis down 3 s (every host saw it back %s after it went): requests sent meanwhile %v; a lease holder killed mid-refresh: another host rotated %s after the kill (its lease is 3 s); requests after Redis returned %v; identity provider: %d rotations, %d refresh requests judged, %d abandoned, %d invalid_grant (per host %v)",
		rejoined.Round(time.Millisecond), outage, tookOver.Round(time.Millisecond), recovery, f.idp.Refreshes(), f.idp.RefreshCalls(), f.idp.Abandoned(), f.idp.InvalidGrants(), perHost(f.hosts))
	if f.idp.InvalidGrants() != 0 || f.idp.Reuses() != 0 {
		t.Fatalf("%d invalid_grant, %d families revoked; the sign-in must survive both faults", f.idp.InvalidGrants(), f.idp.Reuses())
	}
	for outcome := range outage {
		if outcome != "200" && outcome != "503 store_unavailable" {
			t.Errorf("during the outage a request got %s; want 200 (cached token) or 503 store_unavailable", outcome)
		}
	}
	for outcome := range recovery {
		if outcome != "200" {
			t.Errorf("after Redis returned a request got %s; want 200", outcome)
		}
	}
	if recovery["200"] == 0 {
		t.Error("no request went through after Redis returned")
	}
}

// TestFleetLoginLogout: with the fleet's configuration, one `tokenhost login` on one machine signs in
// every machine (a `tokenhost token` elsewhere uses the sign-in, and no machine gets a sign-in file), Redis
// holds neither the token nor the sign-in in clear, and one `tokenhost logout` signs every machine out.
func TestFleetLoginLogout(t *testing.T) {
	srv := redistest.Start(t)
	idp := fakes.NewDeviceServer("fleet-cli")
	up := fakes.NewUpstream(idp.Valid)
	t.Cleanup(func() { up.Close(); idp.Close() })
	key := strings.TrimSpace(tokenhost(t, "", nil, "store", "keygen").stdout)
	cfg := writeFile(t, "", "tokenhost.yaml", fleetStore(srv)+fmt.Sprintf(`providers:
  corp:
    plugin: gateway
    upstream: %s
    options:
      grant: device_code
      issuer: %s
      client_id: fleet-cli
`, up.URL(), idp.URL()))
	env := []string{"STORE_KEY=" + key} // each run has a HOME of its own: another machine

	r := tokenhost(t, cfg, env, "login", "corp", "--no-browser")
	if r.code != 0 || !strings.Contains(r.stdout, "Signed in; the sign-in is stored in the fleet's shared store") {
		t.Fatalf("login\n%s", r)
	}
	state := t.TempDir()
	r = tokenhost(t, cfg, append(env, "XDG_STATE_HOME="+state), "token", "corp")
	tok := strings.TrimSpace(r.stdout)
	if r.code != 0 || !idp.Valid(tok) {
		t.Fatalf("token on another machine after the login\n%s", r)
	}
	if files, _ := filepath.Glob(filepath.Join(state, "tokenhost", "gateway-*")); len(files) != 0 {
		t.Errorf("a machine of the fleet wrote a sign-in file: %v", files)
	}
	if dump := srv.Dump(t); strings.Contains(dump, tok) || strings.Contains(dump, "refresh_token") || strings.Contains(dump, "fleet-cli") {
		t.Error("Redis holds the token, the sign-in or the client id in clear")
	}

	r = tokenhost(t, cfg, env, "logout", "corp")
	if r.code != 0 || !strings.Contains(r.stdout, "Signed the fleet out") || !strings.Contains(r.stdout, "Removed the fleet's shared access token") || idp.Revoked() != 1 {
		t.Fatalf("logout (revoked %d)\n%s", idp.Revoked(), r)
	}
	r = tokenhost(t, cfg, env, "token", "corp")
	if r.code == 0 || !strings.Contains(r.stderr, "signed out") || !strings.Contains(r.stderr, "tokenhost login") {
		t.Fatalf("token after the fleet signed out\n%s", r)
	}
}
