package codex

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/tokenhost/tokenhost/plugins/internal/credfile"
	"github.com/tokenhost/tokenhost/sdk"
)

// Fleet mode: when the host offers storage (a provider with shared: true on a host with a fleet store), the
// ChatGPT sign-in lives in that storage under fleetKey, the same for every host of the fleet, and auth.json
// is only this machine's copy of it:
//
//   - storage is seeded once from an auth.json (compare-and-set on an absent key: the first host wins, the
//     others adopt its copy); every write after that raises the sign-in's generation, so a store that lost
//     the sign-in, or holds an older generation than a host last saw there (a Redis restarted without
//     persistence), gets the newest copy a host knows back;
//   - a refresh redeems storage's refresh token (the host holds the fleet's fetch lease around the call) and
//     stores the rotated tokens with compare-and-set before returning the access token;
//   - an auth.json holding a newer sign-in than storage's (another refresh token with a later last_refresh:
//     a new `codex login`, or the local Codex CLI refreshed) replaces storage's copy;
//   - after every change auth.json, where a machine has one, is rewritten under the Codex CLI's locks;
//   - without the store nothing is redeemed (another host may have spent the refresh token this host
//     knows); rotated tokens the store did not take are kept in memory and written first on the next call.

// fleetKey is the storage key of the fleet's sign-in.
const fleetKey = "auth"

// fleetWhere names the fleet's sign-in in messages.
const fleetWhere = "the fleet's host storage"

// maxFleetRounds bounds how often one call re-reads storage after compare-and-set lost to another host.
const maxFleetRounds = 8

// fleet is a source's state in fleet mode.
type fleet struct {
	st sdk.Storage

	mu      sync.Mutex
	pending *rotated  // rotated tokens storage does not hold yet; nil when it holds everything
	last    *authFile // the sign-in last read from (or meant for) storage, served while the store is out of reach
}

// rotated is a sign-in a redeem produced that storage has not taken yet.
type rotated struct {
	a        *authFile // the sign-in as storage should hold it
	replaced string    // the refresh token the redeem spent
}

// fleetState is storage's sign-in as one call read it.
type fleetState struct {
	a   *authFile
	rev string
}

// UseStorage implements sdk.StorageUser: with storage, the sign-in is the fleet's (see fleet.go). Offered
// again, the new storage replaces the old one and rotated tokens not stored yet are kept.
func (s *source) UseStorage(st sdk.Storage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st == nil {
		s.fleet = nil
		return
	}
	fl := &fleet{st: st}
	if old := s.fleet; old != nil {
		old.mu.Lock()
		fl.pending, fl.last = old.pending, old.last
		old.mu.Unlock()
	}
	s.fleet = fl
}

// fleetMode returns the fleet state, or nil when the host offered no storage.
func (s *source) fleetMode() *fleet {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fleet
}

// encodeStored returns the form a sign-in takes in storage: auth.json's tokens object and last_refresh,
// nothing else of the file, and its generation gen.
func encodeStored(a *authFile, gen int64) ([]byte, error) {
	tokens := map[string]string{"id_token": a.idToken, "access_token": a.accessToken, "refresh_token": a.refreshToken}
	if a.accountID != "" {
		tokens["account_id"] = a.accountID
	}
	doc := map[string]any{"tokens": tokens, "generation": gen}
	if !a.lastRefresh.IsZero() {
		doc["last_refresh"] = a.lastRefresh.UTC().Format(time.RFC3339Nano)
	}
	return marshal(doc)
}

// parseStored parses the fleet's stored sign-in, generation included.
func parseStored(v []byte) (*authFile, error) {
	a, err := parseAuth(v)
	if err != nil {
		return nil, err
	}
	var g struct {
		Generation int64 `json:"generation"`
	}
	if json.Unmarshal(v, &g) != nil {
		return nil, credfile.Corrupt("has a generation that is not a number")
	}
	a.gen = g.Generation
	return a, nil
}

