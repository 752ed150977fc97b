package store_test

import (
	"context"
	"fmt"
	"time"

	"github.com/tokenhost/tokenhost/store"
)

// The in-memory backend has the semantics of a shared one: revisions for compare-and-set, and leases that
// one holder at a time takes, each with a larger fencing value.
func ExampleNewMemory() {
	ctx := context.Background()
	s := store.NewMemory()
	defer s.Close()

	ok, _ := s.CompareAndSet(ctx, "gateway/access-token", "", []byte("token-1"), time.Minute)
	again, _ := s.CompareAndSet(ctx, "gateway/access-token", "", []byte("token-2"), time.Minute)
	it, _ := s.Get(ctx, "gateway/access-token")
	fmt.Println(ok, again, string(it.Value))

	l, got, _ := s.Acquire(ctx, "gateway/access-token", time.Minute)
	_, other, _ := s.Acquire(ctx, "gateway/access-token", time.Minute)
	fmt.Println(got, other, l.Fence)
	_ = s.Release(ctx, l)
	next, got, _ := s.Acquire(ctx, "gateway/access-token", time.Minute)
	fmt.Println(got, next.Fence)
	// Output:
	// true false token-1
	// true false 1
	// true 2
}
