package main

import (
	"fmt"
	"os"
	"strings"
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

// A /proc/<pid>/stat line whose process name holds spaces and parentheses parses by its last ')'.
func TestParseProcStat(t *testing.T) {
	fields := strings.Repeat("0 ", 12) // fields 10 to 21
	line := fmt.Sprintf("123 (my (odd) name) S 77 123 123 0 -1 4194560 %s987654 0 0\n", fields)
	e, err := parseProcStat(line)
	if err != nil || e.ppid != 77 || e.comm != "my (odd) name" || e.start != "987654" {
		t.Fatalf("parsed %+v, %v", e, err)
	}
	for _, bad := range []string{"", "123 no parens", "123 (x) S 1 2"} {
		if _, err := parseProcStat(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}
