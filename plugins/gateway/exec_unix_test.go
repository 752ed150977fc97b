//go:build unix

package gateway

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// A helper given up on (here: the caller cancels) is killed with everything it started: a background
// child holding a FIFO open closes it, so the test's reader sees end of file.
func TestHelperChildrenDieWithIt(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "child")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	opened := make(chan *os.File, 1)
	go func() {
		f, err := os.Open(fifo) // returns once the helper's child opened the FIFO for writing
		if err != nil {
			t.Error(err)
		}
		opened <- f
	}()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	helper := script(t, `sleep 100000 > "$1" & exec sleep 100000`)
	done := make(chan error, 1)
	go func() {
		_, err := runCommand(ctx, []string{helper, fifo}, nil, time.Hour, "command")
		done <- err
	}()
	f := <-opened
	if f == nil {
		t.FailNow()
	}
	defer f.Close()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("runCommand after cancel: %v, want context.Canceled", err)
	}
	// A watchdog, not a measurement: the child dies at once; the bound only keeps a failure from hanging.
	_ = f.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.ReadAll(f); err != nil {
		t.Fatalf("the helper's child still holds the FIFO open (%v): it outlived the helper", err)
	}
}
