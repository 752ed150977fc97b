//go:build unix

package sdktest

import (
	"errors"
	"syscall"
)

// killPID kills process pid with SIGKILL, like a crash.
func killPID(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) }

// processExists reports whether process pid still exists, and the error of asking when it is not plainly gone.
func processExists(pid int) (bool, error) {
	err := syscall.Kill(pid, 0)
	return !errors.Is(err, syscall.ESRCH), err
}
