package proxy

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// chromium returns the path of a headless-capable Chromium, skipping the test when none is installed
// outside CI (CI=true: .ci/run installs the Debian package, so a missing one fails).
func chromium(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is not installed; .ci/run installs the Debian package chromium")
		}
		t.Skip("skipping the browser test of the status page: chromium is not installed (apt-get install chromium; CI installs it)")
	}
	return path
}

// runChromium runs headless Chromium with args after the common flags and returns its stdout.
func runChromium(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // hang guard only
	defer cancel()
	common := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--user-data-dir=" + t.TempDir()}
	cmd := exec.CommandContext(ctx, bin, append(common, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

// TestStatusPageInHeadlessChromium renders the page in a real browser: the DOM after its script ran holds
// the provider, the counting-down expiry and the breaker states, never a token; the screenshot is a real
// PNG of the window's size.
func TestStatusPageInHeadlessChromium(t *testing.T) {
	bin := chromium(t)
	url, toks := pageScenario(t, Options{})
	dom := string(runChromium(t, bin, "--dump-dom", url+"/"))
	for _, want := range []string{`id="p-p"`, "expires in ", "upstream rejected the token (401)", ">closed<", "plugin running", "no errors"} {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered DOM lacks %q", want)
		}
	}
	for _, tok := range toks {
		if strings.Contains(dom, tok) {
			t.Errorf("rendered DOM shows token %s", tok)
		}
	}
	shot := filepath.Join(t.TempDir(), "status.png")
	runChromium(t, bin, "--screenshot="+shot, "--window-size=1200,900", url+"/")
	b, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if sz := img.Bounds().Size(); sz.X != 1200 || sz.Y != 900 || len(b) < 10_000 {
		t.Fatalf("screenshot is %v and %d bytes; want 1200x900 with content", sz, len(b))
	}
	if dir := os.Getenv("TOKENHOST_SCREENSHOT_DIR"); dir != "" { // for a person to look at
		_ = os.WriteFile(filepath.Join(dir, "status.png"), b, 0o644)
	}
}
