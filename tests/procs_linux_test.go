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
	"time"

	"golang.org/x/sys/unix"
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
	// dying reports that the process has been sent SIGKILL: it runs none of its own code again, but
	// kill(2) returns before the scheduler has let it act on the signal and finish its exit (a process
	// on a loaded machine can wait a while for that), and only its parent can wait for that end.
	dying bool
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
		if ppid == parent && isTestServer(string(cmdline)) {
			continue // a test's own Node server (testdata/mcpas), not a program's leftover
		}
		desc := strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " "))
		if desc == "" {
			desc = exe
		}
		out = append(out, proc{pid: pid, desc: fmt.Sprintf("%s, parent %d", desc, ppid), dying: sigkillPending(pid)})
	}
	return out, nil
}

// sigkillPending reports whether SIGKILL is pending for pid, for the process (ShdPnd: kill(2) of it or
// of its group) or one of its threads (SigPnd), in /proc/<pid>/status. The bit stays set from the kill
// until the process is reaped, through its whole exit.
func sigkillPending(pid int) bool {
	status, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(status), "\n") {
		key, val, _ := strings.Cut(line, ":")
		if key != "SigPnd" && key != "ShdPnd" {
			continue
		}
		if mask, err := strconv.ParseUint(strings.TrimSpace(val), 16, 64); err == nil && mask&(1<<(syscall.SIGKILL-1)) != 0 {
			return true
		}
	}
	return false
}

// awaitExit waits up to within for pid to end (become a zombie or disappear) and reports whether it
// did. A pidfd becomes readable when its process ends, so this works for a process that is not this
// test's child, without polling.
func awaitExit(pid int, within time.Duration) bool {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return err == unix.ESRCH // already gone
	}
	defer unix.Close(fd)
	deadline := time.Now().Add(within)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, int(left.Milliseconds())+1)
		if err == unix.EINTR {
			continue
		}
		return err == nil && n > 0
	}
}
