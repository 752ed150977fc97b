package core

import "time"

// GroupStatus describes one group for `check`, `/providers`, the status page and `/metrics`; it never
// holds a token.
type GroupStatus struct {
	// Name is the group's name.
	Name string
	// Strategy is the group's strategy (priority, round_robin, least_recently_limited).
	Strategy string
	// AffinityHeader is the header that keeps a caller on one member, or "".
	AffinityHeader string
	// Members are the members in the order listed.
	Members []MemberStatus
	// LastServed is the member that took the group's last request ("" until one did), at LastServedAt
	// (to the second).
	LastServed   string
	LastServedAt time.Time
	// Generation is the configuration generation this group's state was built in (1: at Open).
	Generation int64
}

// MemberStatus is one member of a group as the group sees it.
type MemberStatus struct {
	// Provider is the member provider's name.
	Provider string
	// Served counts the requests this member took through the group.
	Served int64
	// CoolingUntil is when the member's cooldown ends (zero: not cooling), and CoolingSource what set it
	// ("retry-after", "x-ratelimit-reset-requests", "usage_limit_reached", "default", ...).
	CoolingUntil  time.Time
	CoolingSource string
	// Failovers counts the requests the group passed on to the next member, by reason: "cooling",
	// "rate_limited", "server_error", "unreachable", "breaker_open", "no_token".
	Failovers map[string]int64
}

// Groups returns the status of every configured group, sorted by name.
func (h *Host) Groups() []GroupStatus {
	gen := h.gen.Load()
	now := time.Now()
	out := make([]GroupStatus, 0, len(gen.cfg.Groups))
	for _, gc := range gen.cfg.Groups {
		g := gen.groups[gc.Name]
		if g == nil {
			continue
		}
		st := GroupStatus{Name: g.name, Strategy: g.cfg.Strategy, AffinityHeader: g.cfg.AffinityHeader, Generation: g.since}
		if l := g.last.Load(); l != nil {
			st.LastServed, st.LastServedAt = l.member, l.at.Truncate(time.Second)
		}
		for i := range g.members {
			m := &g.members[i]
			ms := MemberStatus{Provider: m.name, Served: m.served.Load(), Failovers: make(map[string]int64, reasonCount)}
			for r := range reasonCount {
				ms.Failovers[reasonNames[r]] = m.failovers[r].Load()
			}
			if r, ok := g.book.Cooling(m.name, now); ok {
				ms.CoolingUntil, ms.CoolingSource = r.Until, r.Source
			}
			st.Members = append(st.Members, ms)
		}
		out = append(out, st)
	}
	return out
}