// readLocal reads this machine's auth.json for fleet mode: nil and no error when there is none (or it
// holds no ChatGPT sign-in), so the host works from storage alone.
func readLocal(ctx context.Context, cfg *config) (*authFile, error) {
	a, err := credfile.Read(ctx, cfg.authFile, parseAuth)
	var p *credfile.Problem
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.As(err, &p) && p.Reauth:
		return nil, nil
	case err != nil:
		return nil, fileError(cfg.authFile, err)
	case a.apiKeyMode:
		return nil, nil
	}
	return a, nil
}

// hasLocal reports whether this machine has an auth.json at all.
func hasLocal(cfg *config) bool {
	_, err := os.Stat(cfg.authFile)
	return err == nil
}

// newer reports whether the local sign-in f replaces storage's a: another refresh token, refreshed later
// (by last_refresh: the Codex CLI writes no generation, so this compares clocks of two machines).
func newer(f, a *authFile) bool {
	return f != nil && f.refreshToken != "" && f.refreshToken != a.refreshToken && f.lastRefresh.After(a.lastRefresh)
}

// ahead reports whether the sign-in m this host last saw in storage is newer than the one storage holds
// now, a, as after the store lost data and was seeded from a lagging copy: another refresh token, a later
// generation and a later last_refresh. Both must agree: after a loss generations start again (a fresh seed
// may carry a lower one than an older copy a host remembers), and clocks of two hosts may differ.
func ahead(m, a *authFile) bool {
	return m != nil && m.refreshToken != a.refreshToken && m.gen > a.gen && m.lastRefresh.After(a.lastRefresh)
}

// behind reports whether the local sign-in f should be rewritten with storage's a.
func behind(f, a *authFile) bool {
	return f != nil && !newer(f, a) && (f.refreshToken != a.refreshToken || f.accessToken != a.accessToken)
}

// load returns storage's sign-in as it stands, after writing rotated tokens it does not hold yet, seeding
// it from auth.json when absent, replacing it with a newer auth.json, and bringing auth.json in step.
func (fl *fleet) load(ctx context.Context, s *source, cfg *config) (fleetState, error) {
	for range maxFleetRounds {
		v, rev, err := fl.st.Get(ctx, fleetKey)
		if err != nil {
			return fleetState{}, err
		}
		var a *authFile
		if rev != "" {
			if a, err = parseStored(v); err != nil {
				slog.Warn("codex: the fleet's shared sign-in in host storage is damaged; replacing it with this host's auth.json if it has one", "file", cfg.authFile)
				a = nil
			}
		}
		if p := fl.unsaved(); p != nil {
			if a == nil || a.refreshToken == p.replaced || a.gen < p.a.gen {
				gen := p.a.gen
				if a != nil {
					gen = max(gen, a.gen+1)
				}
				if err := fl.put(ctx, rev, p.a, gen); err != nil {
					return fleetState{}, err
				}
				fl.clear(p)
				slog.Debug("codex: rotated tokens written to the fleet's storage")
				continue
			}
			fl.clear(p)
			if a.refreshToken == p.a.refreshToken {
				continue // stored by a concurrent call of this host
			}
			// another host stored a newer sign-in meanwhile
			slog.Info("codex: the fleet's storage holds a newer sign-in than the tokens this host rotated; keeping storage's")
		}
		f, ferr := readLocal(ctx, cfg)
		switch {
		case a == nil:
			seed, from, gen := f, "auth.json", int64(1)
			if last := fl.seen(); last != nil && (seed == nil || last.lastRefresh.After(seed.lastRefresh)) {
				seed, from, gen = last, "the sign-in this host last saw there (the store lost it)", last.gen
			} else if last != nil && last.refreshToken == f.refreshToken {
				gen = last.gen // the file holds what this host last saw in storage
			} else if last != nil {
				gen = last.gen + 1 // the file is newer than what this host saw in storage
			}
			if seed == nil && ferr != nil {
				return fleetState{}, ferr
			}
			if seed == nil {
				return fleetState{}, sdk.ReauthRequired("%s holds no ChatGPT sign-in and this host has none in %s to seed it with; run `codex login` on a host of the fleet (its tokenhost then shares the sign-in), or point auth_file or %s at an auth.json", fleetWhere, cfg.authFile, EnvCodexHome)
			}
			slog.Info("codex: seeding the fleet's shared sign-in", "from", from, "file", cfg.authFile)
			if err := fl.put(ctx, rev, seed, gen); err != nil {
				return fleetState{}, err
			}
			continue // read back (and adopt another host's copy if it won)
		case newer(f, a):
			slog.Info("codex: auth.json holds a newer sign-in than the fleet's; replacing the fleet's", "file", cfg.authFile)
			if err := fl.put(ctx, rev, f, a.gen+1); err != nil {
				return fleetState{}, err
			}
			continue
		case ahead(fl.seen(), a):
			m := fl.seen()
			slog.Warn("codex: the fleet's storage holds an older sign-in than this host last saw there (did the store lose data?); restoring the newer one")
			if err := fl.put(ctx, rev, m, m.gen); err != nil {
				return fleetState{}, err
			}
			continue
		}
		fl.remember(a)
		if behind(f, a) {
			s.syncFile(ctx, cfg, a)
		}
		return fleetState{a: a, rev: rev}, nil
	}
	return fleetState{}, sdk.Unavailable("the sign-in in %s kept changing while this host read it (%d tries); try again", fleetWhere, maxFleetRounds)
}

