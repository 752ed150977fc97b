package tests

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/internal/redistest"
	_ "github.com/tokenhost/tokenhost/store/redisstore" // the embedded fleet hosts open the redis store
)

// mcpRotationTTL is the access token lifetime of the rotation tests, in seconds: no longer than the
// plugin's MinRemaining, so that every token request refreshes, and the authorization server rotates the
// refresh token each time, revoking the whole grant when a spent one comes back.
const mcpRotationTTL = 10

// TestMCPRotationAcrossProcesses: two `tokenhost` processes sharing one MCP server sign-in refresh it
// over and over at the same time; the sign-in's lock makes each refresh redeem the newest refresh token,
// so the authorization server sees no spent refresh token again and revokes nothing.
func TestMCPRotationAcrossProcesses(t *testing.T) {
	s := startMCP(t, mcpRotationTTL)
	cfg := s.config(t, "store: "+filepath.Join(t.TempDir(), "tools.json"))
	if r, _ := mcpLogin(t, cfg, "tools"); r.code != 0 {
		t.Fatalf("login\n%s", r)
	}
	const procs, rounds = 2, 4
	errs := make(chan error, procs*rounds)
	var wg sync.WaitGroup
	for p := range procs {
		wg.Go(func() {
			for i := range rounds {
				ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
				cmd := exec.CommandContext(ctx, bins.tokenhost, "token", "tools", "--fresh", "--config", cfg)
				cmd.Env = childEnv(t)
				var se strings.Builder
				cmd.Stderr = &se
				if err := cmd.Run(); err != nil {
					errs <- fmt.Errorf("process %d, round %d: %v: %s", p, i, err, redact(se.String()))
				}
				cancel()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	checkNoStrays(t, "tokenhost token tools")
	st := s.as.stats(t)
	if st.Reused != 0 || st.Revoked != 0 || st.Refreshed < procs*rounds {
		t.Fatalf("authorization server counts %+v; want %d refreshes or more, no spent refresh token presented, nothing revoked", st, procs*rounds)
	}
	r := tokenhost(t, cfg, nil, "token", "tools", "--fresh")
	if r.code != 0 {
		t.Fatalf("the sign-in does not work after the rotations\n%s", r)
	}
}

// TestMCPRotationAcrossFleetHosts: two embedded hosts sharing an MCP server's sign-in through a fleet store
// (a real redis-server) call a tool at the same time, round after round, after the server revoked every
// access token it had seen: each round both meet a 401, the fleet refreshes, and every refresh redeems the
// newest refresh token.
func TestMCPRotationAcrossFleetHosts(t *testing.T) {
	s := startMCP(t, mcpRotationTTL)
	redis := redistest.Start(t)
	key := strings.TrimSpace(tokenhost(t, "", nil, "store", "keygen").stdout)
	t.Setenv("STORE_KEY", key)
	cfg := writeFile(t, "", "tokenhost-fleet.yaml", fleetStore(redis)+fmt.Sprintf("providers:\n  tools:\n    plugin: mcp\n    upstream: %s\n", s.srv.URL))
	r, _ := mcpLogin(t, cfg, "tools", "STORE_KEY="+key, "XDG_STATE_HOME="+t.TempDir())
	if r.code != 0 || !strings.Contains(r.stdout, "fleet's shared store") {
		t.Fatalf("login into the fleet store\n%s", r)
	}
	var clients []*http.Client
	for range 2 {
		hc, err := openHost(t, cfg).Client("tools")
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, hc)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const rounds = 4
	for round := range rounds {
		// Every token in use is revoked: both hosts meet a 401 at once, and the fleet refreshes.
		s.srv.revokeSeen()
		errs := make(chan error, len(clients))
		var wg sync.WaitGroup
		for i, hc := range clients {
			wg.Go(func() {
				text := fmt.Sprintf("host %d round %d", i, round)
				if got, err := callTool(ctx, hc, s.srv.URL, "echo", text); err != nil || got != "echo: "+text {
					errs <- fmt.Errorf("%s: tool call: %q, %v", text, got, err)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	}
	st := s.as.stats(t)
	if st.Reused != 0 || st.Revoked != 0 || st.Refreshed < rounds {
		t.Fatalf("authorization server counts %+v; want %d refreshes or more, no spent refresh token presented, nothing revoked", st, rounds)
	}
}

// TestMCPForgottenRegistrationIsRedone: an authorization server that lost the client tokenhost registered
// refuses its refresh with invalid_client; the token request says to run `tokenhost login tools`, and that
// login registers a new client, which then works.
func TestMCPForgottenRegistrationIsRedone(t *testing.T) {
	s := startMCP(t, mcpRotationTTL)
	cfg := s.config(t, "store: "+filepath.Join(t.TempDir(), "tools.json"))
	if r, _ := mcpLogin(t, cfg, "tools"); r.code != 0 {
		t.Fatalf("login\n%s", r)
	}
	resp, err := http.Post(s.as.issuer+"/test/forget-clients", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	r := tokenhost(t, cfg, nil, "token", "tools", "--fresh")
	if r.code == 0 || !strings.Contains(r.stderr, "no longer accepts the client tokenhost registered") || !strings.Contains(r.stderr, "tokenhost login tools") {
		t.Fatalf("a refresh as a forgotten client should say to sign in again\n%s", r)
	}
	if r, _ := mcpLogin(t, cfg, "tools"); r.code != 0 {
		t.Fatalf("login after the registration was lost\n%s", r)
	}
	if st := s.as.stats(t); st.Registered != 2 {
		t.Errorf("%d registrations; the login after the loss should register once more", st.Registered)
	}
	if r := tokenhost(t, cfg, nil, "token", "tools", "--fresh"); r.code != 0 {
		t.Fatalf("the new registration does not refresh\n%s", r)
	}
}

// TestMCPAbandonedSignInKeepsItsRegistration: a sign-in abandoned in the browser keeps the client it
// registered, and the next sign-in uses it instead of registering another.
func TestMCPAbandonedSignInKeepsItsRegistration(t *testing.T) {
	s := startMCP(t, 600)
	cfg := s.config(t, "store: "+filepath.Join(t.TempDir(), "tools.json"))
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	cmd := exec.CommandContext(ctx, bins.tokenhost, "login", "tools", "--no-browser", "--config", cfg)
	cmd.Env = childEnv(t)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() && !strings.Contains(sc.Text(), "/auth?") {
	}
	_ = cmd.Process.Signal(os.Interrupt) // the user gives up at the browser
	_, _ = io.Copy(io.Discard, out)
	_ = cmd.Wait()
	checkNoStrays(t, "an abandoned tokenhost login")
	if r, _ := mcpLogin(t, cfg, "tools"); r.code != 0 {
		t.Fatalf("login\n%s", r)
	}
	if st := s.as.stats(t); st.Registered != 1 {
		t.Errorf("%d registrations; the abandoned sign-in's client should have been used", st.Registered)
	}
}
