package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runVarsScript is what the command of the tests below runs: it prints the run's variables and the status
// of a request, with the run's key, to each named provider's variable and to provider other's path.
const runVarsScript = `
echo "OPENAI_BASE_URL=$OPENAI_BASE_URL"
echo "OPENAI_API_KEY=$OPENAI_API_KEY"
echo "TOKENHOST_URL=$TOKENHOST_URL"
echo "TOKENHOST_KEY=$TOKENHOST_KEY"
echo "TOKENHOST_CORP_URL=$TOKENHOST_CORP_URL"
echo "TOKENHOST_TOOLS_EU_URL=$TOKENHOST_TOOLS_EU_URL"
echo "TOKENHOST_CONFIG=$TOKENHOST_CONFIG"
for u in "$TOKENHOST_CORP_URL" "$TOKENHOST_TOOLS_EU_URL" "$TOKENHOST_URL/other"; do
  echo "status $(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKENHOST_KEY" "$u/models")"
done
`

// `tokenhost run corp tools-eu -- cmd`: the command gets TOKENHOST_URL (the proxy's root, no trailing
// slash), TOKENHOST_KEY (the run's key, also OPENAI_API_KEY), TOKENHOST_<NAME>_URL for each provider
// named and OPENAI_BASE_URL for the first; both providers answer through their variables, and provider
// other, configured but not named, is refused. The run's own TOKENHOST_CONFIG does not reach it.
func TestRunSetsVariablesForEveryProviderNamed(t *testing.T) {
	needBinaries(t)
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("no curl to send the command's requests")
	}
	g := newGatewayFakes(t)
	cfg := writeConfig(t, "", g, provider{name: "corp", secretEnv: "CORP_SECRET"}, provider{name: "tools-eu", secretEnv: "CORP_SECRET"},
		provider{name: "other", secretEnv: "CORP_SECRET"})
	r := run(t, bins.tokenhost, []string{"run", "corp", "tools-eu", "--", "sh", "-c", runVarsScript}, "CORP_SECRET="+g.secret, "TOKENHOST_CONFIG="+cfg)
	if r.code != 0 {
		t.Fatalf("run failed\n%s", r)
	}
	got := map[string]string{}
	var statuses []string
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		if s, ok := strings.CutPrefix(line, "status "); ok {
			statuses = append(statuses, s)
		} else if k, v, ok := strings.Cut(line, "="); ok {
			got[k] = v
		}
	}
	root := got["TOKENHOST_URL"]
	if !strings.HasPrefix(root, "http://127.0.0.1:") || strings.HasSuffix(root, "/") || strings.Count(root, "/") != 2 {
		t.Errorf("TOKENHOST_URL %q, want http://127.0.0.1:<port>", root)
	}
	want := map[string]string{
		"OPENAI_BASE_URL": root + "/corp", "TOKENHOST_CORP_URL": root + "/corp", "TOKENHOST_TOOLS_EU_URL": root + "/tools-eu",
		"TOKENHOST_KEY": got["OPENAI_API_KEY"], "TOKENHOST_CONFIG": "",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s=%q, want %q", k, got[k], v)
		}
	}
	if got["TOKENHOST_KEY"] == "" {
		t.Error("TOKENHOST_KEY is empty")
	}
	if strings.Join(statuses, " ") != "200 200 403" {
		t.Errorf("requests to corp, tools-eu and other answered %v; want 200 200 403\n%s", statuses, r)
	}
}

// A provider that cannot give a token (here a rejected client secret) stops `tokenhost run` with the
// identity provider's answer before the command starts, whichever of the providers named it is; and two
// providers whose variables would collide are a usage error naming both.
func TestRunStopsBeforeTheCommandWhenAProviderFails(t *testing.T) {
	needBinaries(t)
	g := newGatewayFakes(t)
	cfg := writeConfig(t, "", g, provider{name: "corp", secretEnv: "CORP_SECRET"}, provider{name: "tools", secretEnv: "TOOLS_SECRET"})
	cases := []struct {
		name string
		args []string
		env  []string
		want []string
	}{
		{"first provider", []string{"corp", "tools"}, []string{"CORP_SECRET=wrong-secret", "TOOLS_SECRET=" + g.secret}, []string{"corp", "invalid_client"}},
		{"second provider", []string{"corp", "tools"}, []string{"CORP_SECRET=" + g.secret, "TOOLS_SECRET=wrong-secret"}, []string{"tools", "invalid_client"}},
		{"colliding names", []string{"corp", "tools", "Tools"}, []string{"CORP_SECRET=" + g.secret, "TOOLS_SECRET=" + g.secret}, []string{`"tools"`, `"Tools"`, "TOKENHOST_TOOLS_URL"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			marker := filepath.Join(t.TempDir(), "ran")
			args := append(append([]string{"run"}, c.args...), "--config", cfg, "--", "sh", "-c", `touch "$0"`, marker)
			r := run(t, bins.tokenhost, args, c.env...)
			if _, err := os.Stat(marker); err == nil {
				t.Fatalf("the command ran\n%s", r)
			}
			if r.code == 0 {
				t.Fatalf("run exited 0\n%s", r)
			}
			for _, w := range c.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q\n%s", w, r)
				}
			}
		})
	}
}
