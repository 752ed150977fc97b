package core

import (
	"context"
	"log/slog"
	"net/http"
	"reflect"

	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/core/cooldown"
	"github.com/tokenhost/tokenhost/internal/hostapi"
	"github.com/tokenhost/tokenhost/store"
)

// cooldownPrefix goes before the members' cooldown keys in a shared store.
const cooldownPrefix = "groups/"

// newCooldowns returns the book of the members' cooldowns: in the shared store when the host has one, so
// that a 429 one host sees holds for the whole fleet, else in memory.
func newCooldowns(st store.Store, log *slog.Logger) cooldown.Book {
	if st == nil {
		return cooldown.NewLocal()
	}
	return cooldown.NewShared(context.Background(), st, cooldownPrefix, log.With("component", "cooldowns"))
}

// buildGroups builds the groups of cfg for generation n; a group whose configuration old has unchanged
// keeps its state (round-robin position, affinities, counters).
func (h *Host) buildGroups(cfg *config.Config, old *generation, n int64) map[string]*group {
	out := make(map[string]*group, len(cfg.Groups))
	for _, gc := range cfg.Groups {
		if old != nil {
			if og := old.groups[gc.Name]; og != nil && reflect.DeepEqual(*og.cfg, *gc) && og.maxReplay == minReplay(gc, cfg) {
				out[gc.Name] = og
				continue
			}
		}
		out[gc.Name] = h.newGroup(gc, cfg, n)
	}
	return out
}

// minReplay is the smallest max_replay_bytes of gc's members in cfg: how much of a body the group keeps
// for the next member.
func minReplay(gc *config.Group, cfg *config.Config) int64 {
	var n int64
	for _, m := range gc.Members {
		if pc := cfg.Provider(m.Provider); pc != nil && (n == 0 || pc.MaxReplayBytes < n) {
			n = pc.MaxReplayBytes
		}
	}
	return n
}

// groupRef is a group as the proxy holds it for one request (hostapi.Ref). A group holds nothing itself:
// each member is held for its own attempt.
type groupRef struct{ g *group }

var _ hostapi.Ref = groupRef{}

// ref returns the group as a hostapi.Ref.
func (g *group) ref() groupRef { return groupRef{g} }

// ForwardTransport returns the group's router for the proxy's outbound request, which it re-addresses in place.
func (r groupRef) ForwardTransport() http.RoundTripper { return groupForward{r.g} }

// Endpoint returns the group's endpoint: its base URL, under which the proxy addresses requests.
func (r groupRef) Endpoint(context.Context) (*hostapi.Endpoint, error) { return &r.g.endpoint, nil }

// Config returns what the proxy reads of a provider's configuration for the group: its name and replay
// limit.
func (r groupRef) Config() *config.Provider { return &r.g.pcfg }

// Release does nothing: members are released after each attempt.
func (r groupRef) Release() {}
