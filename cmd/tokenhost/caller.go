package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// maxCallerWalk bounds how many ancestors callerIdentity looks at before it gives up.
const maxCallerWalk = 32

// shells are the programs callerIdentity looks through: a tool that runs its credential helper through
// a shell (Claude Code's apiKeyHelper) gets a new shell each time, but is itself the same process.
var shells = map[string]bool{"sh": true, "bash": true, "dash": true, "zsh": true, "ash": true, "busybox": true}

// procEntry is what callerIdentity needs of one process: its parent, when it started and its name.
type procEntry struct {
	ppid  int
	start string // opaque; with the pid it names one process, never a later one that reuses the pid
	comm  string
}

// callerIdentity returns who runs this `tokenhost token`: the nearest ancestor process that is not a
// POSIX shell, as "<pid>:<start time>"; "" where the platform cannot tell (procInfo is nil or fails) or
// the walk reaches the init process.
func callerIdentity() string {
	if procInfo == nil {
		return ""
	}
	return callerFrom(os.Getppid(), procInfo)
}

// callerFrom is callerIdentity starting at pid, reading processes with info.
func callerFrom(pid int, info func(pid int) (procEntry, error)) string {
	for range maxCallerWalk {
		if pid <= 1 {
			return ""
		}
		e, err := info(pid)
		if err != nil || e.start == "" {
			return ""
		}
		if !isShell(e.comm) {
			return strconv.Itoa(pid) + ":" + e.start
		}
		pid = e.ppid
	}
	return ""
}

// isShell reports whether comm, a process's name, is a POSIX shell (a login shell's leading "-" aside).
func isShell(comm string) bool {
	return shells[filepath.Base(strings.TrimPrefix(comm, "-"))]
}
