package config

import (
	"reflect"
	"strings"
	"testing"
)

const groupProviders = `
providers:
  azure-east: { plugin: azure, upstream: https://east.example.com/openai }
  azure-west: { plugin: azure, upstream: https://west.example.com/openai }
  corp: { plugin: gateway }
`

func TestGroupBothMemberForms(t *testing.T) {
	cfg := mustParse(t, groupProviders+`
groups:
  chat:
    members: [azure-east, {provider: azure-west, model_map: {gpt-4o: west-gpt4o}}, corp]
    strategy: round_robin
    affinity_header: session_id
  solo:
    members: [corp]
`)
	want := []*Group{
		{Name: "chat", Strategy: StrategyRoundRobin, AffinityHeader: "Session_id", Members: []GroupMember{
			{Provider: "azure-east"}, {Provider: "azure-west", ModelMap: map[string]string{"gpt-4o": "west-gpt4o"}}, {Provider: "corp"}}},
		{Name: "solo", Strategy: StrategyPriority, Members: []GroupMember{{Provider: "corp"}}},
	}
	if !reflect.DeepEqual(cfg.Groups, want) {
		t.Errorf("groups:\n got %+v\nwant %+v", cfg.Groups, want)
	}
	if cfg.Group("chat") != cfg.Groups[0] || cfg.Group("corp") != nil {
		t.Error("Group looks up groups by name only")
	}
}

func TestGroupMembersFromEnvironment(t *testing.T) {
	cfg := mustParse(t, groupProviders, "TOKENHOST_GROUPS__CHAT__MEMBERS=corp, azure-east")
	g := cfg.Group("chat")
	if g == nil || len(g.Members) != 2 || g.Members[0].Provider != "corp" || g.Members[1].Provider != "azure-east" {
		t.Fatalf("group from the environment: %+v", g)
	}
}

func TestGroupErrorsNameTheKey(t *testing.T) {
	for _, c := range []struct{ name, groups, want string }{
		{"unknown member", "chat: {members: [azure-east, azur-west]}", `groups.chat.members[1]: unknown provider "azur-west" (did you mean "azure-west"?`},
		{"collides with a provider", "corp: {members: [azure-east]}", `groups.corp: a provider is also named "corp"`},
		{"empty members", "chat: {members: []}", "groups.chat.members: must name at least one provider"},
		{"missing members", "chat: {strategy: priority}", "groups.chat.members: required"},
		{"nested group", "inner: {members: [corp]}\n  chat: {members: [inner, corp]}", `groups.chat.members[0]: "inner" is a group; groups do not nest`},
		{"duplicate member", "chat: {members: [corp, corp]}", `groups.chat.members[1]: "corp" is listed twice`},
		{"unknown strategy", "chat: {members: [corp], strategy: random}", `groups.chat.strategy: unknown strategy "random"`},
		{"bad header", "chat: {members: [corp], affinity_header: \"a b\"}", "groups.chat.affinity_header:"},
		{"unknown key", "chat: {members: [corp], stratgy: priority}", `groups.chat.stratgy: unknown key (did you mean "strategy"?)`},
		{"member key typo", "chat: {members: [{provider: corp, modelmap: {a: b}}]}", `groups.chat.members[0].modelmap: unknown key (did you mean "model_map"?)`},
		{"empty model", "chat: {members: [{provider: corp, model_map: {gpt-4o: \"\"}}]}", "groups.chat.members[0].model_map.gpt-4o: must map a model name"},
		{"member without provider", "chat: {members: [{model_map: {a: b}}]}", "groups.chat.members[0].provider: required"},
		{"bad name", "Chat: {members: [corp]}", `groups.Chat: invalid group name "Chat"`},
		{"not a mapping", "chat: [corp]", "groups.chat: must be a mapping"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseYAML(t, groupProviders+"groups:\n  "+c.groups+"\n")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestShowGroups(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "tokenhost.yaml", groupProviders+"groups:\n  chat:\n    members: [corp, {provider: azure-east, model_map: {gpt-4o: east-4o}}]\n")
	out, err := Show(Sources{File: path, Builtins: builtins, Dir: dir}, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"groups:\n  chat:\n",
		`    members: ["corp",{"model_map":{"gpt-4o":"east-4o"},"provider":"azure-east"}]  # file ` + path,
		"    strategy: priority  # default",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("config show lacks %q:\n%s", want, out)
		}
	}
}

// config show --provider takes a group's name too, and a mistyped one gets the groups among the names.
func TestShowOneGroup(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "tokenhost.yaml", groupProviders+"groups:\n  chat:\n    members: [corp, azure-east]\n  other:\n    members: [corp]\n")
	s := Sources{File: path, Builtins: builtins, Dir: dir}
	out, err := Show(s, "chat")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "groups:\n  chat:\n") || strings.Contains(out, "providers:") || strings.Contains(out, "other:") {
		t.Errorf("show --provider chat: want group chat alone\n%s", out)
	}
	_, err = Show(s, "chta")
	want := `no provider or group "chta" in ` + path + ` (did you mean "chat"? configured: azure-east, azure-west, corp, chat, other)`
	if err == nil || err.Error() != want {
		t.Errorf("show --provider chta:\n got %v\nwant %s", err, want)
	}
}
