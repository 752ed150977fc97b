package redisstore_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/internal/redistest"
)

// BenchmarkLeaseAcquireRelease is one refresh lease taken and given back on a loopback Redis.
func BenchmarkLeaseAcquireRelease(b *testing.B) {
	srv := redistest.Start(b)
	s := open(b, srv.URL(), "b:", newKey(b), 2*time.Second)
	ctx := context.Background()
	for b.Loop() {
		l, ok, err := s.Acquire(ctx, "p/lease", time.Minute)
		if err != nil || !ok {
			b.Fatalf("Acquire = %v, %v", ok, err)
		}
		if err := s.Release(ctx, l); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLeaseAcquireHeld is an Acquire that finds the lease held (what every other host pays).
func BenchmarkLeaseAcquireHeld(b *testing.B) {
	srv := redistest.Start(b)
	s := open(b, srv.URL(), "b:", newKey(b), 2*time.Second)
	ctx := context.Background()
	if _, ok, err := s.Acquire(ctx, "p/lease", time.Hour); !ok || err != nil {
		b.Fatalf("Acquire = %v, %v", ok, err)
	}
	for b.Loop() {
		if _, ok, err := s.Acquire(ctx, "p/lease", time.Minute); ok || err != nil {
			b.Fatalf("Acquire of a held lease = %v, %v", ok, err)
		}
	}
}

// BenchmarkWaitForChange is the time from one host's Set to another host's Wait returning the new value:
// two stores (two connection pools, as two hosts have) on one Redis.
func BenchmarkWaitForChange(b *testing.B) {
	srv := redistest.Start(b)
	key := newKey(b)
	writer := open(b, srv.URL(), "b:", key, 2*time.Second)
	waiter := open(b, srv.URL(), "b:", key, 2*time.Second)
	ctx := context.Background()
	if err := writer.Set(ctx, "p/token", []byte("0"), 0); err != nil {
		b.Fatal(err)
	}
	cur, _ := waiter.Get(ctx, "p/token")
	i := 0
	for b.Loop() {
		i++
		got := make(chan error, 1)
		ready := make(chan struct{})
		go func(rev string) {
			close(ready)
			it, err := waiter.Wait(ctx, "p/token", rev)
			cur = it
			got <- err
		}(cur.Rev)
		<-ready
		if err := writer.Set(ctx, "p/token", []byte(strconv.Itoa(i)), 0); err != nil {
			b.Fatal(err)
		}
		if err := <-got; err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetSealed is one read of a sealed value (Redis round trip plus AES-GCM).
func BenchmarkGetSealed(b *testing.B) {
	srv := redistest.Start(b)
	s := open(b, srv.URL(), "b:", newKey(b), 2*time.Second)
	ctx := context.Background()
	if err := s.Set(ctx, "p/token", make([]byte, 2048), 0); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if it, err := s.Get(ctx, "p/token"); err != nil || len(it.Value) != 2048 {
			b.Fatal(err)
		}
	}
}
