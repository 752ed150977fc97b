//go:build linux

package tests

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// prSetChildSubreaper is PR_SET_CHILD_SUBREAPER from <linux/prctl.h>.
const prSetChildSubreaper = 36

// becomeSubreaper makes this process adopt orphaned descendants, so a plugin process left behind by a
// host that already exited becomes visible as a child of the test.
func becomeSubreaper() {
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		fmt.Fprintln(os.Stderr, "tests: PR_SET_CHILD_SUBREAPER failed (stray check covers only the built programs):", errno)
	}
}

// proc is a process found by strayProcesses.
type proc struct {
	pid  int
	desc string
}

// strayProcesses lists the live (not zombie) processes that are children of parent, or that run an
// executable inside dir.
func strayProcesses(parent int, dir string) ([]proc, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var out []proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == parent {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // gone meanwhile, or not ours to read
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses, so cut at the last ')'.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(string(stat[i+1:]))
		if len(fields) < 2 || fields[0] == "Z" || fields[0] == "X" {
			continue
		}
		ppid, _ := strconv.Atoi(fields[1])
		exe, _ := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		inDir := dir != "" && exe != "" && strings.HasPrefix(exe, dir+string(os.PathSeparator))
		if ppid != parent && !inDir {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		// (Redis rewrites its title to "path addr", so split at spaces too.)
		if arg0 := strings.Fields(strings.ReplaceAll(string(cmdline), "\x00", " ") + " x")[0]; ppid == parent && (filepath.Base(arg0) == "redis-server" || filepath.Base(arg0) == "valkey-server") {
			continue // a test's own Redis (internal/redistest), not a program's leftover
		}
		desc := strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " "))
		if desc == "" {
			desc = exe
		}
		out = append(out, proc{pid: pid, desc: fmt.Sprintf("%s, parent %d", desc, ppid)})
	}
	return out, nil
}
