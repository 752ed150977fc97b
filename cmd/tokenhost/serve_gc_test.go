package main

import (
	"os"
	"runtime/debug"
	"testing"
)

// serve sets GOGC=400 for its small, busy heap, unless the operator set GOGC.
func TestServeGCPercent(t *testing.T) {
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)
	if v, ok := os.LookupEnv("GOGC"); ok {
		defer os.Setenv("GOGC", v)
	} else {
		defer os.Unsetenv("GOGC")
	}
	os.Unsetenv("GOGC")
	serverGC()
	if got := debug.SetGCPercent(100); got != serveGCPercent {
		t.Fatalf("without GOGC serve runs at GOGC=%d, want %d", got, serveGCPercent)
	}
	t.Setenv("GOGC", "100")
	serverGC()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("with GOGC=100 set, serve changed it to %d", got)
	}
}
