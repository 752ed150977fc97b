//go:build linux

package tests

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// children returns the pids of pid's live child processes.
func children(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so read after its closing parenthesis.
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(f) > 1 && f[0] != "Z" && f[1] == strconv.Itoa(pid) {
			out = append(out, n)
		}
	}
	return out
}

// scrape returns the values of the named unlabelled metrics at url/metrics.
func scrape(t *testing.T, url string, names ...string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		for _, n := range names {
			if v, ok := strings.CutPrefix(sc.Text(), n+" "); ok {
				out[n], _ = strconv.ParseFloat(v, 64)
			}
		}
	}
	return out
}

// flakyUpstream accepts the identity provider's tokens and answers every 100th request 503, as an
// overloaded upstream does.
func flakyUpstream(t *testing.T, valid func(string) bool) (url string, failed *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	failed = &atomic.Int64{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		switch {
		case !valid(tok):
			w.WriteHeader(http.StatusUnauthorized)
		case n.Add(1)%100 == 0:
			failed.Add(1)
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"object":"list","data":[]}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/v1", failed
}

// 10,000 requests through `tokenhost serve`, 1 % of them answered 503 by the upstream, and the plugin
// killed with SIGKILL halfway: afterwards the server holds no more goroutines or open files than it did
// after a warm-up of the same shape (within a small slack for pooled connections), and every request
// after the crash that the upstream did not fail succeeded.
func TestServeLeaksNothing(t *testing.T) {
	g := newGatewayFakes(t)
	upstream, failed := flakyUpstream(t, g.idp.Valid)
	cfg := writeFile(t, "", "tokenhost.yaml", fmt.Sprintf(`
providers:
  corp:
    plugin: gateway
    upstream: %s
    breaker: {failures: 1000, open_for: 1s}
    options:
      grant: client_credentials
      token_url: %s
      client_id: %s
      client_secret_env: CORP_SECRET
`, upstream, g.idp.TokenURL(), g.clientID))
	s := startServe(t, cfg, []string{"CORP_SECRET=" + g.secret})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	var other atomic.Int64 // answers that are neither 200 nor the upstream's own 503
	send := func(n int) {
		var wg sync.WaitGroup
		work := make(chan struct{})
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range work {
					resp, err := client.Get(s.url + "/corp/models")
					if err != nil {
						other.Add(1)
						continue
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusServiceUnavailable {
						other.Add(1)
					}
				}
			}()
		}
		for range n {
			work <- struct{}{}
		}
		close(work)
		wg.Wait()
	}
	const goroutines, fds = "go_goroutines", "process_open_fds"

	send(500) // warm-up: pools filled, plugin started, token cached
	before := scrape(t, s.url, goroutines, fds)
	plugins := children(s.cmd.Process.Pid)
	if len(plugins) != 1 {
		t.Fatalf("serve has %d child processes, want its one plugin", len(plugins))
	}
	send(5000)
	if err := syscall.Kill(plugins[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	g.idp.RevokeAll() // the cached token is rejected: the next request needs the (restarted) plugin
	send(5000)
	client.CloseIdleConnections()

	if n := other.Load(); n != 0 {
		t.Errorf("%d requests ended in neither 200 nor the upstream's 503", n)
	}
	if failed.Load() < 90 {
		t.Errorf("the upstream failed only %d requests; the test did not exercise 5xx", failed.Load())
	}
	// Connections the client just closed take a moment to be torn down on the server's side: wait for
	// the counts to settle back (a hang guard bounds the wait; a leak never settles).
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var after map[string]float64
	for {
		after = scrape(t, s.url, goroutines, fds)
		if after[goroutines] <= before[goroutines]+8 && after[fds] <= before[fds]+4 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("after 10,000 requests and a plugin crash: %v goroutines, %v open files; after the warm-up: %v, %v",
				after[goroutines], after[fds], before[goroutines], before[fds])
		case <-time.After(100 * time.Millisecond): // the poll interval of a condition wait
		}
	}
	t.Logf("goroutines %v → %v, open files %v → %v; upstream failed %d requests", before[goroutines], after[goroutines], before[fds], after[fds], failed.Load())
	if n := len(children(s.cmd.Process.Pid)); n != 1 {
		t.Errorf("serve has %d plugin processes after the crash, want 1", n)
	}
}
