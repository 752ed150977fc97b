//go:build !unix

package main

import "os"

// terminal stands in for the controlling terminal where there is none to ask (see run_terminal_unix.go).
type terminal struct{}

func openTerminal() terminal                    { return terminal{} }
func (terminal) deliversToGroup(os.Signal) bool { return false }
func (terminal) close()                         {}
