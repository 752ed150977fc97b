package core

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/internal/stats"
	"github.com/tokenhost/tokenhost/sdk"
)

// A built-in that a tokenhost binary serves but this program did not compile in is still a valid
// plugin name; using it without PluginExecutable says how to get it, and starts no process.
func TestBuiltinNotCompiledInSaysWhatToDo(t *testing.T) {
	if !slices.Contains(Builtins(), "codex") || BuiltinVersion("codex") != "" {
		t.Fatalf("Builtins() = %v, codex version %q: want codex known by name but not registered here", Builtins(), BuiltinVersion("codex"))
	}
	pc := testProvider("https://chatgpt.com/backend-api/codex")
	pc.Name, pc.Plugin = "c", "codex"
	h, err := Open(context.Background(), Options{Config: &config.Config{Providers: []*config.Provider{pc}, Source: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	_, err = h.token(context.Background(), "c")
	for _, want := range []string{"provider c", "not compiled into this program", "plugins/builtin", "PluginExecutable"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("err = %v, want it to mention %q", err, want)
		}
	}
	if n := h.Status()[0].Stats.PluginStarts; n != 0 {
		t.Fatalf("%d plugin starts, want none", n)
	}
}

func TestRegisterBuiltinRefusesDuplicatesAndEmpty(t *testing.T) {
	for name, register := range map[string]func(){
		"duplicate":   func() { RegisterBuiltin("gateway", "x", func() sdk.Source { return nil }) },
		"empty name":  func() { RegisterBuiltin("", "x", func() sdk.Source { return nil }) },
		"nil factory": func() { RegisterBuiltin("other", "x", nil) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: RegisterBuiltin did not panic", name)
				}
			}()
			register()
		}()
	}
}

// The fetch-latency snapshot is cumulative per bucket, as Prometheus histograms are.
func TestLatencySnapshotIsCumulative(t *testing.T) {
	var l latency
	for _, d := range []time.Duration{500 * time.Microsecond, 3 * time.Millisecond, 3 * time.Millisecond, time.Minute} {
		l.observe(d)
	}
	s := l.snapshot()
	if s.Count != 4 || s.Sum != time.Minute+6500*time.Microsecond {
		t.Fatalf("count %d sum %s, want 4 and 1m0.0065s", s.Count, s.Sum)
	}
	want := map[float64]uint64{.001: 1, .0025: 1, .005: 3, 30: 3}
	for i, ub := range stats.FetchBuckets() {
		if w, ok := want[ub]; ok && s.Buckets[i] != w {
			t.Errorf("bucket ≤%gs = %d, want %d", ub, s.Buckets[i], w)
		}
	}
}
