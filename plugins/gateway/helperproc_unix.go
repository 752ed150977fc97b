//go:build unix

package gateway

import (
	"os"
	"os/exec"
	"syscall"
)

// helperGroup starts a helper command in a process group of its own and makes its cancellation (the
// timeout, or the caller giving up) kill that whole group, so whatever the helper started dies with it.
func helperGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	dieWithPlugin(cmd.SysProcAttr)
	cmd.Cancel = func() error {
		if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != syscall.ESRCH {
			return err
		}
		return os.ErrProcessDone
	}
}
