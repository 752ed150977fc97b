package tests

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
)

// TestDemoServePrintsAWorkingStatusPage runs `tokenhost demo --serve`, reads the status page's URL from
// its output while it runs, fetches the page, and checks the demo still ends 0.
func TestDemoServePrintsAWorkingStatusPage(t *testing.T) {
	needBinaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	cmd := exec.CommandContext(ctx, bins.tokenhost, "demo", "--serve")
	cmd.Dir = t.TempDir()
	cmd.Env = childEnv(t)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	var url string
	for url == "" && sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "status page: "); ok {
			url = strings.Fields(rest)[0]
		}
	}
	if url == "" {
		t.Fatal("demo --serve printed no status page URL")
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s while the demo runs: %v", url, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `id="p-corp"`) || !strings.Contains(string(body), "breakers") {
		t.Errorf("status page during the demo: %d, lacks the corp provider or its breakers\n%.2000s", resp.StatusCode, body)
	}
	_, _ = io.Copy(io.Discard, stdout)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("demo --serve: %v", err)
	}
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Errorf("status page URL %s is not on loopback", url)
	}
}
