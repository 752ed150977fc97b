package tests

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// helperCorp is provider corp (client credentials against the gateway fakes) with min_refresh_interval
// of an hour, one token cache for every run of a test, and optionally a running `tokenhost serve`.
type helperCorp struct {
	g     *gatewayFakes
	cfg   string
	env   []string
	serve bool
}

func newHelperCorp(t *testing.T, serve bool) *helperCorp {
	t.Helper()
	needBinaries(t)
	g := newGatewayFakes(t)
	cfg := writeFile(t, "", "tokenhost-helper.yaml", fmt.Sprintf(`providers:
  corp:
    plugin: gateway
    upstream: %s
    min_refresh_interval: 1h
    options:
      grant: client_credentials
      token_url: %s
      client_id: %s
      client_secret_env: CORP_SECRET
      auth_style: basic
`, g.up.URL(), g.idp.TokenURL(), g.clientID))
	run, err := os.MkdirTemp("", "th") // short: a Unix socket's path is limited to about 100 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(run) })
	s := &helperCorp{g: g, cfg: cfg, serve: serve,
		env: []string{"CORP_SECRET=" + g.secret, "XDG_CACHE_HOME=" + t.TempDir(), "XDG_RUNTIME_DIR=" + run}}
	if serve {
		startServe(t, cfg, s.env)
		if socks, _ := filepath.Glob(filepath.Join(run, "tokenhost", "*.sock")); len(socks) != 1 {
			t.Fatalf("serve made control sockets %v, want one", socks)
		}
	}
	return s
}

// run runs `tokenhost token corp` with args; wrap, when not "", is a program (timeout) that runs it as
// its child, so that each run has a caller process of its own. This test process is the caller otherwise.
func (s *helperCorp) run(t *testing.T, wrap string, args ...string) result {
	t.Helper()
	argv := append([]string{"token", "corp", "--config", s.cfg}, args...)
	bin := bins.tokenhost
	if wrap != "" {
		argv, bin = append([]string{"120", bins.tokenhost}, argv...), wrap
	}
	if s.serve {
		// Not run(): its stray-process check would count the serve this test keeps running.
		return startBackground(t, t.TempDir(), bin, argv, s.env...).wait(t)
	}
	return run(t, bin, argv, s.env...)
}

// token is run for a helper run that must succeed; it returns the token printed.
func (s *helperCorp) token(t *testing.T, wrap string, args ...string) string {
	t.Helper()
	r := s.run(t, wrap, args...)
	if r.code != 0 || !oneLine(r.stdout) {
		t.Fatalf("token corp %v failed\n%s", args, r)
	}
	return strings.TrimSpace(r.stdout)
}

