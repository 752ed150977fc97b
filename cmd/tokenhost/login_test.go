package main

import (
	"errors"
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
