package config

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/tokenhost/tokenhost/internal/suggest"
	"github.com/tokenhost/tokenhost/sdk/optval"
)

// Group is one entry of the `groups` block: a name callers use like a provider's, made of member
// providers a request is routed over.
type Group struct {
	// Name is the group's key in the config, used in routes, the CLI and metrics like a provider's name.
	Name string
	// Members are the member providers, in the order the priority strategy tries them.
	Members []GroupMember
	// Strategy picks the member a request tries first: StrategyPriority, StrategyRoundRobin or
	// StrategyLeastRecentlyLimited.
	Strategy string
	// AffinityHeader, when set, is the canonical name of the request header whose value keeps a caller on
	// the member that served that value last.
	AffinityHeader string
}

// GroupMember is one member of a group: a provider and the model names it rewrites.
type GroupMember struct {
	// Provider is the member provider's name.
	Provider string
	// ModelMap rewrites the top-level "model" of a JSON request body sent to this member (from → to).
	ModelMap map[string]string
}

// The strategies of a group.
const (
	// StrategyPriority tries the members in the order listed (the default).
	StrategyPriority = "priority"
	// StrategyRoundRobin starts each request at the next member in turn.
	StrategyRoundRobin = "round_robin"
	// StrategyLeastRecentlyLimited starts with the member whose last rate limit is oldest (never limited first).
	StrategyLeastRecentlyLimited = "least_recently_limited"
)

var strategies = []string{StrategyPriority, StrategyRoundRobin, StrategyLeastRecentlyLimited}

var groupKeys = []string{"members", "strategy", "affinity_header"}

var memberKeys = []string{"provider", "model_map"}

// Group returns the group named name, or nil.
func (c *Config) Group(name string) *Group {
	for _, g := range c.Groups {
		if g.Name == name {
			return g
		}
	}
	return nil
}

// groups checks the groups block against the providers already decoded; groups do not nest.
func (d *decoder) groups(raw map[string]any, providers []*Provider) []*Group {
	var out []*Group
	for _, name := range sortedKeys(raw) {
		if g := d.group(name, raw[name], raw, providers); g != nil {
			out = append(out, g)
		}
	}
	return out
}

// group checks one entry of the groups block; it returns nil when the entry has a problem.
func (d *decoder) group(name string, v any, all map[string]any, providers []*Provider) *Group {
	at := keyPath("groups", name)
	n := len(d.p.list)
	if !validName(name) {
		d.p.add(at, "invalid group name %s: use lower-case letters, digits, \"-\" and \"_\", starting with a letter or digit (the name is a URL path segment and a metric label)", quote(name))
	}
	if slices.ContainsFunc(providers, func(p *Provider) bool { return p.Name == name }) {
		d.p.add(at, "a provider is also named %s; callers reach both by the name, so rename the group or the provider", quote(name))
	}
	m, ok := v.(map[string]any)
	if !ok {
		d.p.add(at, "must be a mapping with members: [provider, ...], got %s", optval.TypeName(v))
		return nil
	}
	d.unknownKeys(at, m, groupKeys)
	g := &Group{Name: name, Strategy: StrategyPriority}
	switch s := m["strategy"].(type) {
	case nil:
	case string:
		if !slices.Contains(strategies, s) {
			d.p.add(at+".strategy", "unknown strategy %s (one of %s)", quote(s), strings.Join(strategies, ", "))
		}
		g.Strategy = s
	default:
		d.p.add(at+".strategy", "must be a string (one of %s), got %s", strings.Join(strategies, ", "), optval.TypeName(s))
	}
	switch h := m["affinity_header"].(type) {
	case nil:
	case string:
		if !validToken(h) {
			d.p.add(at+".affinity_header", "%s is not a valid HTTP header name", quote(h))
		}
		g.AffinityHeader = http.CanonicalHeaderKey(h)
	default:
		d.p.add(at+".affinity_header", "must be a header name, got %s", optval.TypeName(h))
	}
	list, ok := m["members"].([]any)
	switch {
	case m["members"] == nil:
		d.p.add(at+".members", "required: the member providers, tried in order, e.g. members: [azure-east, azure-west]")
	case !ok:
		d.p.add(at+".members", "must be a list of provider names, got %s", optval.TypeName(m["members"]))
	case len(list) == 0:
		d.p.add(at+".members", "must name at least one provider")
	}
	for i, item := range list {
		mb, ok := d.member(index(at+".members", i), item, all, providers)
		if !ok {
			continue
		}
		if slices.ContainsFunc(g.Members, func(o GroupMember) bool { return o.Provider == mb.Provider }) {
			d.p.add(index(at+".members", i), "%s is listed twice; list each member once", quote(mb.Provider))
			continue
		}
		g.Members = append(g.Members, mb)
	}
	if len(d.p.list) > n {
		return nil
	}
	return g
}

// member checks one member: a provider name, or a mapping {provider: name, model_map: {from: to}}.
func (d *decoder) member(at string, v any, groups map[string]any, providers []*Provider) (GroupMember, bool) {
	var mb GroupMember
	switch x := v.(type) {
	case string:
		mb.Provider = x
	case map[string]any:
		d.unknownKeys(at, x, memberKeys)
		p, ok := x["provider"].(string)
		if !ok {
			d.p.add(at+".provider", "required: the member provider's name")
			return mb, false
		}
		mb.Provider = p
		if !d.modelMap(at+".model_map", x["model_map"], &mb) {
			return mb, false
		}
	default:
		d.p.add(at, "must be a provider name or a mapping {provider: name, model_map: {...}}, got %s", optval.TypeName(v))
		return mb, false
	}
	if slices.ContainsFunc(providers, func(p *Provider) bool { return p.Name == mb.Provider }) {
		return mb, true
	}
	if _, isGroup := groups[mb.Provider]; isGroup {
		d.p.add(at, "%s is a group; groups do not nest: list its member providers here instead", quote(mb.Provider))
		return mb, false
	}
	names := make([]string, len(providers))
	for i, p := range providers {
		names[i] = p.Name
	}
	hint := ""
	if s := suggest.Closest(mb.Provider, names); s != "" {
		hint = fmt.Sprintf("did you mean %q? ", s)
	}
	d.p.add(at, "unknown provider %s (%sconfigured providers: %s); add it under providers: or remove it from the group", quote(mb.Provider), hint, strings.Join(names, ", "))
	return mb, false
}

// modelMap checks a member's model_map: a mapping of non-empty model names.
func (d *decoder) modelMap(at string, v any, mb *GroupMember) bool {
	if v == nil {
		return true
	}
	m, ok := v.(map[string]any)
	if !ok {
		d.p.add(at, "must be a mapping of model names (from: to), got %s", optval.TypeName(v))
		return false
	}
	good := true
	mb.ModelMap = make(map[string]string, len(m))
	for _, k := range sortedKeys(m) {
		to, ok := m[k].(string)
		if !ok || to == "" || k == "" {
			d.p.add(keyPath(at, k), "must map a model name to a non-empty model name, got %s", optval.Text(m[k]))
			good = false
			continue
		}
		mb.ModelMap[k] = to
	}
	return good
}
