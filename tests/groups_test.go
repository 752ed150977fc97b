package tests

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenhost/tokenhost/internal/nodetools"
	"github.com/tokenhost/tokenhost/internal/redistest"
)

// limitedUpstream answers every request with a 429 whose Retry-After is resetSeconds, counting them.
type limitedUpstream struct {
	srv      *httptest.Server
	requests atomic.Int64
}

func newLimitedUpstream(t *testing.T, resetSeconds int) *limitedUpstream {
	l := &limitedUpstream{}
	l.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.requests.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", fmt.Sprint(resetSeconds))
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, `{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}`)
	}))
	t.Cleanup(l.srv.Close)
	return l
}

// countingFront forwards to target and counts what passes, so a fleet test sees which host sent what.
func countingFront(t *testing.T, target string) (*httptest.Server, *atomic.Int64) {
	u, _ := url.Parse(target)
	rp := httputil.NewSingleHostReverseProxy(u)
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// groupConfig is a configuration with providers east (upstream eastURL) and west (the fakes' upstream),
// both the built-in gateway plugin against g's identity provider, and group chat: [east, west].
func groupConfig(g *gatewayFakes, eastURL, prefix string) string {
	east := provider{name: "east", secretEnv: "CORP_SECRET"}.yaml(g)
	east = strings.Replace(east, "upstream: "+g.up.URL(), "upstream: "+eastURL, 1)
	west := provider{name: "west", secretEnv: "CORP_SECRET"}.yaml(g)
	return prefix + "providers:\n" + east + west + "groups:\n  chat:\n    members: [east, west]\n"
}

func TestGroupThroughServeWithTheOpenAINodeSDK(t *testing.T) {
	node := nodetools.Node(t)
	modules := nodetools.Modules(t, "openai")
	g := newGatewayFakes(t)
	limited := newLimitedUpstream(t, 600)
	cfg := writeFile(t, "", "tokenhost.yaml", groupConfig(g, limited.srv.URL+"/v1", ""))
	s := startServe(t, cfg, []string{"CORP_SECRET=" + g.secret})

	const n = 20
	script := writeFile(t, "", "group.mjs", `
import OpenAI from `+jsString(filepath.Join(modules, "openai", "index.mjs"))+`;
const client = new OpenAI({ baseURL: process.env.BASE, apiKey: "unused", maxRetries: 0 });
let ok = 0;
for (let i = 0; i < `+fmt.Sprint(n)+`; i++) {
  const stream = i % 2 === 1;
  const params = { model: "fake-model", messages: [{ role: "user", content: "hello group " + i }] };
  if (stream) {
    let text = "";
    for await (const c of await client.chat.completions.create({ ...params, stream: true })) text += c.choices[0]?.delta?.content ?? "";
    if (text.includes("hello group " + i)) ok++;
  } else {
    const r = await client.chat.completions.create(params);
    if (r.choices[0].message.content.includes("hello group " + i)) ok++;
  }
}
console.log("ok " + ok);
`)
	cmd := exec.Command(node, script)
	cmd.Env = append(childEnv(t), "BASE="+s.url+"/chat")
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != fmt.Sprintf("ok %d", n) {
		t.Fatalf("node: %v\n%s\n%s", err, redact(string(out)), s.stderr)
	}
	if got := limited.requests.Load(); got != 1 {
		t.Errorf("the rate-limited member got %d requests, want 1 (then cooling)", got)
	}
	var list []map[string]any
	getJSONWith(t, s.url+"/providers", &list)
	for _, e := range list {
		if e["name"] == "chat" && e["last_served"] != "west" {
			t.Errorf("/providers: group chat last served by %v, want west", e["last_served"])
		}
	}
}

func TestGroupTokenAndCheck(t *testing.T) {
	g := newGatewayFakes(t)
	limited := newLimitedUpstream(t, 600)
	cfgText := groupConfig(g, limited.srv.URL+"/v1", "")
	// east cannot get a token: its client secret is wrong.
	cfgText = strings.Replace(cfgText, "client_secret_env: CORP_SECRET", "client_secret_env: EAST_SECRET", 1)
	cfg := writeFile(t, "", "tokenhost.yaml", cfgText)
	env := []string{"CORP_SECRET=" + g.secret, "EAST_SECRET=wrong"}

	tok := tokenhost(t, cfg, env, "token", "chat", "--json")
	var got struct {
		Provider    string `json:"provider"`
		AccessToken string `json:"access_token"`
	}
	if tok.code != 0 || json.Unmarshal([]byte(tok.stdout), &got) != nil || got.Provider != "west" || !g.idp.Valid(got.AccessToken) {
		t.Fatalf("token chat: want west's valid token\n%s", tok)
	}

	check := tokenhost(t, cfg, env, "check")
	if !strings.Contains(check.stdout, "GROUP") || !regexpLine(check.stdout, `chat\s+priority\s+ok\s+1 of 2\s+east FAIL, west ok`) {
		t.Errorf("check shows no line for group chat with west usable\n%s", check)
	}

	env = []string{"CORP_SECRET=wrong", "EAST_SECRET=wrong"}
	bad := tokenhost(t, cfg, env, "token", "chat")
	if bad.code == 0 || !strings.Contains(bad.stderr, "group chat") || !strings.Contains(bad.stderr, "east") || !strings.Contains(bad.stderr, "west") {
		t.Errorf("token chat with no usable member: want a non-zero exit naming each member\n%s", bad)
	}
}

func TestGroupFleetHonoursAMembersCooldown(t *testing.T) {
	srv := redistest.Start(t)
	g := newGatewayFakes(t)
	limited := newLimitedUpstream(t, 5)
	key := strings.TrimSpace(tokenhost(t, "", nil, "store", "keygen").stdout)
	const n = 4
	var fronts []*atomic.Int64
	hosts := serveFleet(t, n, g.idp.URL(), func(tokenURL string) string {
		front, count := countingFront(t, limited.srv.URL)
		fronts = append(fronts, count)
		return strings.ReplaceAll(groupConfig(g, front.URL+"/v1", fleetStore(srv)), g.idp.TokenURL(), tokenURL)
	}, "CORP_SECRET="+g.secret, "STORE_KEY="+key)
	send := func(h *fleetHost) {
		resp, err := http.Post(h.srv.url+"/chat/chat/completions", "application/json", strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
		if err != nil {
			t.Error(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%d %s", resp.StatusCode, redact(string(body)))
		}
	}
	send(hosts[0]) // east answers 429 with Retry-After: 5; host 0 writes east's cooldown to the fleet's store
	if fronts[0].Load() != 1 {
		t.Fatalf("host 0 sent east %d requests, want 1", fronts[0].Load())
	}
	for i, h := range hosts[1:] {
		waitCooling(t, h.srv.url, "chat", "east", fmt.Sprintf("host %d", i+1))
	}
	var wg sync.WaitGroup
	for i, h := range hosts[1:] {
		wg.Go(func() {
			for range 5 {
				send(h)
			}
			if got := fronts[i+1].Load(); got > 1 {
				t.Errorf("host %d sent the cooling member %d requests, want at most one", i+1, got)
			}
		})
	}
	wg.Wait()
	if got, want := g.up.Requests(), int64(1+5*(n-1)); got < want {
		t.Errorf("west served %d requests, want all %d", got, want)
	}
}

// waitCooling waits until the proxy at base shows member of group cooling down on /providers: the
// other host's 429 reached this one through the fleet's store. It fails the test at the hang guard.
func waitCooling(t *testing.T, base, group, member, who string) {
	t.Helper()
	guard := time.Now().Add(hangGuard)
	for {
		var list []struct {
			Name    string `json:"name"`
			Members []struct {
				Provider string          `json:"provider"`
				Cooldown json.RawMessage `json:"cooldown"`
			} `json:"members"`
		}
		getJSONWith(t, base+"/providers", &list)
		for _, e := range list {
			for _, m := range e.Members {
				if e.Name == group && m.Provider == member && len(m.Cooldown) > 0 {
					return
				}
			}
		}
		if time.Now().After(guard) {
			t.Fatalf("%s never learned that %s is cooling down", who, member)
		}
		time.Sleep(10 * time.Millisecond) // polling /providers: the condition has no channel to wait on
	}
}

// getJSONWith decodes url's JSON answer into v.
func getJSONWith(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// regexpLine reports whether some line of s matches the regular expression re.
func regexpLine(s, re string) bool {
	return regexp.MustCompile(`(?m)^` + re).MatchString(s)
}

func TestGroupThroughRunAndEmbedded(t *testing.T) {
	needBinaries(t)
	g := newGatewayFakes(t)
	limited := newLimitedUpstream(t, 600)
	cfg := writeFile(t, "", "tokenhost.yaml", groupConfig(g, limited.srv.URL+"/v1", ""))

	cmd := exec.Command(bins.tokenhost, "run", "chat", "--config", cfg, "--", bins.openai)
	cmd.Dir, cmd.Env = t.TempDir(), childEnv(t, "CORP_SECRET="+g.secret)
	cmd.Stdin = strings.NewReader("go\ngo\ngo\nexit 0\n")
	out, err := cmd.CombinedOutput()
	checkNoStrays(t, "tokenhost run chat")
	if err != nil || !strings.Contains(string(out), "/chat ") || !strings.Contains(string(out), "ok 3") {
		t.Fatalf("run chat: %v\n%s", err, redact(string(out)))
	}
	if got := limited.requests.Load(); got != 1 {
		t.Errorf("the rate-limited member got %d requests through run, want 1 (then cooling)", got)
	}

	// Embedded, with the built-in plugin re-executed from the embedding program: east's secret is wrong, so
	// the group's token is west's.
	bad := strings.Replace(groupConfig(g, limited.srv.URL+"/v1", ""), "client_secret_env: CORP_SECRET", "client_secret_env: EAST_SECRET", 1)
	r := run(t, bins.embed, []string{"serveifplugin", writeFile(t, "", "tokenhost.yaml", bad), "chat"}, "CORP_SECRET="+g.secret, "EAST_SECRET=wrong")
	if tok := strings.TrimSpace(r.stdout); r.code != 0 || !g.idp.Valid(tok) {
		t.Errorf("embedded Provider(\"chat\").Token: want west's valid token\n%s", r)
	}
}

// Commands given a group's name where a provider's is meant, or a mistyped one, say what the group is
// and what to run instead.
func TestGroupNameInCommandErrors(t *testing.T) {
	g := newGatewayFakes(t)
	cfg := writeFile(t, "", "tokenhost.yaml", groupConfig(g, g.up.URL(), ""))
	env := []string{"CORP_SECRET=" + g.secret}

	r := run(t, bins.tokenhost, []string{"run", "chta", "--config", cfg, "--", "true"}, env...)
	if r.code == 0 || !strings.Contains(r.stderr, `unknown provider "chta" (did you mean "chat"? configured: east, west, chat)`) {
		t.Errorf("run with a mistyped group: want the closest name and the group among the names\n%s", r)
	}
	if r := tokenhost(t, cfg, env, "check", "chat"); r.code == 0 || !strings.Contains(r.stderr, "check takes no provider name") ||
		!strings.Contains(r.stderr, "tokenhost token chat") {
		t.Errorf("check chat: want the command that checks one name\n%s", r)
	}
	for _, verb := range []string{"login", "logout"} {
		r := tokenhost(t, cfg, env, verb, "chat")
		if r.code == 0 || !strings.Contains(r.stderr, "group chat has no sign-in of its own (members: east, west)") ||
			!strings.Contains(r.stderr, "tokenhost "+verb+" east") || strings.Contains(r.stderr, "reload") {
			t.Errorf("%s chat: want the group's members and the command to run instead\n%s", verb, r)
		}
	}
}

// config validate counts the groups beside the providers, so a group's absence shows.
func TestGroupCountedByValidate(t *testing.T) {
	g := newGatewayFakes(t)
	cfg := writeFile(t, "", "tokenhost.yaml", groupConfig(g, g.up.URL(), ""))
	r := tokenhost(t, "", []string{"CORP_SECRET=" + g.secret}, "config", "validate", cfg)
	if r.code != 0 || !strings.Contains(r.stdout, ": ok (2 providers, 1 group)") {
		t.Errorf("config validate: want the group counted\n%s", r)
	}
}
