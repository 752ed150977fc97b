package cooldown

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// bookSemantics checks what every book does in one process: the later reset wins, Clear ends a
// cooldown, a reset ends by itself, members are apart, and a name the book cannot keep is harmless.
func bookSemantics(t *testing.T, b Book) {
	t.Helper()
	ctx := context.Background()
	t0 := time.Now()
	if _, ok := b.Cooling("a", t0); ok {
		t.Fatal("a member nobody limited is cooling down")
	}
	first := Reset{Until: t0.Add(time.Minute), Source: SourceRetryAfter}
	if got := b.Limit(ctx, "a", first); !got.Until.Equal(first.Until) || got.Source != first.Source {
		t.Fatalf("Limit returned %+v, want %+v", got, first)
	}
	if r, ok := b.Cooling("a", t0); !ok || !r.Until.Equal(first.Until) {
		t.Fatalf("after Limit, Cooling = %+v, %v; want %+v, true", r, ok, first)
	}
	if _, ok := b.Cooling("a", first.Until); ok {
		t.Fatal("a member is still cooling down at its reset")
	}
	if _, ok := b.Cooling("b", t0); ok {
		t.Fatal("limiting a limited b")
	}
	earlier := Reset{Until: t0.Add(time.Second), Source: SourceRetryAfterMs}
	if got := b.Limit(ctx, "a", earlier); !got.Until.Equal(first.Until) || got.Source != first.Source {
		t.Fatalf("an earlier reset replaced the later one: Limit returned %+v, want %+v", got, first)
	}
	later := Reset{Until: t0.Add(2 * time.Minute), Source: SourceUsageLimit}
	if got := b.Limit(ctx, "a", later); !got.Until.Equal(later.Until) || got.Source != later.Source {
		t.Fatalf("a later reset did not extend the cooldown: Limit returned %+v, want %+v", got, later)
	}
	if r, _ := b.Cooling("a", t0); !r.Until.Equal(later.Until) || r.Source != SourceUsageLimit {
		t.Fatalf("Cooling = %+v, want %+v", r, later)
	}
	b.Clear(ctx, "a")
	if r, ok := b.Cooling("a", t0); ok {
		t.Fatalf("after Clear, a is still cooling down until %v", r.Until)
	}
	if got := b.Limit(ctx, "a", earlier); !got.Until.Equal(earlier.Until) {
		t.Fatalf("after Clear, Limit returned %+v, want %+v", got, earlier)
	}
	b.Clear(ctx, "never-limited")
	if got := b.Limit(ctx, "", first); !got.Until.Equal(first.Until) {
		t.Fatalf("Limit of an empty name returned %+v, want its argument", got)
	}
	if _, ok := b.Cooling("", t0); ok {
		t.Fatal("an empty name is cooling down")
	}
}

func TestLocalBook(t *testing.T) {
	b := NewLocal()
	defer b.Close()
	bookSemantics(t, b)
}

func TestSharedBookWithoutAStoreIsLocal(t *testing.T) {
	b := NewShared(context.Background(), nil, "", nil)
	defer b.Close()
	bookSemantics(t, b)
}

func TestLocalBookIsBounded(t *testing.T) {
	b := NewLocal()
	defer b.Close()
	ctx := context.Background()
	t0 := time.Now()
	r := Reset{Until: t0.Add(time.Minute), Source: SourceDefault}
	for i := range maxMembers {
		b.Limit(ctx, fmt.Sprint("m", i), r)
	}
	if _, ok := b.Cooling("m0", t0); !ok {
		t.Fatal("the first member is not cooling down")
	}
	b.Limit(ctx, "one-too-many", r)
	if _, ok := b.Cooling("one-too-many", t0); ok {
		t.Fatalf("a book holding %d members took one more", maxMembers)
	}
	if _, ok := b.Cooling(fmt.Sprint("m", maxMembers-1), t0); !ok {
		t.Fatal("the last member that fitted is not cooling down")
	}
}
