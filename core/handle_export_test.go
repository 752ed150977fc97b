package core

import (
	"context"

	"github.com/tokenhost/tokenhost/sdk"
)

// TokenOf asks for provider name's token the way an embedder does (h.Provider(name), then Token), for
// the tests in core_test that ask by name.
func TokenOf(ctx context.Context, h *Host, name string) (sdk.Token, error) { return h.token(ctx, name) }