// accepted reports whether the upstream answers a request with tok with 200.
func (s *helperCorp) accepted(t *testing.T, tok string) bool {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.g.up.URL()+"/models", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func forBoth(t *testing.T, f func(t *testing.T, s *helperCorp)) {
	for _, serve := range []bool{false, true} {
		name := "alone"
		if serve {
			name = "beside-serve"
		}
		t.Run(name, func(t *testing.T) { f(t, newHelperCorp(t, serve)) })
	}
}

// A credential helper's caller (Codex, Claude Code, client-go) runs it again after a 401 without saying
// which token failed: a second `--helper` run by the same process for the same token gets a new token,
// one the upstream accepts, although the revoked one is far from due.
func TestHelperReaskAfterRevocationGetsAcceptedToken(t *testing.T) {
	forBoth(t, func(t *testing.T, s *helperCorp) {
		first := s.token(t, "", "--helper")
		if !s.accepted(t, first) {
			t.Fatal("the upstream rejects the first token")
		}
		s.g.idp.Revoke(first)
		second := s.token(t, "", "--helper")
		if second == first || !s.accepted(t, second) || s.g.idp.Issued() != 2 {
			t.Fatalf("the re-ask after revocation got the same token %v, accepted %v, %d tokens issued; want a new accepted one, 2 issued",
				second == first, s.accepted(t, second), s.g.idp.Issued())
		}
		// A plain call (own empty cache) gets the new token too: beside serve, the daemon holds it.
		plain := s.env
		s.env = append(append([]string(nil), plain...), "XDG_CACHE_HOME="+t.TempDir())
		third := s.token(t, "")
		s.env = plain
		if s.serve && (third != second || s.g.idp.Issued() != 2) {
			t.Fatalf("after the re-ask, the running serve does not hold the new token (same %v, %d issued)", third == second, s.g.idp.Issued())
		}
	})
}

// Ten re-asks by one caller within min_refresh_interval cost the identity provider one token: the first
// refreshes, the others get that newest token, so a broken upstream cannot make a tool stampede it.
func TestHelperReasksWithinIntervalCostOneToken(t *testing.T) {
	forBoth(t, func(t *testing.T, s *helperCorp) {
		first := s.token(t, "", "--helper")
		seen := map[string]bool{}
		for range 10 {
			seen[s.token(t, "", "--helper")] = true
		}
		if got := s.g.idp.Issued(); got != 2 || len(seen) != 1 || seen[first] {
			t.Fatalf("10 re-asks cost %d tokens in all (want 2: the first and one refresh) and printed %d distinct tokens (want 1, not the first)", got, len(seen))
		}
	})
}

// First asks from 20 different caller processes (each run under its own timeout process, as each
// `codex exec` or kubectl command is a process of its own) cost no new token while the cached one is
// good; a second ask by the first caller is a re-ask and refreshes.
func TestHelperFirstAsksFromNewCallersCostNothing(t *testing.T) {
	timeout, err := exec.LookPath("timeout")
	if err != nil {
		t.Skip("no timeout program to run the helper under callers of their own")
	}
	forBoth(t, func(t *testing.T, s *helperCorp) {
		first := s.token(t, "", "--helper")
		for i := range 20 {
			if tok := s.token(t, timeout, "--helper"); tok != first {
				t.Fatalf("caller %d got another token than the cached one", i)
			}
		}
		if got := s.g.idp.Issued(); got != 1 {
			t.Fatalf("20 first asks cost %d tokens, want 1 (the first)", got)
		}
		if again := s.token(t, "", "--helper"); again == first || s.g.idp.Issued() != 2 {
			t.Fatalf("the first caller's second ask did not refresh (same %v, %d issued)", again == first, s.g.idp.Issued())
		}
	})
}

// --output exec-credential prints a client.authentication.k8s.io/v1 ExecCredential whose
// expirationTimestamp is when the token is due (refresh_before, 5 minutes, before the expiry of these
// one-hour tokens), not its expiry.
func TestHelperExecCredential(t *testing.T) {
	forBoth(t, func(t *testing.T, s *helperCorp) {
		r := s.run(t, "", "--output", "exec-credential")
		var ec struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Status     struct {
				Token               string `json:"token"`
				ExpirationTimestamp string `json:"expirationTimestamp"`
			} `json:"status"`
		}
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &ec) != nil {
			t.Fatalf("not an ExecCredential\n%s", r)
		}
		var js struct {
			AccessToken string    `json:"access_token"`
			Expiry      time.Time `json:"expiry"`
		}
		j := s.run(t, "", "--json")
		if j.code != 0 || json.Unmarshal([]byte(j.stdout), &js) != nil {
			t.Fatalf("--json\n%s", j)
		}
		due, err := time.Parse(time.RFC3339, ec.Status.ExpirationTimestamp)
		want := js.Expiry.Add(-5 * time.Minute)
		if ec.APIVersion != "client.authentication.k8s.io/v1" || ec.Kind != "ExecCredential" || ec.Status.Token != js.AccessToken || !s.accepted(t, ec.Status.Token) ||
			err != nil || due.After(want) || want.Sub(due) > 2*time.Second {
			t.Fatalf("ExecCredential %s/%s, same token %v, expirationTimestamp %q (%v); want the due time %s\n%s",
				ec.APIVersion, ec.Kind, ec.Status.Token == js.AccessToken, ec.Status.ExpirationTimestamp, err, want.UTC().Format(time.RFC3339), r)
		}
		if files, _ := filepath.Glob(filepath.Join(strings.TrimPrefix(s.env[1], "XDG_CACHE_HOME="), "tokenhost", "tokens", "*.json")); len(files) != 1 {
			t.Fatalf("cache files %v, want one", files)
		}
	})
}
