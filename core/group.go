package core

import (
	"context"
	"fmt"
	"hash/maphash"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/core/cooldown"
	"github.com/tokenhost/tokenhost/internal/hostapi"
	"github.com/tokenhost/tokenhost/sdk"
)

// groupHostSuffix ends the host of every group's base URL. The .invalid top-level domain (RFC 2606) never
// resolves, so a request to a group's base URL that bypasses the host's transport goes nowhere.
const groupHostSuffix = ".group.tokenhost.invalid"

// GroupBaseURL returns the base URL requests to the group name are addressed below when they go through
// the host's transport (a Provider's Client or Transport): the path after it goes below the chosen
// member's upstream, as it would in a request to that member. Provider.Upstream returns it for a group.
func GroupBaseURL(name string) string { return "http://" + name + groupHostSuffix }

// group is one configured group: a router over its members' wrappers. It keeps no token and no breaker of
// its own; what it keeps is how it chooses (round-robin position, affinity) and what it saw (the member
// that served last, failovers, rate limits).
type group struct {
	name      string
	cfg       *config.Group
	h         *Host
	book      cooldown.Book // the host's: cooldowns belong to members, whatever group they were seen through
	base      *url.URL      // GroupBaseURL(name)
	maxReplay int64         // the smallest max_replay_bytes of the members
	members   []groupMember
	next      atomic.Uint64 // round_robin's position
	seed      maphash.Seed
	sticky    stickyMembers
	last      atomic.Pointer[servedNote]
	since     int64            // the configuration generation this group was built in
	endpoint  hostapi.Endpoint // what the proxy addresses the group's requests to (group_host.go)
	pcfg      config.Provider  // what the proxy reads of a provider's configuration, for the group
}

// groupMember is one member as its group keeps it.
type groupMember struct {
	name      string
	modelMap  map[string]string
	limitedAt atomic.Int64 // unix nanoseconds of this member's last 429 seen through the group (0: never)
	limits    atomic.Int32 // consecutive 429s, for cooldown.Backoff when an answer names no reset
	cooling   atomic.Bool  // a cooldown was set through this group and not yet cleared by a success
	served    atomic.Int64
	failovers [reasonCount]atomic.Int64
}

// servedNote is the member that served a group's last request, and when.
type servedNote struct {
	member string
	at     time.Time
}

// newGroup builds the group of gc over the providers of cfg.
func (h *Host) newGroup(gc *config.Group, cfg *config.Config, n int64) *group {
	u, _ := url.Parse(GroupBaseURL(gc.Name))
	g := &group{name: gc.Name, cfg: gc, h: h, book: h.cooldowns, base: u, seed: maphash.MakeSeed(), since: n, maxReplay: minReplay(gc, cfg)}
	g.members = make([]groupMember, len(gc.Members))
	now := time.Now()
	for i, m := range gc.Members {
		g.members[i].name, g.members[i].modelMap = m.Provider, m.ModelMap
		g.book.Cooling(m.Provider, now) // a shared book starts following the member's cooldown in the store now, not on the first request
	}
	g.endpoint = hostapi.Endpoint{Upstream: u, Header: "Authorization", Scheme: "Bearer"}
	g.pcfg = config.Provider{Name: gc.Name, MaxReplayBytes: g.maxReplay}
	return g
}

// lookup finds name in the configuration in effect without building an error: a provider or a group.
func (h *Host) lookup(name string) (*provider, *group) {
	gen := h.gen.Load()
	if p, ok := gen.providers[name]; ok {
		return p, nil
	}
	return nil, gen.groups[name]
}

// token returns the token of the first member, in the order listed, that is not cooling down and gives
// one; it says why each member could not when none can.
func (g *group) token(ctx context.Context) (sdk.Token, error) {
	var why []string
	now := time.Now()
	for i := range g.members {
		m := &g.members[i]
		if r, ok := g.book.Cooling(m.name, now); ok {
			why = append(why, fmt.Sprintf("%s is rate limited until %s (%s)", m.name, r.Until.Format(time.TimeOnly), r.Source))
			continue
		}
		tok, err := (&Provider{h: g.h, name: m.name}).Token(ctx)
		if err == nil {
			return tok, nil
		}
		if ctx.Err() != nil {
			return sdk.Token{}, err
		}
		why = append(why, err.Error())
	}
	return sdk.Token{}, &GroupError{Group: g.name, Reasons: why}
}

// GroupError is returned when no member of a group could take a request or give a token; Err, when set, is
// the last member's error, so errors.As and sdk.KindOf see what failed last.
type GroupError struct {
	// Group is the group's name.
	Group string
	// Reasons say, member by member in the order tried, why each was passed over.
	Reasons []string
	// Err is the last member's error, or nil.
	Err error
}

// Error implements error.
func (e *GroupError) Error() string {
	return fmt.Sprintf("group %s: no member could serve: %s; see `tokenhost check` for each member's next step", e.Group, strings.Join(e.Reasons, "; "))
}

// Unwrap returns the last member's error.
func (e *GroupError) Unwrap() error { return e.Err }

func (e *GroupError) providerName() string { return e.Group }

// stickyMembers remembers, per affinity value, the member that served it last. It holds at most
// maxSticky values; when full it starts afresh (a caller then follows the strategy once more).
type stickyMembers struct {
	mu sync.Mutex
	m  map[uint64]int
}

// maxSticky bounds the affinity values a group remembers.
const maxSticky = 4096

func (s *stickyMembers) get(key uint64) (int, bool) {
	s.mu.Lock()
	i, ok := s.m[key]
	s.mu.Unlock()
	return i, ok
}

func (s *stickyMembers) put(key uint64, member int) {
	s.mu.Lock()
	if s.m == nil || len(s.m) >= maxSticky {
		s.m = make(map[uint64]int)
	}
	s.m[key] = member
	s.mu.Unlock()
}
