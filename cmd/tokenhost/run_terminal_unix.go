//go:build unix

package main

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// terminal is the controlling terminal of `tokenhost run`, consulted to tell the signals a terminal sends
// to its whole foreground process group (Ctrl-C, Ctrl-\) from signals sent to tokenhost alone.
type terminal struct{ tty *os.File }

// openTerminal opens the controlling terminal; without one, every signal is tokenhost's alone.
func openTerminal() terminal {
	f, err := os.Open("/dev/tty")
	if err != nil {
		return terminal{}
	}
	return terminal{tty: f}
}

// deliversToGroup reports whether s most likely came from the terminal to tokenhost's foreground process
// group, which the command shares: passing it on would deliver it twice (most tools read a second Ctrl-C
// as "quit now"). A SIGINT sent to tokenhost by kill(1) while it runs in the foreground is taken for the
// terminal's too; in the background, or without a terminal, every signal is passed on.
func (t terminal) deliversToGroup(s os.Signal) bool {
	if t.tty == nil || (s != syscall.SIGINT && s != syscall.SIGQUIT) {
		return false
	}
	fg, err := unix.IoctlGetInt(int(t.tty.Fd()), unix.TIOCGPGRP)
	return err == nil && fg == unix.Getpgrp()
}

// close releases the terminal.
func (t terminal) close() {
	if t.tty != nil {
		_ = t.tty.Close()
	}
}
