package tests

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// fileSHA256 returns the hex SHA-256 of the file at path.
func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// copyExecutable copies the file at src to dir/name with mode 0755 and returns the new path.
func copyExecutable(t *testing.T, src, dir, name string) string {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, name)
	if err := os.WriteFile(dst, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return dst
}

// tokenOK runs `tokenhost token corp` and checks it printed a token g issued.
func tokenOK(t *testing.T, g *gatewayFakes, cfg string, env []string) {
	t.Helper()
	r := tokenhost(t, cfg, env, "token", "corp")
	if r.code != 0 {
		t.Fatalf("token corp failed\n%s", r)
	}
	if !oneLine(r.stdout) || !g.idp.Valid(strings.TrimSpace(r.stdout)) {
		t.Fatalf("token corp did not print one valid issued token\n%s", r)
	}
}

// tokenFails runs `tokenhost token corp`, checks it failed with one line on stderr, and returns the
// result. Callers check the message names the cause: a plugin that could never work is reported for
// what it is, not after the 30s start timeout (whose message would differ).
func tokenFails(t *testing.T, cfg string, env []string) result {
	t.Helper()
	r := tokenhost(t, cfg, env, "token", "corp")
	if r.code == 0 {
		t.Fatalf("token corp exited 0\n%s", r)
	}
	if r.stdout != "" {
		t.Errorf("stdout is not empty on failure\n%s", r)
	}
	if !oneLine(r.stderr) {
		t.Errorf("stderr is not exactly one line\n%s", r)
	}
	return r
}

// TestExternalPlugin runs an external plugin binary (the gateway source behind its own sdk.Serve) by
// absolute path, with a correct and a wrong sha256 pin, and by a path relative to the config file.
func TestExternalPlugin(t *testing.T) {
	needBinaries(t)
	g := newGatewayFakes(t)
	env := []string{"CORP_SECRET=" + g.secret}
	sum := fileSHA256(t, bins.extplugin)

	t.Run("absolute path", func(t *testing.T) {
		cfg := writeConfig(t, "", g, provider{name: "corp", plugin: bins.extplugin, secretEnv: "CORP_SECRET"})
		tokenOK(t, g, cfg, env)
	})

	t.Run("correct sha256", func(t *testing.T) {
		cfg := writeConfig(t, "", g, provider{name: "corp", plugin: bins.extplugin, sha256: sum, secretEnv: "CORP_SECRET"})
		tokenOK(t, g, cfg, env)
	})

	t.Run("upper-case sha256", func(t *testing.T) {
		cfg := writeConfig(t, "", g, provider{name: "corp", plugin: bins.extplugin, sha256: strings.ToUpper(sum), secretEnv: "CORP_SECRET"})
		tokenOK(t, g, cfg, env)
	})

	t.Run("wrong sha256", func(t *testing.T) {
		other := sha256.Sum256([]byte("some other plugin build"))
		pin := hex.EncodeToString(other[:])
		before := g.idp.Requests()
		cfg := writeConfig(t, "", g, provider{name: "corp", plugin: bins.extplugin, sha256: pin, secretEnv: "CORP_SECRET"})
		r := tokenFails(t, cfg, env)
		for _, want := range []string{bins.extplugin, sum, pin, "corp"} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("the error does not contain %q (the file, its actual and its pinned hash, the provider)\n%s", want, r)
			}
		}
		if n := g.idp.Requests() - before; n != 0 {
			t.Errorf("the token endpoint got %d requests; the mismatched plugin must not run", n)
		}
	})

	t.Run("relative path", func(t *testing.T) {
		dir := t.TempDir()
		copyExecutable(t, bins.extplugin, dir, "extplugin")
		// run works in another, fresh directory: the path must be taken relative to the config file.
		cfg := writeConfig(t, dir, g, provider{name: "corp", plugin: "./extplugin", secretEnv: "CORP_SECRET"})
		tokenOK(t, g, cfg, env)
	})

	t.Run("listed by plugins", func(t *testing.T) {
		cfg := writeConfig(t, "", g, provider{name: "corp", plugin: bins.extplugin, secretEnv: "CORP_SECRET"})
		r := tokenhost(t, cfg, env, "plugins")
		if r.code != 0 {
			t.Fatalf("plugins failed\n%s", r)
		}
		want := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(bins.extplugin) + `\s+external\s+\S+\s+none\s+corp\s*$`) // version, pin, used by
		if !want.MatchString(r.stdout) {
			t.Errorf("plugins does not list the external plugin with a version, used by corp\n%s", r)
		}
	})
}

