package tests

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestDocsRecipesRun loads every configuration recipe in README.md and docs/**/*.md as written and runs it:
// `tokenhost token <provider>`, then a request through `tokenhost serve` (a tool call for an MCP server),
// and asserts that the upstream saw the credential the recipe's identity system issued (and the recipe's
// extra headers). Only what cannot exist on a test machine is replaced, mechanically and visibly:
//
//   - every URL prefix in recipeHosts becomes the loopback fake named there (no other host may remain);
//   - every absolute path in recipePaths becomes a file the case writes into a temporary directory;
//   - a built-in's default upstream, which a recipe does not write, is pointed at the fake upstream with
//     the documented environment override TOKENHOST_PROVIDERS__<NAME>__UPSTREAM.
//
// The environment variables a case sets for the user are the ones the recipe's page tells the user to
// set; the test fails when one is not named on that page. A recipe no case runs fails the test unless
// recipeAllowList says why it cannot run.
func TestDocsRecipesRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs tokenhost for every recipe in the docs")
	}
	needBinaries(t)
	found := docRecipes(t)
	var ids []string
	for _, rec := range found {
		ids = append(ids, rec.id)
	}
	for id := range recipeCases {
		if !slices.Contains(ids, id) {
			t.Errorf("a case runs %q, which the docs no longer hold; rename or remove the case", id)
		}
	}
	for id := range recipeAllowList {
		if !slices.Contains(ids, id) {
			t.Errorf("the allow-list names %q, which the docs no longer hold; remove it", id)
		}
	}
	ran := 0
	for _, rec := range found {
		c, ok := recipeCases[rec.id]
		if !ok {
			if _, allowed := recipeAllowList[rec.id]; !allowed {
				t.Errorf("no case runs the recipe %q:\n%s\nadd one to recipeCases (or, if it truly cannot run, a reason to recipeAllowList)", rec.id, rec.yaml)
			}
			continue
		}
		t.Run(rec.id, func(t *testing.T) { runRecipe(t, rec, c) })
		ran++
	}
	if ran < 12 {
		t.Errorf("ran %d recipes; the docs hold more than that", ran)
	}
}

// recipeHosts maps every host the recipes name to the loopback fake that stands in for it: "upstream" is
// the API, "idp" the identity provider, "redis" a real redis-server; "mcp" (an MCP server with its
// authorization server) and "documents" (an https server of client ID metadata documents) are started by
// the cases that need them, which set r.hosts.
var recipeHosts = map[string]string{
	"https://llm.corp.example":           "upstream",
	"https://idp.corp.example":           "idp",
	"https://corp.okta.com":              "idp",
	"https://sso.corp.example":           "idp",
	"https://sts.corp.example":           "idp",
	"https://login.corp.example":         "idp",
	"https://idp-gateway.corp.example":   "idp",
	"redis://tokens-cache.internal:6379": "redis",
	"https://tools.example.com/mcp":      "mcp",
	"https://agents.example.com":         "documents",
}

// recipePaths are the absolute paths recipes name; a case writes each one it needs (recipeRun.files),
// and the path becomes that file.
var recipePaths = []string{
	"/etc/tokenhost/okta-service-app.pem",
	"/var/run/secrets/tokens/corp-sts",
}

// recipeAllowList holds the recipes no case runs, each with the reason.
var recipeAllowList = map[string]string{
	"docs/configuration.md › File format": "the reference of every key at its default: its provider has " +
		"`options: {}`, which names no grant or token endpoint to run",
	"docs/serving.md › Binding beyond loopback": "defines no provider to send a request through, and binds " +
		"0.0.0.0, which tests never do; serve_tls_test.go runs TLS and serve_test.go inbound keys",
	"docs/fleet.md › Configuration": "a shape, not a recipe: Redis over TLS (rediss://) and a provider with no " +
		"options; fleet_test.go runs fleets on a real redis-server",
	"docs/fleet.md › Other backends": "names a store backend (acme-kv) that no linked package registers",
	"docs/writing-a-plugin.md › 2. Configure and use it": "names the binary and pin the reader builds; " +
		"docs/walkthrough.md builds, pins and serves such a plugin (TestWalkthroughRunsAsWritten)",
}

// recipe is one configuration recipe in the docs.
type recipe struct {
	id   string // "<file> › <heading>", with " #n" for the n-th block under one heading
	file string // path from the repository root
	page string // the whole page, for the variables it names
	yaml string
}

