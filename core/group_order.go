package core

import (
	"hash/maphash"

	"github.com/tokenhost/tokenhost/core/config"
)

// orderBuf is the member count a request's try order fits in without a heap allocation.
const orderBuf = 16

// order appends the members' indexes to dst in the order a request tries them: the strategy's order,
// with the member that served affinity last (when the group has an affinity header and the request a
// value) moved to the front.
func (g *group) order(dst []int, affinity string) []int {
	n := len(g.members)
	start := 0
	switch g.cfg.Strategy {
	case config.StrategyRoundRobin:
		start = int((g.next.Add(1) - 1) % uint64(n))
	case config.StrategyLeastRecentlyLimited:
		dst = g.leastRecentlyLimited(dst)
	}
	if len(dst) == 0 {
		for i := range n {
			dst = append(dst, (start+i)%n)
		}
	}
	if affinity == "" {
		return dst
	}
	want, ok := g.sticky.get(g.affinityKey(affinity))
	if !ok {
		return dst
	}
	for i, m := range dst {
		if m == want {
			copy(dst[1:i+1], dst[:i])
			dst[0] = want
			break
		}
	}
	return dst
}

// leastRecentlyLimited appends the members ordered by their last rate limit, oldest first; members never
// limited come first, in the order listed. An insertion sort: groups are small.
func (g *group) leastRecentlyLimited(dst []int) []int {
	for i := range g.members {
		at := g.members[i].limitedAt.Load()
		j := len(dst)
		dst = append(dst, i)
		for j > 0 && g.members[dst[j-1]].limitedAt.Load() > at {
			dst[j] = dst[j-1]
			j--
		}
		dst[j] = i
	}
	return dst
}

// affinityKey hashes an affinity value: the group keeps hashes, not the values callers send.
func (g *group) affinityKey(v string) uint64 { return maphash.String(g.seed, v) }
