package tests

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// onlyPlugin returns the pid of the one plugin process parent runs.
func onlyPlugin(t *testing.T, parent int) int {
	t.Helper()
	kids, err := strayProcesses(parent, "")
	if err != nil || len(kids) != 1 {
		t.Fatalf("process %d has children %v (%v), want its one plugin", parent, kids, err)
	}
	return kids[0].pid
}

// waitGone waits until pid no longer runs (gone or a zombie), up to hangGuard; it returns how long that
// took. It polls /proc: the process is not this test's child, so it cannot be waited for.
func waitGone(t *testing.T, pid int) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < hangGuard {
		stat, err := os.ReadFile(filepath.Join("/proc", fmt.Sprint(pid), "stat"))
		if err != nil {
			return time.Since(start)
		}
		if i := strings.LastIndexByte(string(stat), ')'); i >= 0 {
			if f := strings.Fields(string(stat[i+1:])); len(f) > 0 && (f[0] == "Z" || f[0] == "X") {
				return time.Since(start)
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("process %d still runs after %s", pid, hangGuard)
	return 0
}

// stopProcess sends SIGSTOP to pid and waits until every thread of it has stopped. kill(2) returns once
// the signal is queued: one thread is woken to begin the group stop, and until the scheduler runs it the
// process's other threads go on, on a loaded machine long enough to serve a whole call. It polls /proc,
// as waitGone does: the process is not this test's child, so no wait reports its stop.
func stopProcess(t *testing.T, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for time.Since(start) < hangGuard {
		stopped, err := allThreadsStopped(pid)
		if err != nil {
			t.Fatal(err)
		}
		if stopped {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("process %d got SIGSTOP but still runs after %s", pid, hangGuard)
}

// allThreadsStopped reports whether every thread of pid is in the stopped state (T).
func allThreadsStopped(pid int) (bool, error) {
	tasks, err := os.ReadDir(filepath.Join("/proc", fmt.Sprint(pid), "task"))
	if err != nil {
		return false, fmt.Errorf("process %d: %v", pid, err)
	}
	for _, task := range tasks {
		stat, err := os.ReadFile(filepath.Join("/proc", fmt.Sprint(pid), "task", task.Name(), "stat"))
		if err != nil {
			continue // the thread ended meanwhile
		}
		i := strings.LastIndexByte(string(stat), ')')
		if f := strings.Fields(string(stat[i+1:])); i < 0 || len(f) == 0 || f[0] != "T" {
			return false, nil
		}
	}
	return len(tasks) > 0, nil
}

// get sends GET /corp/models through the proxy and returns the status and body.
func get(t *testing.T, s *server) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/corp/models", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("request through serve: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// A plugin killed with SIGKILL while requests flow, and its tokens revoked so every request needs it
// again: the host restarts it and every request succeeds.
func TestPluginKilledDuringSteadyTraffic(t *testing.T) {
	g := newGatewayFakes(t)
	cfg, env := corpConfig(t, g, "")
	s := startServe(t, cfg, env, "--eager")
	old := onlyPlugin(t, s.cmd.Process.Pid)
	const workers, each, killAfter = 4, 25, 20
	var (
		mu     sync.Mutex
		done   int
		failed []string
		wg     sync.WaitGroup
	)
	reached := make(chan struct{})
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				code, body := get(t, s)
				mu.Lock()
				if code != http.StatusOK {
					failed = append(failed, fmt.Sprintf("%d %s", code, body))
				}
				if done++; done == killAfter {
					close(reached)
				}
				mu.Unlock()
			}
		}()
	}
	<-reached
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	g.idp.RevokeAll() // every later request meets a 401 and needs the (dead) plugin
	wg.Wait()
	if len(failed) > 0 {
		t.Fatalf("%d of %d requests failed around the plugin's SIGKILL; first: %s\n%s", len(failed), workers*each, redact(failed[0]), s.stderr)
	}
	if code, body := get(t, s); code != http.StatusOK {
		t.Fatalf("after the restart: %d %s", code, redact(body))
	}
	if now := onlyPlugin(t, s.cmd.Process.Pid); now == old {
		t.Fatal("the killed plugin's pid still runs as the plugin")
	}
}

// A plugin stopped with SIGSTOP (hung): a request that needs it fails after fetch_timeout with an error
// that says so, the proxy keeps answering, the hung process is killed, and the next request runs on a
// new plugin process.
func TestHungPluginIsReplaced(t *testing.T) {
	g := newGatewayFakes(t)
	cfg := writeFile(t, "", "tokenhost-hung.yaml", "providers:\n"+
		provider{name: "corp", secretEnv: "CORP_SECRET"}.yaml(g)+"    fetch_timeout: 2s\n")
	s := startServe(t, cfg, []string{"CORP_SECRET=" + g.secret}, "--eager")
	hungPid := onlyPlugin(t, s.cmd.Process.Pid)
	if code, _ := get(t, s); code != http.StatusOK {
		t.Fatalf("before the stop: %d", code)
	}
	t.Cleanup(func() { _ = syscall.Kill(hungPid, syscall.SIGKILL) })
	stopProcess(t, hungPid) // a plugin still running would fetch a token the revocation does not cover
	g.idp.RevokeAll()
	asked := g.idp.Requests()
	start := time.Now()
	code, body := get(t, s)
	elapsed := time.Since(start)
	if code == http.StatusOK || !strings.Contains(body, "did not answer within the fetch timeout") {
		t.Fatalf("request to a hung plugin: %d %s, want a failure naming the fetch timeout (token requests meanwhile: %d)", code, redact(body), g.idp.Requests()-asked)
	}
	gone := waitGone(t, hungPid)
	t.Logf("hung plugin: the request failed after %s (fetch_timeout 2s); the process was gone %s later", elapsed.Round(time.Millisecond), gone.Round(time.Millisecond))
	if code, body := get(t, s); code != http.StatusOK {
		t.Fatalf("after the hung plugin was declared dead: %d %s\n%s", code, redact(body), s.stderr)
	}
	if now := onlyPlugin(t, s.cmd.Process.Pid); now == hungPid {
		t.Fatal("the hung plugin is still the plugin")
	}
}

// A codex plugin killed with SIGKILL at moments around its write-back of rotated tokens: auth.json is
// always a whole file, holding either the old refresh token or the new one, and a new one in the file is
// live at the endpoint (a completed write never loses the rotation).
func TestPluginKilledDuringWriteBack(t *testing.T) {
	needBinaries(t)
	auth, authFile, cfg := newCodexSetup(t, "reuse_wait: 0s")
	dir := filepath.Dir(authFile)
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	outcomes := map[string]int{}
	for i := range 12 {
		seeded := seedExpiredCodexAuth(t, auth, authFile)
		b := startBackground(t, dir, bins.tokenhost, []string{"token", "codex", "--config", cfg})
		if b.err != nil {
			t.Fatal(b.err)
		}
		if err := auth.WaitDecided(ctx, int64(i+1)); err != nil {
			t.Fatal("the refresh never reached the token endpoint")
		}
		// The kill point moves through the write-back: right after the endpoint decided, then later.
		time.Sleep(time.Duration(i) * 400 * time.Microsecond)
		if kids, err := strayProcesses(b.cmd.Process.Pid, ""); err == nil {
			for _, k := range kids {
				_ = syscall.Kill(k.pid, syscall.SIGKILL)
			}
		}
		b.wait(t)
		access, rt := codexFile(t, authFile) // fails on a truncated or partial file
		switch {
		case rt == seeded:
			outcomes["old file"]++
		case auth.Live(rt) && auth.Valid(access):
			outcomes["new file"]++
		default:
			t.Fatalf("round %d: auth.json holds a refresh token that is neither the old one nor a live new one", i)
		}
	}
	t.Logf("outcomes over 12 kills: %v", outcomes)
	checkNoStrays(t, "tokenhost token codex")
}
