package cooldown

import (
	"context"
	"testing"

	"github.com/tokenhost/tokenhost/store"
)

func TestSharedBookSemantics(t *testing.T) {
	st := store.NewMemory()
	defer st.Close()
	b := NewShared(context.Background(), st, "grp/", nil)
	defer b.Close()
	bookSemantics(t, b)
}
