// Package flight lets the concurrent callers of a plugin share one token fetch or refresh, while each of
// them can stop waiting for it as soon as its own context ends.
package flight

import (
	"context"
	"crypto/sha256"
	"encoding/hex"

	"golang.org/x/sync/singleflight"

	"github.com/tokenhost/tokenhost/sdk"
)

// Group shares token fetches by key; the zero value is ready to use.
type Group struct {
	sf     singleflight.Group
	joined func() // see Observed
}

// Observed returns a Group that calls joined each time a caller has joined a fetch and is about to wait
// for it, so a test can hold a fetch until every caller shares it.
func Observed(joined func()) *Group { return &Group{joined: joined} }

// Do runs fn once for all concurrent callers with the same key and hands each its result. A caller whose
// ctx ends stops waiting at once with ctx's error; fn goes on for the others. A caller whose ctx has
// already ended gets its error without starting or joining fn (a fn that finishes at once would otherwise
// race the context in the select).
func (g *Group) Do(ctx context.Context, key string, fn func() (sdk.Token, error)) (sdk.Token, error) {
	if err := ctx.Err(); err != nil {
		return sdk.Token{}, err
	}
	ch := g.sf.DoChan(key, func() (any, error) { return fn() })
	if g.joined != nil {
		g.joined()
	}
	select {
	case <-ctx.Done():
		return sdk.Token{}, ctx.Err()
	case r := <-ch:
		if r.Err != nil {
			return sdk.Token{}, r.Err
		}
		return r.Val.(sdk.Token), nil
	}
}

// RefreshKey returns the key of a refresh replacing the token stale: a hash of it, since keys are not kept
// secret.
func RefreshKey(stale string) string {
	sum := sha256.Sum256([]byte(stale))
	return "refresh:" + hex.EncodeToString(sum[:])
}
