package tests

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestBadConfig: each broken configuration makes `tokenhost token corp` exit non-zero with one line on
// stderr that names what is wrong and how to fix it (run also checks no output mentions a panic).
func TestBadConfig(t *testing.T) {
	g := newGatewayFakes(t)
	env := []string{"CORP_SECRET=" + g.secret}
	good := provider{name: "corp", secretEnv: "CORP_SECRET"}.yaml(g)

	tests := []struct {
		name     string
		config   string   // whole file; "" = none is written and a missing path is passed
		want     []string // every one must be in stderr
		match    *regexp.Regexp
		nameFile bool // the error must name the configuration file
	}{
		{
			name: "malformed yaml",
			config: "providers:\n  corp:\n    plugin: gateway\n" +
				"    options: {token_url: [unclosed\n",
			match:    regexp.MustCompile(`line \d+`),
			nameFile: true,
		},
		{
			name:     "bad indentation",
			config:   "providers:\n  corp:\n    plugin: gateway\n   upstream: http://127.0.0.1:1/v1\n",
			match:    regexp.MustCompile(`line \d+`),
			nameFile: true,
		},
		{
			name:   "unknown plugin name",
			config: "providers:\n" + strings.Replace(good, `plugin: "gateway"`, `plugin: "gatewy"`, 1),
			want:   []string{"gatewy", `"gateway"`, "built-in", "providers.corp.plugin"},
		},
		{
			name:   "unknown key",
			config: "providers:\n" + strings.Replace(good, "    options:\n", "    refresh_befor: 1m\n    options:\n", 1),
			want:   []string{"refresh_befor", "refresh_before", "providers.corp"},
		},
		{
			name:   "options not a mapping",
			config: "providers:\n  corp:\n    plugin: gateway\n    upstream: " + g.up.URL() + "\n    options: 5\n",
			want:   []string{"providers.corp.options", "mapping"},
		},
		{
			name: "missing file",
			want: []string{"does-not-exist.yaml"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var cfg string
			if tc.config == "" {
				cfg = filepath.Join(t.TempDir(), "does-not-exist.yaml")
			} else {
				cfg = writeFile(t, "", "bad-config.yaml", tc.config)
				if tc.nameFile {
					tc.want = append(tc.want, cfg)
				}
			}
			r := tokenhost(t, cfg, env, "token", "corp")
			if r.code == 0 {
				t.Fatalf("token corp exited 0 with a bad configuration\n%s", r)
			}
			if r.stdout != "" {
				t.Errorf("stdout is not empty\n%s", r)
			}
			if !oneLine(r.stderr) {
				t.Errorf("stderr is not exactly one line\n%s", r)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr does not contain %q\n%s", w, r)
				}
			}
			if tc.match != nil && !tc.match.MatchString(r.stderr) {
				t.Errorf("stderr does not match %s\n%s", tc.match, r)
			}
			if strings.Contains(r.stderr, g.secret) {
				t.Errorf("stderr holds the client secret\n%s", r)
			}
		})
	}
}

// TestTokenEndpointFailures: a token endpoint that answers an HTML error page, or never answers, gives
// a clear one-line error naming the provider, not a hang.
func TestTokenEndpointFailures(t *testing.T) {
	t.Run("html 503", func(t *testing.T) {
		g := newGatewayFakes(t)
		g.idp.SetDown(true)
		cfg, env := corpConfig(t, g, "")
		r := tokenFails(t, cfg, env)
		for _, want := range []string{"corp", "503"} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("stderr does not mention %q\n%s", want, r)
			}
		}
		if strings.Contains(r.stderr, "<html") || strings.Contains(r.stderr, "<!DOCTYPE") || strings.Contains(r.stderr, "maintenance") {
			t.Errorf("stderr quotes the HTML page\n%s", r)
		}
		if strings.Contains(r.stderr, g.secret) {
			t.Errorf("stderr holds the client secret\n%s", r)
		}
		if g.idp.Requests() == 0 {
			t.Errorf("the token endpoint was never asked")
		}
	})

	t.Run("never answers", func(t *testing.T) {
		g := newGatewayFakes(t)
		release := g.idp.Hold()
		defer release()
		cfg, env := corpConfig(t, g, "timeout: 1s")
		r := tokenFails(t, cfg, env)
		for _, want := range []string{"corp", "did not answer"} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("stderr does not mention %q\n%s", want, r)
			}
		}
		if g.idp.Requests() == 0 {
			t.Errorf("the token endpoint was never asked")
		}
	})
}
