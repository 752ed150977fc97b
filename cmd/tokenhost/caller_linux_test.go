package main

import (
	"os"
	"testing"
)

// This process's own entry in /proc names its parent, and a start time that stays the same.
func TestProcInfoSelf(t *testing.T) {
	e, err := procInfo(os.Getpid())
	if err != nil || e.ppid != os.Getppid() || e.start == "" {
		t.Fatalf("procInfo(self) = %+v, %v; want parent %d", e, err, os.Getppid())
	}
	if again, _ := procInfo(os.Getpid()); again.start != e.start {
		t.Errorf("start time changed: %s then %s", e.start, again.start)
	}
}
