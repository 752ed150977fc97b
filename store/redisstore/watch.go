package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// watcher holds the store's one pub/sub subscription and wakes the waiters of announced keys.
type watcher struct {
	c       redis.UniversalClient
	channel string
	op      time.Duration

	subMu sync.Mutex // serialises subscription attempts, so a down Redis never blocks mu

	mu      sync.Mutex
	ps      *redis.PubSub
	waiters map[string]chan struct{}
	closed  bool
}

func newWatcher(c redis.UniversalClient, channel string, op time.Duration) *watcher {
	return &watcher{c: c, channel: channel, op: op, waiters: map[string]chan struct{}{}}
}

// start subscribes unless a subscription exists; when Redis is down it returns and Wait falls back to
// polling, and the next Wait tries again.
func (w *watcher) start(ctx context.Context) {
	w.subMu.Lock()
	defer w.subMu.Unlock()
	w.mu.Lock()
	done := w.ps != nil || w.closed
	w.mu.Unlock()
	if done {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, w.op)
	defer cancel()
	ps := w.c.Subscribe(ctx, w.channel)
	if _, err := ps.Receive(ctx); err != nil { // the subscription's confirmation
		_ = ps.Close()
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		_ = ps.Close()
		return
	}
	w.ps = ps
	go w.dispatch(ps.Channel())
}

// dispatch wakes the waiters of every announced key until the subscription closes.
func (w *watcher) dispatch(msgs <-chan *redis.Message) {
	for m := range msgs {
		w.wake(m.Payload)
	}
}

// register returns a channel closed at the next announcement of key.
func (w *watcher) register(key string) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	ch, ok := w.waiters[key]
	if !ok {
		ch = make(chan struct{})
		w.waiters[key] = ch
	}
	return ch
}

// wake closes the waiters' channel of key.
func (w *watcher) wake(key string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if ch, ok := w.waiters[key]; ok {
		close(ch)
		delete(w.waiters, key)
	}
}

// close ends the subscription.
func (w *watcher) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	if w.ps != nil {
		_ = w.ps.Close()
	}
}

// newHolder returns a random lease holder id.
func newHolder() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail on supported platforms
	return hex.EncodeToString(b)
}
