package main

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/tokenhost/tokenhost/sdk"
)

func TestTerminalUI(t *testing.T) {
	var out strings.Builder
	var opened []string
	open := func(u string) error { opened = append(opened, u); return errors.New("no display") }
	p := sdk.Prompt{Message: "Open\x1b[2J this", URL: "https://idp.example/device?x=1\x07", UserCode: "AB\rCD", Open: true}

	ui := &terminalUI{w: &out, noBrowser: true, open: open}
	if err := ui.Show(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	if len(opened) != 0 {
		t.Errorf("--no-browser opened %v", opened)
	}
	got := out.String()
	if strings.ContainsAny(got, "\x1b\x07\r") || !strings.Contains(got, "https://idp.example/device?x=1") || !strings.Contains(got, "code: ABCD") {
		t.Errorf("printed %q: want the URL and code with control characters dropped", got)
	}

	out.Reset()
	ui.noBrowser = false
	if err := ui.Show(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	if len(opened) != 1 || !strings.Contains(out.String(), "open the URL yourself") {
		t.Errorf("opened %v, printed %q: want one attempt and a fallback line", opened, out.String())
	}
}

// Only http and https URLs from a plugin's prompt are opened; any other scheme is printed with a warning.
func TestTerminalUIOpensOnlyWebURLs(t *testing.T) {
	for _, raw := range []string{"file:///etc/passwd", "javascript:alert(1)", "vscode://ext/cmd?x=1", "ms-settings:privacy", "//idp.example/x", "https:///nohost"} {
		var out strings.Builder
		var opened []string
		ui := &terminalUI{w: &out, open: func(u string) error { opened = append(opened, u); return nil }}
		if err := ui.Show(t.Context(), sdk.Prompt{URL: raw, Open: true}); err != nil {
			t.Fatal(err)
		}
		if len(opened) != 0 || !strings.Contains(out.String(), raw) || !strings.Contains(out.String(), "warning: not opened") {
			t.Errorf("%s: opened %v, printed %q; want it printed with a warning and not opened", raw, opened, out.String())
		}
	}
	var opened []string
	ui := &terminalUI{w: io.Discard, open: func(u string) error { opened = append(opened, u); return nil }}
	for _, raw := range []string{"https://idp.example/device", "HTTP://127.0.0.1:8080/cb"} {
		_ = ui.Show(t.Context(), sdk.Prompt{URL: raw, Open: true})
	}
	if len(opened) != 2 {
		t.Errorf("opened %v, want both web URLs", opened)
	}
}
