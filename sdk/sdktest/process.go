package sdktest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/tokenhost/tokenhost/core"
	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/sdk"
)

// providerName is the provider the process suite configures.
const providerName = "plugin-under-test"

// unknownOption is an option no plugin knows, for the BadConfig round trip.
const unknownOption = "sdktest_unknown_option"

// RunPlugin runs the process suite against the plugin binary at path: it starts it through the host's
// real code path (exec, sha256 pin, handshake, mutual TLS, Configure over gRPC) with options, and checks
// what only a separate process can show:
//
//   - a token comes back over gRPC, and Refresh after the upstream rejected it yields another one;
//   - a BadConfig error and its key survive the trip (an unknown option is named as
//     providers.<name>.options.<key>; the plugin must reject unknown options with sdk.Options.Unknown);
//   - a plugin killed with SIGKILL is restarted, and the request that found it dead still succeeds;
//   - the process exits when the host closes;
//   - its log lines reach the host tagged with the provider's name, and it writes nothing to stdout after
//     the handshake.
//
// options must let the plugin fetch tokens, against a fake of its identity system that issues a different
// token on each request. path must be a built binary (go build it in the test, or in TestMain).
func RunPlugin(t *testing.T, path string, options map[string]any) {
	t.Helper()
	logs := &records{}
	up := newUpstream(t)
	h := openHost(t, path, options, up.URL, logs)

	t.Run("TokenOverGRPC", func(t *testing.T) {
		p, err := h.Provider(providerName)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := p.Token(ctxFor(t))
		if err != nil || tok.Value == "" {
			t.Fatalf("Token through the host: %v", err)
		}
	})
	t.Run("RefreshAfterRejection", func(t *testing.T) { up.rejectCurrentAndSend(t, h) })
	t.Run("BadConfigKeySurvives", func(t *testing.T) {
		bad := map[string]any{unknownOption: "x"}
		for k, v := range options {
			bad[k] = v
		}
		h2 := openHost(t, path, bad, up.URL, &records{})
		err := h2.Start(ctxFor(t))[providerName]
		want := "providers." + providerName + ".options." + unknownOption
		if !sdk.IsKind(err, sdk.KindBadConfig) || !strings.Contains(fmt.Sprint(err), want) {
			t.Fatalf("an unknown option: %v (kind %s); want BadConfig naming %s", err, sdk.KindOf(err), want)
		}
	})
	t.Run("RestartedAfterKill", func(t *testing.T) {
		pid := pluginPID(t, h)
		if err := killPID(pid); err != nil {
			t.Fatal(err)
		}
		up.rejectCurrentAndSend(t, h) // the rejected token needs the plugin, which must come back
		if again := pluginPID(t, h); again == pid {
			t.Fatal("the plugin was not restarted")
		}
	})
	t.Run("LogsAndStdout", func(t *testing.T) {
		tagged := 0
		for _, r := range logs.all() {
			if r.provider == providerName {
				tagged++
			}
			if strings.Contains(r.msg, "wrote to stdout") {
				t.Errorf("the plugin wrote to stdout after the handshake")
			}
		}
		if tagged == 0 {
			t.Errorf("no log line of the plugin's process reached the host tagged provider=%s", providerName)
		}
	})
	t.Run("ExitsWhenHostCloses", func(t *testing.T) {
		pid := pluginPID(t, h)
		if err := h.Close(); err != nil {
			t.Fatal(err)
		}
		if exists, err := processExists(pid); exists {
			t.Fatalf("plugin process %d still exists after the host closed (%v)", pid, err)
		}
	})
}

// ctxFor bounds a call of the suite.
func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), callTimeout)
	t.Cleanup(cancel)
	return ctx
}

