package gateway

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"sync"
	"testing"
	"time"
)

// withClock replaces the device flow's clock.
func withClock(c clock) option {
	return func(s *source) { s.clock = c }
}

// withWait gives the device flow a stepClock that calls wait at each pause.
func withWait(wait func(ctx context.Context, d time.Duration) error) option {
	return withClock(&stepClock{now: time.Now(), wait: wait})
}

// stepClock is a device-flow clock whose time moves only by the pauses the flow takes; each pause returns
// at once (after calling wait, when set) and is recorded.
type stepClock struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
	wait  func(ctx context.Context, d time.Duration) error
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.waits = append(c.waits, d)
	c.mu.Unlock()
	if c.wait != nil {
		return c.wait(ctx, d)
	}
	return nil
}

func readStore(t *testing.T, path string) signIn {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	si, err := parseSignIn(data)
	if err != nil {
		t.Fatal(err)
	}
	return si
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func writePEM(t *testing.T, path string, key any) {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
