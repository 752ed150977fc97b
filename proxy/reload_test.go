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
