package reach

import (
	"context"
	"sync"
)

// watchKey is the context key of a watch.
type watchKey struct{}

// watch holds the first refusal of the requests made with one context.
type watch struct {
	mu sync.Mutex
	r  *Refused
}

// Watch returns a context that records the first refusal among the requests made with it, and a func
// that returns it (nil when there was none). It finds the refusal where a library's error hides it.
func Watch(ctx context.Context) (context.Context, func() *Refused) {
	w := &watch{}
	return context.WithValue(ctx, watchKey{}, w), func() *Refused {
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.r
	}
}
