//go:build unix

package tests

import "syscall"

// reap waits for process pid, a descendant this process has become the parent of, so it leaves no zombie.
func reap(pid int) {
	var ws syscall.WaitStatus
	_, _ = syscall.Wait4(pid, &ws, 0, nil)
}
