//go:build linux || darwin || freebsd

package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tokenhost/tokenhost/core/config"
)

// After a sign-in or sign-out, login and logout say so when a serve of the same configuration runs (it
// keeps the token it holds until it is due), and say nothing when none does.
func TestLoginNotesARunningDaemon(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", shortDir(t))
	cfg := &config.Config{Source: "test.yaml", Providers: []*config.Provider{{Name: "corp"}}}
	var w bytes.Buffer
	noteRunningDaemon(&w, cfg, "corp")
	if w.Len() != 0 {
		t.Fatalf("no daemon runs, yet: %q", w.String())
	}
	ln, err := listenControl(controlPath(cfg))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	noteRunningDaemon(&w, cfg, "corp")
	if out := w.String(); !strings.Contains(out, "tokenhost serve of this configuration is running") || !strings.Contains(out, "corp") || !strings.Contains(out, "restart it") {
		t.Errorf("with a daemon's socket in place: %q", out)
	}
}
