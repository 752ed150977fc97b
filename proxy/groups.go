package proxy

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tokenhost/tokenhost/core"
)

// groupJSON is one group's entry of /providers (kind "group"); it never holds a token.
type groupJSON struct {
	Name            string       `json:"name"`
	Kind            string       `json:"kind"`
	Strategy        string       `json:"strategy"`
	AffinityHeader  string       `json:"affinity_header,omitempty"`
	LastServed      string       `json:"last_served,omitempty"`
	LastServedAt    *time.Time   `json:"last_served_at,omitempty"`
	Members         []memberJSON `json:"members"`
	Generation      int64        `json:"generation"`
	SinceGeneration int64        `json:"since_generation"`
}

// memberJSON is one member of a group's entry.
type memberJSON struct {
	Provider  string           `json:"provider"`
	Served    int64            `json:"served"`
	Cooldown  *cooldownJSON    `json:"cooldown,omitempty"`
	Failovers map[string]int64 `json:"failovers"`
}

// cooldownJSON is a cooling member's reset and what said so.
type cooldownJSON struct {
	Until  time.Time `json:"until"`
	Source string    `json:"source"`
}

// groups lists every group's status.
func (px *proxy) groups() []groupJSON {
	var out []groupJSON
	gen := px.in.Generation()
	for _, st := range px.h.Groups() {
		gj := groupJSON{Name: st.Name, Kind: "group", Strategy: st.Strategy, AffinityHeader: st.AffinityHeader, LastServed: st.LastServed,
			Generation: max(gen, st.Generation), SinceGeneration: st.Generation}
		if !st.LastServedAt.IsZero() {
			at := st.LastServedAt
			gj.LastServedAt = &at
		}
		for _, m := range st.Members {
			mj := memberJSON{Provider: m.Provider, Served: m.Served, Failovers: m.Failovers}
			if !m.CoolingUntil.IsZero() {
				mj.Cooldown = &cooldownJSON{Until: m.CoolingUntil, Source: m.CoolingSource}
			}
			gj.Members = append(gj.Members, mj)
		}
		out = append(out, gj)
	}
	return out
}

// providersAndGroups is the body of /providers: every provider's entry, then every group's.
func (px *proxy) providersAndGroups(r *http.Request) []any {
	ps, gs := px.providers(r), px.groups()
	out := make([]any, 0, len(ps)+len(gs))
	for _, p := range ps {
		out = append(out, p)
	}
	for _, g := range gs {
		out = append(out, g)
	}
	return out
}

// groupDescs are the groups' metric descriptions, made on first use.
type groupDescs struct {
	failovers, served, cooldown *prometheus.Desc
}

func newGroupDescs() *groupDescs {
	return &groupDescs{
		failovers: prometheus.NewDesc("tokenhost_group_failovers_total", "Requests a group passed over a member for, by reason: cooling, rate_limited, server_error, unreachable, breaker_open, no_token.", []string{"group", "member", "reason"}, nil),
		served:    prometheus.NewDesc("tokenhost_group_served_total", "Requests a group's member took.", []string{"group", "member"}, nil),
		cooldown:  prometheus.NewDesc("tokenhost_group_member_cooldown_until_timestamp_seconds", "When a member's cooldown after a 429 ends (0: not cooling).", []string{"group", "member"}, nil),
	}
}

// groupCollector exports the groups' counters and cooldowns from the host's snapshot.
type groupCollector struct {
	h *core.Host
	d *groupDescs
}

func (c groupCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.d.failovers
	ch <- c.d.served
	ch <- c.d.cooldown
}

func (c groupCollector) Collect(ch chan<- prometheus.Metric) {
	for _, g := range c.h.Groups() {
		for _, m := range g.Members {
			for reason, n := range m.Failovers {
				ch <- prometheus.MustNewConstMetric(c.d.failovers, prometheus.CounterValue, float64(n), g.Name, m.Provider, reason)
			}
			ch <- prometheus.MustNewConstMetric(c.d.served, prometheus.CounterValue, float64(m.Served), g.Name, m.Provider)
			until := 0.0
			if !m.CoolingUntil.IsZero() {
				until = float64(m.CoolingUntil.Unix())
			}
			ch <- prometheus.MustNewConstMetric(c.d.cooldown, prometheus.GaugeValue, until, g.Name, m.Provider)
		}
	}
}

// pageGroup is one group's card on the status page.
type pageGroup struct {
	Name, Strategy, LastServed string
	Members                    []pageMember
}

// pageMember is one member's row in its group's card.
type pageMember struct {
	Provider, Cooldown, Failovers string
	Cooling                       bool
	Served                        int64
}

func pageGroups(gs []core.GroupStatus, now time.Time) []pageGroup {
	var out []pageGroup
	for _, g := range gs {
		pg := pageGroup{Name: g.Name, Strategy: g.Strategy, LastServed: "none yet"}
		if g.LastServed != "" {
			pg.LastServed = g.LastServed + ", " + agoText(now.Sub(g.LastServedAt))
		}
		for _, m := range g.Members {
			pm := pageMember{Provider: m.Provider, Served: m.Served, Cooldown: "—"}
			if !m.CoolingUntil.IsZero() {
				pm.Cooling = true
				pm.Cooldown = "until " + m.CoolingUntil.Format("15:04:05") + " (" + m.CoolingSource + ")"
			}
			var parts []string
			for _, r := range []string{"cooling", "rate_limited", "server_error", "unreachable", "breaker_open", "no_token"} {
				if n := m.Failovers[r]; n > 0 {
					parts = append(parts, strings.ReplaceAll(r, "_", " ")+" "+strconv.FormatInt(n, 10))
				}
			}
			pm.Failovers = strings.Join(parts, " · ")
			if pm.Failovers == "" {
				pm.Failovers = "none"
			}
			pg.Members = append(pg.Members, pm)
		}
		out = append(out, pg)
	}
	return out
}
