package tests

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// reloadProviderJSON is what the reload test reads of one /providers entry.
type reloadProviderJSON struct {
	Name            string `json:"name"`
	PID             int    `json:"pid"`
	Running         bool   `json:"running"`
	Generation      int64  `json:"generation"`
	SinceGeneration int64  `json:"since_generation"`
	Counters        struct {
		PluginStarts int `json:"plugin_starts"`
	} `json:"counters"`
}

// reloadConfig renders a configuration of gateway providers against g; refreshBefore maps each provider
// to its refresh_before, the one provider-level key the test changes.
func reloadConfig(g *gatewayFakes, refreshBefore map[string]string) string {
	var b strings.Builder
	b.WriteString("providers:\n")
	for _, name := range []string{"changer", "gone", "new", "stay"} {
		rb, ok := refreshBefore[name]
		if !ok {
			continue
		}
		p := provider{name: name, secretEnv: "CORP_SECRET"}
		block := p.yaml(g)
		// refresh_before sits beside upstream: at the provider level, not in options.
		block = strings.Replace(block, "    options:\n", "    refresh_before: "+rb+"\n    options:\n", 1)
		b.WriteString(block)
	}
	return b.String()
}

// replaceFile writes content to path as an editor or a ConfigMap update does: a new file renamed over it.
func replaceFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func providersByName(t *testing.T, s *server) map[string]reloadProviderJSON {
	t.Helper()
	resp, err := http.Get(s.url + "/providers")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list []reloadProviderJSON
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	out := map[string]reloadProviderJSON{}
	for _, p := range list {
		out[p.Name] = p
	}
	return out
}

