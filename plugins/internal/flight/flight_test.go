package flight

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tokenhost/tokenhost/sdk"
)

func TestObservedGroupSharesOneFetch(t *testing.T) {
	const n = 10
	var joined, done sync.WaitGroup
	joined.Add(n)
	g := Observed(joined.Done)
	release := make(chan struct{})
	var calls atomic.Int32
	vals := make([]string, n)
	for i := range n {
		done.Add(1)
		go func() {
			defer done.Done()
			tok, _ := g.Do(context.Background(), "k", func() (sdk.Token, error) {
				calls.Add(1)
				<-release
				return sdk.Token{Value: "v"}, nil
			})
			vals[i] = tok.Value
		}()
	}
	joined.Wait() // every caller has joined the one fetch, which cannot finish before release
	close(release)
	done.Wait()
	if got := calls.Load(); got != 1 {
		t.Errorf("fn ran %d times, want 1", got)
	}
	for i, v := range vals {
		if v != "v" {
			t.Errorf("caller %d got %q", i, v)
		}
	}
}

func TestCallerStopsWaitingWhenItsContextEnds(t *testing.T) {
	var g Group
	release := make(chan struct{})
	defer close(release)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := g.Do(ctx, "k", func() (sdk.Token, error) {
		<-release
		return sdk.Token{}, nil
	})
	if err != context.Canceled {
		t.Errorf("Do with an ended context: %v, want context.Canceled", err)
	}
}

// TestDoWithAnEndedContextFails: a caller whose context has already ended gets its error, even when fn
// would answer at once (a select between that answer and the context's end could pick either).
func TestDoWithAnEndedContextFails(t *testing.T) {
	var g Group
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for i := range 100000 {
		if _, err := g.Do(ctx, "k", func() (sdk.Token, error) { return sdk.Token{Value: "instant"}, nil }); err == nil {
			t.Fatalf("call %d with an ended context succeeded; want the context's error", i)
		}
	}
}
