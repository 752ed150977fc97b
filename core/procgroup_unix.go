//go:build unix

package core

import (
	"os/exec"
	"syscall"
)

// ownProcessGroup starts the plugin in a process group of its own, so that stopping it also stops any
// process it started (which would otherwise keep its output pipes, and the host, waiting), and so that a
// terminal's Ctrl-C reaches the host, which then closes plugins in order.
func ownProcessGroup(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }

// killProcessGroup kills every process in the group led by pid.
func killProcessGroup(pid int) {
	if pid > 0 {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
}