// openHost opens a host with one provider served by the plugin at path, pinned by its SHA-256.
func openHost(t *testing.T, path string, options map[string]any, upstream string, logs *records) *core.Host {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the plugin binary: %v", err)
	}
	sum := sha256.Sum256(data)
	opts, err := json.Marshal(options) // JSON is YAML
	if err != nil {
		t.Fatalf("options: %v", err)
	}
	// min_refresh_interval 0: the suite rejects refreshed tokens on purpose, which the host would otherwise
	// stop refreshing for a minute.
	yaml := fmt.Sprintf("providers:\n  %s:\n    plugin: %q\n    sha256: %s\n    upstream: %s\n    min_refresh_interval: 0s\n    options: %s\n",
		providerName, path, hex.EncodeToString(sum[:]), upstream, opts)
	cfg, err := config.Parse([]byte(yaml), "sdktest", config.Sources{Environ: os.Environ(), Builtins: core.Builtins()})
	if err != nil {
		t.Fatalf("configuration: %v", err)
	}
	h, err := core.Open(t.Context(), core.Options{Config: cfg, Logger: slog.New(logs)})
	if err != nil {
		t.Fatalf("opening the host: %v", err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

// pluginPID returns the running plugin's process id.
func pluginPID(t *testing.T, h *core.Host) int {
	t.Helper()
	for _, st := range h.Status() {
		if st.Name == providerName && st.PID != 0 {
			return st.PID
		}
	}
	t.Fatal("the plugin is not running")
	return 0
}

// upstream is a loopback API that accepts any bearer except the ones it was told to reject.
type upstream struct {
	*httptest.Server
	mu       sync.Mutex
	rejected map[string]bool
	last     string
}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{rejected: map[string]bool{}}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := r.Header.Get("Authorization")
		u.mu.Lock()
		bad := u.rejected[tok]
		u.last = tok
		u.mu.Unlock()
		if bad || tok == "" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(u.Close)
	return u
}

// rejectCurrentAndSend makes the upstream reject the credential it saw last, then sends a request through
// the host: it must succeed with a new credential from the plugin's Refresh.
func (u *upstream) rejectCurrentAndSend(t *testing.T, h *core.Host) {
	t.Helper()
	c, err := h.Client(providerName)
	if err != nil {
		t.Fatal(err)
	}
	send := func() int {
		req, _ := http.NewRequestWithContext(ctxFor(t), http.MethodGet, u.URL+"/check", nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("request through the host: %v", err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := send(); code != http.StatusOK {
		t.Fatalf("the first request got %d", code)
	}
	u.mu.Lock()
	u.rejected[u.last] = true
	u.mu.Unlock()
	if code := send(); code != http.StatusOK {
		t.Fatalf("after the upstream rejected the token, the request got %d (the plugin's Refresh must return a new token)", code)
	}
}

// records is a slog.Handler that keeps each record's message and provider attribute.
type records struct {
	mu   sync.Mutex
	list []record
}

type record struct{ msg, provider string }

func (r *records) Enabled(context.Context, slog.Level) bool { return true }

func (r *records) Handle(_ context.Context, rec slog.Record) error {
	got := record{msg: rec.Message}
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == "provider" {
			got.provider = a.Value.String()
		}
		return true
	})
	r.mu.Lock()
	r.list = append(r.list, got)
	r.mu.Unlock()
	return nil
}

func (r *records) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &recordsView{r, attrs}
}

func (r *records) WithGroup(string) slog.Handler { return r }

func (r *records) all() []record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]record(nil), r.list...)
}

// recordsView is records with attributes added by Logger.With.
type recordsView struct {
	r     *records
	attrs []slog.Attr
}

func (v *recordsView) Enabled(ctx context.Context, l slog.Level) bool { return true }

func (v *recordsView) Handle(ctx context.Context, rec slog.Record) error {
	rec = rec.Clone()
	rec.AddAttrs(v.attrs...)
	return v.r.Handle(ctx, rec)
}

func (v *recordsView) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &recordsView{v.r, append(append([]slog.Attr(nil), v.attrs...), attrs...)}
}

func (v *recordsView) WithGroup(string) slog.Handler { return v }
