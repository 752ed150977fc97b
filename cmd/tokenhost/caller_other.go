//go:build !linux && !darwin

package main

// procInfo is nil where tokenhost cannot tell a process's start time: there is no caller identity.
var procInfo func(pid int) (procEntry, error)
