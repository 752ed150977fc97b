package core_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/core"
	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/internal/hosttest"
	"github.com/tokenhost/tokenhost/sdk"
)

// messageCounter is a slog handler that counts log messages.
type messageCounter struct {
	mu   sync.Mutex
	seen map[string]int
}

func (m *messageCounter) Enabled(context.Context, slog.Level) bool { return true }
func (m *messageCounter) Handle(_ context.Context, r slog.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seen[r.Message]++
	return nil
}
func (m *messageCounter) WithAttrs([]slog.Attr) slog.Handler { return m }
func (m *messageCounter) WithGroup(string) slog.Handler      { return m }

func (m *messageCounter) count(prefix string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for msg, c := range m.seen {
		if strings.HasPrefix(msg, prefix) {
			n += c
		}
	}
	return n
}

// waitFor polls cond until it holds or ctx ends (the probe that notices a store is back runs every second).
func waitFor(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("gave up waiting: %s", what)
		case <-tick.C:
		}
	}
}

// TestStoreStatusWithoutStore: a host without a shared store reports none.
func TestStoreStatusWithoutStore(t *testing.T) {
	h, err := core.Open(context.Background(), core.Options{
		Config: &config.Config{Providers: []*config.Provider{hosttest.Provider("https://upstream.example")}}, InProcess: map[string]sdk.Source{"p": &countingIdP{life: time.Hour}},
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if st := h.StoreStatus(); st.Configured || st.String() != "" || h.Status()[0].Store != "" {
		t.Fatalf("no store configured: %+v, Status.Store %q; want nothing", st, h.Status()[0].Store)
	}
}
