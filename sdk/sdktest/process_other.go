//go:build !unix

package sdktest

import "os"

// killPID kills process pid at once, like a crash.
func killPID(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}

// processExists reports whether process pid still exists: finding it (opening it, on Windows) fails once
// it is gone.
func processExists(pid int) (bool, error) {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false, nil
	}
	_ = p.Release()
	return true, nil
}