// docRecipes returns every YAML block of README.md and docs/**/*.md that is a whole configuration (its
// top-level keys are among server, store and providers), and the tokenhost.yaml of every Kubernetes
// ConfigMap block.
func docRecipes(t *testing.T) []recipe {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	files := []string{"README.md"}
	err = filepath.WalkDir(filepath.Join(root, "docs"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".md") {
			rel, _ := filepath.Rel(root, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	var out []recipe
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range yamlBlocks(string(data)) {
			for _, text := range configsIn(t, f, b.text) {
				out = append(out, recipe{id: f + " › " + b.heading, file: f, page: string(data), yaml: text})
			}
		}
	}
	return out
}

type mdBlock struct{ heading, text string }

// yamlBlocks returns the ```yaml blocks of a Markdown page with the heading each sits under (" #n"
// added for the second and later block under one heading).
func yamlBlocks(page string) []mdBlock {
	var out []mdBlock
	heading, lang, n := "(top)", "", map[string]int{}
	var body strings.Builder
	in := false
	sc := bufio.NewScanner(strings.NewReader(page))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case !in && strings.HasPrefix(line, "```"):
			in, lang = true, strings.TrimPrefix(line, "```")
			body.Reset()
		case in && line == "```":
			in = false
			if lang == "yaml" {
				n[heading]++
				h := heading
				if n[heading] > 1 {
					h = fmt.Sprintf("%s #%d", heading, n[heading])
				}
				out = append(out, mdBlock{heading: h, text: body.String()})
			}
		case in:
			body.WriteString(line + "\n")
		case strings.HasPrefix(line, "#"):
			heading = strings.TrimSpace(strings.TrimLeft(line, "#"))
		}
	}
	return out
}

// configsIn returns the tokenhost configurations in one YAML block: the block itself when it is one,
// the tokenhost.yaml of each ConfigMap in it, or nothing (a fragment such as an options block).
func configsIn(t *testing.T, file, text string) []string {
	t.Helper()
	var out []string
	dec := yaml.NewDecoder(strings.NewReader(text))
	for docs := 0; ; docs++ {
		var doc map[string]any
		if err := dec.Decode(&doc); err == io.EOF {
			return out
		} else if err != nil {
			if docs == 0 && !strings.Contains(text, "\n---\n") {
				return nil // not a mapping: a fragment
			}
			t.Fatalf("%s: a YAML block does not parse: %v", file, err)
		}
		if doc["kind"] == "ConfigMap" {
			if data, ok := doc["data"].(map[string]any); ok {
				if cfg, ok := data["tokenhost.yaml"].(string); ok {
					out = append(out, cfg)
				}
			}
			continue
		}
		whole := len(doc) > 0
		for k := range doc {
			whole = whole && (k == "server" || k == "store" || k == "providers")
		}
		if whole {
			out = append(out, text)
		}
	}
}

var leftoverHost = regexp.MustCompile(`[a-z0-9-]+(\.[a-z0-9-]+)*\.(example|internal)\b`)

