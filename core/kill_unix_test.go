//go:build unix

package core

import "syscall"

// killPID kills process pid with SIGKILL, like a crash.
func killPID(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) }
