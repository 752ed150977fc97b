package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/tokenhost/tokenhost/store/seal"
)

// keyIDName is the backend name of the id of the key that last sealed plugin state. Since names are
// keyed, a host given another key finds nothing under its names and would take the store for empty (and
// seed a sign-in of its own beside the fleet's); this id lets it say so instead. It is no secret: every
// sealed value shows the id of its key.
const keyIDName = "tokenhost:key-id"

// isPluginState reports whether key is a plugin's state, "<provider>/plugin/<name>", which a plugin
// stores without an expiry.
func isPluginState(key string) bool {
	_, rest, _ := strings.Cut(key, "/")
	return strings.HasPrefix(rest, "plugin/")
}

// noteKeyID records the current key's id as the key of the fleet's plugin state, after this host stored
// plugin state where there was none; a failure only loses the hint.
func (s *sealedStore) noteKeyID(ctx context.Context) {
	_ = s.inner.Set(ctx, keyIDName, []byte(s.kr.Current()), 0)
}

// checkKeyID is called when plugin state key is stored under none of this host's names: it is an error
// if the fleet's plugin state is sealed with a key this host does not hold.
func (s *sealedStore) checkKeyID(ctx context.Context, key string) error {
	it, err := s.inner.Get(ctx, keyIDName)
	if err != nil || it.Rev == "" || s.kr.Has(string(it.Value)) {
		return err
	}
	id := string(it.Value)
	if len(id) > 8 {
		id = id[:8] + "…"
	}
	return fmt.Errorf("reading %s (provider %s): nothing is stored under this host's names, and the fleet's plugin state is sealed with a key this host lacks: %w (key id %q, which the configured keys do not include; give this host the fleet's keys, the current one first; if that key is retired for good, delete %s under the store's key prefix)",
		key, strings.SplitN(key, "/", 2)[0], seal.ErrWrongKey, id, keyIDName)
}