// TestServeReloadUnderLoad checks that reloads lose no request: at least 1,000 requests run while the
// configuration is reloaded five times (a changed provider, a removed and an added one, an invalid file, a
// fix changing the provider again, SIGHUP with nothing changed), with requests to each provider after every
// reload; none fails, and the plugin of the provider whose configuration never changed keeps its process
// throughout.
func TestServeReloadUnderLoad(t *testing.T) {
	g := newGatewayFakes(t)
	dir := t.TempDir()
	cfg := writeFile(t, dir, "tokenhost.yaml", reloadConfig(g, map[string]string{"stay": "1m", "changer": "1m", "gone": "1m"}))
	s := startServe(t, cfg, []string{"CORP_SECRET=" + g.secret})

	send := func(name string) error {
		resp, err := http.Post(s.url+"/"+name+"/chat/completions", "application/json", strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %d %s", name, resp.StatusCode, body)
		}
		return nil
	}
	for _, name := range []string{"stay", "changer", "gone"} {
		if err := send(name); err != nil {
			t.Fatalf("before any reload: %v\n%s", err, s.stderr)
		}
	}
	before := providersByName(t, s)
	if before["stay"].PID == 0 || before["changer"].PID == 0 || before["stay"].Generation != 1 {
		t.Fatalf("before reloads: %+v", before)
	}

	// The workers alternate between stay and changer. Each request counts toward the step the test had
	// seen applied when the request began (step k: the k-th reload's log line had been read), so a step's
	// requests all ran on the configuration that reload put in place; after each reload the test waits for
	// enough of them to both providers, however far the workers ran ahead while a reload settled.
	names := [2]string{"stay", "changer"}
	var step atomic.Int64
	var perStep [6][len(names)]atomic.Int64 // completed requests by step and provider
	var done, failed atomic.Int64
	progress := make(chan struct{}, 1)
	var failMu sync.Mutex
	var failures []string
	stop := make(chan struct{})
	var stopOnce sync.Once
	var wg sync.WaitGroup
	defer func() { stopOnce.Do(func() { close(stop) }); wg.Wait() }() // also when the test fails early
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := step.Load()
				if err := send(names[i%2]); err != nil {
					failed.Add(1)
					failMu.Lock()
					failures = append(failures, err.Error())
					failMu.Unlock()
				}
				perStep[k][i%2].Add(1)
				done.Add(1)
				select {
				case progress <- struct{}{}:
				default:
				}
			}
		}()
	}
	// waitRequests waits until n requests to each provider have run in the current step.
	waitRequests := func(n int64) {
		t.Helper()
		k := step.Load()
		guard := time.NewTimer(hangGuard)
		defer guard.Stop()
		for perStep[k][0].Load() < n || perStep[k][1].Load() < n {
			select {
			case <-progress:
			case <-guard.C:
				t.Fatalf("in step %d: %d stay and %d changer requests in %s, want %d each\n%s", k, perStep[k][0].Load(), perStep[k][1].Load(), hangGuard, n, s.stderr)
			}
		}
	}
	// reloaded starts the next step, once the reload's log line has been read, and waits for its n
	// requests to each provider; the steps' requests add up to 1,000.
	reloaded := func(n int64) {
		t.Helper()
		step.Add(1)
		waitRequests(n)
	}
	hup := func() {
		if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}

	waitRequests(50) // before any reload
	// 1: the file changes one provider.
	replaceFile(t, cfg, reloadConfig(g, map[string]string{"stay": "1m", "changer": "2m", "gone": "1m"}))
	s.stderr.wait(t, "generation=2")
	reloaded(75)
	// 2: the file removes one provider and adds one.
	replaceFile(t, cfg, reloadConfig(g, map[string]string{"stay": "1m", "changer": "2m", "new": "1m"}))
	s.stderr.wait(t, "generation=3")
	reloaded(75)
	// 3: an invalid file: logged with its key path, the running configuration stays.
	replaceFile(t, cfg, strings.Replace(reloadConfig(g, map[string]string{"stay": "1m", "changer": "2m", "new": "1m"}), "refresh_before: 1m", "refresh_before: soon", 1))
	s.stderr.wait(t, "configuration reload failed")
	s.stderr.wait(t, "refresh_before")
	reloaded(75)
	// 4: a valid file again, with the changed provider changed once more, and a server setting that
	// only a restart applies. The changer requests of this step run on the rebuilt provider, which
	// starts its plugin for them.
	replaceFile(t, cfg, "server:\n  shutdown_grace: 10s\n"+reloadConfig(g, map[string]string{"stay": "1m", "changer": "3m", "new": "1m"}))
	s.stderr.wait(t, "generation=4")
	s.stderr.wait(t, "keys=[server.shutdown_grace]")
	reloaded(75)
	// 5: SIGHUP with nothing changed still makes a new generation, and rebuilds nothing.
	hup()
	s.stderr.wait(t, "generation=5")
	reloaded(150)
	stopOnce.Do(func() { close(stop) })
	wg.Wait()

	if n := failed.Load(); n != 0 {
		t.Fatalf("%d of %d requests failed during reloads, e.g. %q\n%s", n, done.Load(), failures[0], s.stderr)
	}
	if err := send("new"); err != nil {
		t.Fatalf("added provider: %v", err)
	}
	if err := send("gone"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("removed provider still answers: %v", err)
	}
	after := providersByName(t, s)
	if _, ok := after["gone"]; ok {
		t.Fatalf("removed provider listed: %+v", after)
	}
	st, ch := after["stay"], after["changer"]
	if st.PID != before["stay"].PID || st.SinceGeneration != 1 || st.Counters.PluginStarts != 1 {
		t.Fatalf("the unchanged provider's plugin was restarted: before pid %d, after %+v", before["stay"].PID, st)
	}
	if ch.PID == before["changer"].PID || ch.SinceGeneration != 4 || !ch.Running {
		t.Fatalf("the changed provider was not rebuilt: before pid %d, after %+v", before["changer"].PID, ch)
	}
	if st.Generation != 5 || after["new"].SinceGeneration != 3 {
		t.Fatalf("generations: %+v", after)
	}
	s.stderr.wait(t, `provider stopped after a configuration reload replaced or removed it" provider=gone`)
	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), "\ntokenhost_config_generation 5\n") {
		t.Fatalf("metrics lack tokenhost_config_generation 5")
	}
	t.Logf("%d requests during 5 reloads (one invalid): 0 failed; unchanged plugin pid %d kept", done.Load(), st.PID)
}