// runRecipe runs one recipe with its case.
func runRecipe(t *testing.T, rec recipe, c recipeCase) {
	r := newRecipeRun(t)
	c.setup(r)
	cfgText := rec.yaml
	for prefix, role := range recipeHosts {
		to, ok := r.hosts[prefix]
		if !ok {
			to = r.role(role)
		}
		cfgText = strings.ReplaceAll(cfgText, prefix, to)
	}
	for _, p := range recipePaths {
		if content, ok := r.files[p]; ok {
			cfgText = strings.ReplaceAll(cfgText, p, writeFile(t, r.dir, filepath.Base(p), content))
		}
	}
	if h := leftoverHost.FindString(cfgText); h != "" {
		t.Fatalf("the recipe names the host %s, which recipeHosts maps to no fake:\n%s", h, cfgText)
	}
	for _, kv := range r.env {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.Contains(rec.page, name) {
			t.Errorf("the case sets %s, which %s does not tell the user to set", name, rec.file)
		}
	}
	var doc struct {
		Providers map[string]any `yaml:"providers"`
	}
	if err := yaml.Unmarshal([]byte(cfgText), &doc); err != nil || len(doc.Providers) != 1 {
		t.Fatalf("want one provider in the recipe (%v):\n%s", err, cfgText)
	}
	var name string
	for name = range doc.Providers {
	}
	cfg := filepath.Join(r.dir, "tokenhost.yaml")
	if err := os.WriteFile(cfg, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(append([]string(nil), r.mech...), r.env...)
	if c.before != nil {
		c.before(r, cfg, env)
	}

	tok := tokenhost(t, cfg, env, "token", name)
	if tok.code != 0 || !oneLine(tok.stdout) || !r.valid(strings.TrimSpace(tok.stdout)) {
		t.Fatalf("tokenhost token %s did not print a credential the recipe's identity system issued\n%s\nidp refused: %q\n--- config ---\n%s",
			name, tok, r.idp.Refused(), cfgText)
	}
	for _, ref := range c.shell {
		runDocCommand(t, r, ref, cfg, env)
	}
	s := startServe(t, cfg, env)
	if c.serve != nil {
		c.serve(r, s.url+"/"+name)
		return
	}
	resp, err := http.Get(s.url + "/" + name + "/models")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /%s/models through serve: %d %s\n%s", name, resp.StatusCode, redact(string(body)), s.stderr)
	}
	seen, path := r.up.last()
	if seen == nil || !strings.HasSuffix(path, "/models") {
		t.Fatalf("the upstream saw no request for /models (last path %q)", path)
	}
	header, scheme := "Authorization", "Bearer "
	if c.header != "" {
		header, scheme = c.header, c.scheme
	}
	got, ok := strings.CutPrefix(seen.Get(header), scheme)
	if !ok || !r.valid(got) {
		t.Errorf("the upstream's %s header does not hold %sa credential the recipe's identity system issued", header, scheme)
	}
	for k, v := range r.wantHeaders {
		if seen.Get(k) != v {
			t.Errorf("the upstream saw %s: %q, want %q", k, redact(seen.Get(k)), v)
		}
	}
}

// runDocCommand runs the command ref names ("<file>: <start of the command>") as its page writes it, with
// bash in the run's directory, tokenhost on PATH and the recipe's configuration as TOKENHOST_CONFIG. A
// command with curl must have reached the upstream with the recipe's credential.
func runDocCommand(t *testing.T, r *recipeRun, ref, cfg string, env []string) {
	t.Helper()
	file, start, _ := strings.Cut(ref, ": ")
	data, err := os.ReadFile(filepath.Join("..", file))
	if err != nil {
		t.Fatal(err)
	}
	command := docCommand(string(data), start)
	if command == "" {
		t.Errorf("%s has no sh block line starting %q; update the case", file, start)
		return
	}
	for prefix, role := range recipeHosts {
		command = strings.ReplaceAll(command, prefix, r.role(role))
	}
	before := len(r.up.seenAll())
	path := "PATH=" + bins.dir + string(os.PathListSeparator) + os.Getenv("PATH")
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = "PATH=" + bins.dir + string(os.PathListSeparator) + v
		}
	}
	res := runIn(t, r.dir, "", "/bin/sh", []string{"-e", "-c", command}, append(append([]string(nil), env...), path, "TOKENHOST_CONFIG="+cfg)...)
	if res.code != 0 || strings.TrimSpace(res.stdout) == "" {
		t.Errorf("%s, as written:\n%s", file, res)
		return
	}
	if !strings.HasPrefix(command, "tokenhost token") {
		for _, kv := range r.env {
			if _, v, _ := strings.Cut(kv, "="); v != "" && strings.Contains(res.stdout+res.stderr, v) {
				t.Errorf("%s: %s prints the value of %s", file, start, strings.SplitN(kv, "=", 2)[0])
			}
		}
	}
	if strings.Contains(command, "curl") {
		seen := r.up.seenAll()
		if len(seen) == before {
			t.Errorf("%s: %s reached no upstream\n%s", file, start, res)
			return
		}
		header, scheme := "Authorization", "Bearer "
		if got, ok := strings.CutPrefix(seen[len(seen)-1].Get(header), scheme); !ok || !r.valid(got) {
			t.Errorf("%s: %s sent the upstream no credential the recipe's identity system issued", file, start)
		}
	}
}

// docCommand returns the line of a sh block on page that starts with start, joined with its
// continuation lines, or "".
func docCommand(page, start string) string {
	for _, st := range shellSteps(page) {
		lines := strings.Split(st.sh, "\n")
		for i, l := range lines {
			if !strings.HasPrefix(l, start) {
				continue
			}
			cmd := l
			for strings.HasSuffix(cmd, "\\") && i+1 < len(lines) {
				i++
				cmd += "\n" + lines[i]
			}
			return cmd
		}
	}
	return ""
}
