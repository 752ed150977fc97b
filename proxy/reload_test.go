package proxy

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/core/config"
)

// A stream that started before a reload removed its provider runs to its end on that provider, while new
// requests already see the new generation: 404 for the provider, generation 2 on /providers and /metrics.
func TestReloadLetsStreamFinishOnRemovedProvider(t *testing.T) {
	src := newFakeSource(time.Hour, time.Now)
	release := make(chan struct{})
	var once sync.Once
	defer once.Do(func() { close(release) })
	up := newUpstream(t, bearerValid(src))
	up.handler = func(w http.ResponseWriter, r *http.Request) {
		if !bearerValid(src)(r) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		<-release
		io.WriteString(w, "data: last\n\n")
	}
	h := newTestHost(t, src, testProvider(up.URL))
	srv := proxyFor(t, h, Options{})

	resp, err := http.Post(srv.URL+"/p/stream", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rd := bufio.NewReader(resp.Body)
	if line, _ := rd.ReadString('\n'); line != "data: first\n" {
		t.Fatalf("first line %q", line)
	}
	if _, err := h.Reload(&config.Config{Source: "test"}); err != nil {
		t.Fatal(err)
	}
	again, err := http.Get(srv.URL + "/p/x")
	if err != nil {
		t.Fatal(err)
	}
	again.Body.Close()
	if again.StatusCode != http.StatusNotFound {
		t.Fatalf("a removed provider answered %d, want 404", again.StatusCode)
	}
	once.Do(func() { close(release) })
	rest, err := io.ReadAll(rd)
	if err != nil || !strings.Contains(string(rest), "data: last") {
		t.Fatalf("the stream after the reload: %q %v", rest, err)
	}

	m, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(m.Body)
	m.Body.Close()
	if !strings.Contains(string(body), "\ntokenhost_config_generation 2\n") {
		t.Fatal("/metrics lacks tokenhost_config_generation 2")
	}
}

// /providers shows the configuration generation in effect and the one each provider was built in.
func TestProvidersShowGeneration(t *testing.T) {
	src := newFakeSource(time.Hour, time.Now)
	up := newUpstream(t, bearerValid(src))
	pc := testProvider(up.URL)
	h := newTestHost(t, src, pc)
	srv := proxyFor(t, h, Options{})
	if _, err := h.Reload(&config.Config{Source: "test", Providers: []*config.Provider{testProvider(up.URL)}}); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(srv.URL + "/providers")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list []struct {
		Generation      int64 `json:"generation"`
		SinceGeneration int64 `json:"since_generation"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Generation != 2 || list[0].SinceGeneration != 1 {
		t.Fatalf("/providers generations %+v; want generation 2, since_generation 1 (unchanged)", list)
	}
}

// A reload that points a provider at another upstream takes effect on the next request, although the
// proxy caches each provider's route; the request counter keeps counting under the provider's name, per
// status, across the reload.
func TestReloadSendsChangedProviderToItsNewUpstream(t *testing.T) {
	src := newFakeSource(time.Hour, time.Now)
	first, second := newUpstream(t, bearerValid(src)), newUpstream(t, bearerValid(src))
	h := newTestHost(t, src, testProvider(first.URL))
	srv := proxyFor(t, h, Options{})
	get := func(want int) {
		t.Helper()
		resp, err := http.Get(srv.URL + "/p/x")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("status %d, want %d", resp.StatusCode, want)
		}
	}
	get(200)
	first.status.Store(http.StatusTeapot)
	get(http.StatusTeapot)
	if _, err := h.Reload(&config.Config{Source: "test", Providers: []*config.Provider{testProvider(second.URL)}}); err != nil {
		t.Fatal(err)
	}
	get(200)
	get(200)
	if a, b := first.requests.Load(), second.requests.Load(); a != 2 || b != 2 {
		t.Fatalf("the first upstream saw %d request(s), the second %d; want 2 and 2", a, b)
	}
	m, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(m.Body)
	m.Body.Close()
	for _, want := range []string{`tokenhost_proxy_requests_total{code="200",provider="p"} 3`, `tokenhost_proxy_requests_total{code="418",provider="p"} 1`} {
		if !strings.Contains(string(body), want+"\n") {
			t.Errorf("/metrics lacks %s:\n%s", want, grepLines(string(body), "tokenhost_proxy_requests_total"))
		}
	}
}
