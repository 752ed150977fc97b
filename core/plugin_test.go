package core

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/internal/fakes"
)

// gatewayHost opens a host whose provider "corp" runs the real gateway plugin as a child process.
func gatewayHost(t *testing.T, logs *logBuffer) (*Host, *fakes.OAuthServer) {
	t.Helper()
	idp := fakes.NewOAuthServer(fakes.OAuthConfig{ClientID: "cid", ClientSecret: "s3cret-value-xyz", ExpiresIn: time.Hour})
	t.Cleanup(idp.Close)
	pc := testProvider("https://llm.example.com/v1")
	pc.Name, pc.Plugin = "corp", "gateway"
	pc.Options = map[string]any{"token_url": idp.TokenURL(), "client_id": "cid", "client_secret": "s3cret-value-xyz"}
	cfg := &config.Config{Providers: []*config.Provider{pc}, Source: "test"}
	if logs == nil {
		logs = &logBuffer{}
	}
	h, err := Open(context.Background(), Options{Config: cfg, Logger: newTestLogger(logs)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h, idp
}

// children returns the pids of this process's live child processes, read from /proc.
func children(t *testing.T) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skip("no /proc on this system")
	}
	me := os.Getpid()
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// Fields after the parenthesised command: state ppid ...
		s := string(stat)
		rest := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(rest) > 1 && rest[0] != "Z" && rest[1] == strconv.Itoa(me) {
			out = append(out, pid)
		}
	}
	return out
}

func TestBuiltinPluginRunsAsChildProcess(t *testing.T) {
	before := len(children(t))
	h, idp := gatewayHost(t, nil)
	tok, err := h.token(context.Background(), "corp")
	if err != nil {
		t.Fatal(err)
	}
	if !idp.Valid(tok.Value) {
		t.Fatal("the token is not one the identity provider issued")
	}
	pid := h.gen.Load().providers["corp"].proc.pid()
	if pid == 0 || pid == os.Getpid() {
		t.Fatalf("plugin pid = %d, want a separate process", pid)
	}
	if got := len(children(t)); got != before+1 {
		t.Fatalf("children = %d, want %d", got, before+1)
	}
	// The connection's TLS key came on a pipe, not in the environment the kernel keeps for the process's life.
	if environ, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ"); err != nil || strings.Contains(string(environ), "PRIVATE KEY") {
		t.Fatalf("the plugin's /proc environ (%v) holds a private key", err)
	}
	h.Close()
	if got := len(children(t)); got != before {
		t.Fatalf("after Close: %d children left, want %d", got, before)
	}
}

func TestKilledPluginIsRestartedOnNextUse(t *testing.T) {
	h, idp := gatewayHost(t, nil)
	p := h.gen.Load().providers["corp"]
	clk := newClock()
	clk.t.Store(time.Now().UnixNano())
	p.cache.now = clk.now
	if _, err := h.token(context.Background(), "corp"); err != nil {
		t.Fatal(err)
	}
	pid := p.proc.pid()
	if err := killPID(pid); err != nil {
		t.Fatal(err)
	}
	clk.advance(2 * time.Hour)       // the cached token expired: the next call must reach the plugin
	idp.SetExpiresIn(24 * time.Hour) // and the new token must not be expired on the advanced clock already
	tok, err := h.token(context.Background(), "corp")
	if err != nil {
		t.Fatalf("second call after kill: %v", err)
	}
	if !idp.Valid(tok.Value) {
		t.Fatal("token after restart not issued by the identity provider")
	}
	if np := p.proc.pid(); np == 0 || np == pid {
		t.Fatalf("pid after restart = %d (was %d), want a new process", np, pid)
	}
	if got := p.proc.startCount(); got != 2 {
		t.Fatalf("starts = %d, want 2", got)
	}
}

func TestPluginLogsReachHostLoggerTaggedWithProvider(t *testing.T) {
	logs := &logBuffer{}
	h, idp := gatewayHost(t, logs)
	p := h.gen.Load().providers["corp"]
	if _, err := h.token(context.Background(), "corp"); err != nil {
		t.Fatal(err)
	}
	pid := p.proc.pid()
	_ = killPID(pid)
	idp.SetExpiresIn(24 * time.Hour) // the new token must not be expired on the advanced clock already
	clk := newClock()
	clk.t.Store(time.Now().Add(3 * time.Hour).UnixNano())
	p.cache.now = clk.now
	if _, err := h.token(context.Background(), "corp"); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if !strings.Contains(out, "provider=corp") {
		t.Fatalf("log lines are not tagged with the provider:\n%s", out)
	}
	if strings.Contains(out, "s3cret-value-xyz") {
		t.Fatal("the client secret reached the log")
	}
}

func TestEmbedderWithoutServeIfPluginGetsClearError(t *testing.T) {
	servePluginChecked.Store(false)
	defer servePluginChecked.Store(true)
	h, _ := gatewayHost(t, nil)
	_, err := h.token(context.Background(), "corp")
	if err == nil || !strings.Contains(err.Error(), "core.ServeIfPlugin()") || !strings.Contains(err.Error(), "PluginExecutable") {
		t.Fatalf("err = %v, want the message naming ServeIfPlugin and PluginExecutable", err)
	}
}

func TestOpenRefusesInPluginMode(t *testing.T) {
	t.Setenv(envBuiltin, "gateway")
	_, err := Open(context.Background(), Options{Config: &config.Config{}})
	if err == nil || !strings.Contains(err.Error(), "ServeIfPlugin") {
		t.Fatalf("err = %v, want a refusal naming ServeIfPlugin", err)
	}
}

// A plugin restarted during a fetch (it crashed since the last one) starts with a timeout of its own: a
// slow start does not use up the fetch's fetch_timeout, which then fails a fetch that would have worked.
func TestRestartDoesNotEatTheFetchTimeout(t *testing.T) {
	t.Setenv("TEST_GATEWAY_START_DELAY", "600ms") // three times the fetch timeout below
	h, idp := gatewayHost(t, nil)
	p := h.gen.Load().providers["corp"]
	p.cfg.FetchTimeout, p.cache.timeout = 200*time.Millisecond, 200*time.Millisecond
	clk := newClock()
	clk.t.Store(time.Now().UnixNano())
	p.cache.now = clk.now
	if _, err := h.token(context.Background(), "corp"); err != nil {
		t.Fatal(err)
	}
	if err := killPID(p.proc.pid()); err != nil {
		t.Fatal(err)
	}
	// Wait until the host has seen the process end (go-plugin notices it when it reaps the process), so
	// that the next fetch restarts it before calling it rather than on a lost connection mid-call.
	for guard := time.Now().Add(time.Minute); !p.proc.exited(); {
		if time.Now().After(guard) {
			t.Fatal("the host never noticed the killed plugin")
		}
		runtime.Gosched()
	}
	clk.advance(2 * time.Hour)
	idp.SetExpiresIn(24 * time.Hour)
	tok, err := h.token(context.Background(), "corp")
	if err != nil {
		t.Fatalf("the fetch after a slow restart failed: %v", err)
	}
	if !idp.Valid(tok.Value) || p.proc.startCount() != 2 {
		t.Fatalf("token valid %v, starts %d; want a token from the restarted plugin", idp.Valid(tok.Value), p.proc.startCount())
	}
}

// exited reports whether p's plugin process has ended and the host knows it.
func (p *pluginProc) exited() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.client != nil && p.client.Exited()
}
