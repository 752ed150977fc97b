//go:build linux

package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/tokenhost/tokenhost/internal/ptytest"
)

// TestTerminalSignalsAreNotPassedOnTwice checks the decision `tokenhost run` makes for each signal, in a
// process of its own: with a controlling terminal whose foreground group is the process's, SIGINT and
// SIGQUIT come from the terminal (which signals the command too) and are not passed on; SIGTERM always is;
// without a terminal every signal is.
func TestTerminalSignalsAreNotPassedOnTwice(t *testing.T) {
	if os.Getenv("TOKENHOST_TTY_PROBE") == "1" {
		tty := openTerminal()
		fmt.Printf("probe INT=%v QUIT=%v TERM=%v\n", tty.deliversToGroup(syscall.SIGINT), tty.deliversToGroup(syscall.SIGQUIT), tty.deliversToGroup(syscall.SIGTERM))
		return
	}
	probe := func(ctty bool) string {
		t.Helper()
		cmd := exec.Command(os.Args[0], "-test.run=^TestTerminalSignalsAreNotPassedOnTwice$")
		cmd.Env = append(os.Environ(), "TOKENHOST_TTY_PROBE=1")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: ctty}
		var out strings.Builder
		cmd.Stdout = &out
		if ctty {
			_, s := ptytest.Open(t)
			cmd.Stdin = s
		}
		if err := cmd.Run(); err != nil {
			t.Fatalf("probe: %v\n%s", err, out.String())
		}
		for _, l := range strings.Split(out.String(), "\n") {
			if strings.HasPrefix(l, "probe ") {
				return l
			}
		}
		t.Fatalf("probe printed no result:\n%s", out.String())
		return ""
	}
	if got, want := probe(true), "probe INT=true QUIT=true TERM=false"; got != want {
		t.Errorf("in the foreground of a terminal: %q, want %q", got, want)
	}
	if got, want := probe(false), "probe INT=false QUIT=false TERM=false"; got != want {
		t.Errorf("without a terminal: %q, want %q", got, want)
	}
}