// put writes a with generation gen over revision rev; a refused compare-and-set is no error (the caller
// reads again).
func (fl *fleet) put(ctx context.Context, rev string, a *authFile, gen int64) error {
	data, err := encodeStored(a, gen)
	if err != nil {
		return sdk.Internal("codex: cannot encode the sign-in for host storage")
	}
	_, err = fl.st.CompareAndSet(ctx, fleetKey, rev, data)
	return err
}

// keep records rotated tokens storage has not taken; they are served until it does.
func (fl *fleet) keep(a *authFile, replaced string) {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if fl.pending == nil {
		fl.pending = &rotated{a: a, replaced: replaced}
	} else {
		fl.pending = &rotated{a: a, replaced: fl.pending.replaced} // storage still holds what the first one replaced
	}
	fl.last = a
}

// unsaved returns the rotated tokens storage does not hold yet, or nil.
func (fl *fleet) unsaved() *rotated {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	return fl.pending
}

// clear forgets p once storage holds it (or something newer), unless keep replaced it meanwhile.
func (fl *fleet) clear(p *rotated) {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if fl.pending == p {
		fl.pending = nil
	}
}

// remember records a as the sign-in last read from storage.
func (fl *fleet) remember(a *authFile) {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if fl.pending == nil {
		fl.last = a
	}
}

// seen returns the sign-in this host last read from storage (or rotated), or nil.
func (fl *fleet) seen() *authFile {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	return fl.last
}

// current is source.current in fleet mode: an API-key auth.json is served as it is (nothing rotates);
// otherwise storage's sign-in. While the store is out of reach and remembered is true (for Token), the
// sign-in last seen (from storage, or this machine's auth.json) is returned when its access token has not
// expired, so Token keeps serving it; it is never redeemed (fleetRefresh reads storage itself). Refresh
// passes false: the token it replaces may be newer than anything remembered.
func (fl *fleet) current(ctx context.Context, s *source, cfg *config, remembered bool) (*authFile, error) {
	if a, err := readAuth(ctx, cfg.authFile); err == nil && a.apiKeyMode {
		return a, nil
	}
	st, err := fl.load(ctx, s, cfg)
	if err == nil {
		return st.a, nil
	}
	if !remembered || !sdk.IsKind(err, sdk.KindUnavailable) {
		return nil, err
	}
	best := fl.seen()
	if f, ferr := readLocal(ctx, cfg); ferr == nil && f != nil && (best == nil || f.exp.After(best.exp)) {
		best = f
	}
	if best == nil || best.accessToken == "" || best.exp.IsZero() || !time.Now().Before(best.exp) {
		return nil, err
	}
	slog.Debug("codex: the fleet's storage is out of reach; serving the last access token seen until it expires", "token", sdk.Fingerprint(best.accessToken), "expiry", best.exp)
	return best, nil
}