// TestProtocolMismatch: a plugin that speaks plugin protocol 2 is refused quickly with a message naming
// both protocol versions.
func TestProtocolMismatch(t *testing.T) {
	needBinaries(t)
	g := newGatewayFakes(t)
	cfg := writeConfig(t, "", g, provider{name: "corp", plugin: bins.pluginv2, secretEnv: "CORP_SECRET"})
	r := tokenFails(t, cfg, []string{"CORP_SECRET=" + g.secret})
	if !strings.Contains(r.stderr, "protocol 2") {
		t.Errorf("the error does not name the plugin's protocol 2\n%s", r)
	}
	// The host's version, 1, must be named too (outside the plugin's path, which is left out here).
	rest := strings.ReplaceAll(r.stderr, bins.pluginv2, "")
	if !regexp.MustCompile(`(^|[^0-9.])1([^0-9.]|$)`).MatchString(rest) {
		t.Errorf("the error does not name the host's protocol 1\n%s", r)
	}
	if !strings.Contains(r.stderr, "corp") {
		t.Errorf("the error does not name the provider\n%s", r)
	}
}

// TestBrokenPluginPaths: a plugin path that is not a tokenhost plugin, not executable, or missing gives a
// clear one-line error quickly.
func TestBrokenPluginPaths(t *testing.T) {
	g := newGatewayFakes(t)
	env := []string{"CORP_SECRET=" + g.secret}

	t.Run("garbage on stdout", func(t *testing.T) {
		dir := t.TempDir()
		script := filepath.Join(dir, "not-a-plugin")
		if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"hello from not-a-plugin\"\nsleep 3600\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		cfg := writeConfig(t, "", g, provider{name: "corp", plugin: script, secretEnv: "CORP_SECRET"})
		r := tokenFails(t, cfg, env)
		if !strings.Contains(r.stderr, "not a tokenhost plugin") {
			t.Errorf("the error does not say the program is not a tokenhost plugin\n%s", r)
		}
		if !strings.Contains(r.stderr, script) {
			t.Errorf("the error does not name the program\n%s", r)
		}
		// The script's `sleep 3600` outlives the shell and holds the plugin's stdout and stderr open: a
		// host that waited for those pipes would hang (the run's hang guard fails the test), and one that
		// left the sleep running fails run's stray-process check.
	})

	t.Run("not executable", func(t *testing.T) {
		path := writeFile(t, "", "plain-file", "#!/bin/sh\nexit 0\n") // 0644
		cfg := writeConfig(t, "", g, provider{name: "corp", plugin: path, secretEnv: "CORP_SECRET"})
		r := tokenFails(t, cfg, env)
		if !strings.Contains(r.stderr, "not executable") {
			t.Errorf("the error does not say the plugin is not executable\n%s", r)
		}
		if !strings.Contains(r.stderr, path) {
			t.Errorf("the error does not name the file\n%s", r)
		}
	})

	t.Run("missing", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "no-such-plugin")
		cfg := writeConfig(t, "", g, provider{name: "corp", plugin: path, secretEnv: "CORP_SECRET"})
		r := tokenFails(t, cfg, env)
		if !strings.Contains(r.stderr, path) {
			t.Errorf("the error does not name the missing path\n%s", r)
		}
	})
}
