//go:build !unix

package core

import "os"

// killPID kills process pid at once, like a crash.
func killPID(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}
