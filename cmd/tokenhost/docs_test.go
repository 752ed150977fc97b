package main

import (
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
)

// shBlock matches a fenced sh block.
var shBlock = regexp.MustCompile("(?ms)^```sh\\n(.*?)^```$")

// TestDocumentedCommandsParse keeps the shell examples of the README and docs/ true to the CLI: every line
// (or piped stage) that runs `tokenhost` names an existing command with flags it accepts.
func TestDocumentedCommandsParse(t *testing.T) {
	checked := 0
	for _, page := range []string{"../../README.md", "../../docs/scripts.md", "../../docs/writing-a-plugin.md", "../../docs/serving.md", "../../docs/deploy.md", "../../docs/groups.md"} {
		doc, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range shBlock.FindAllStringSubmatch(string(doc), -1) {
			for _, line := range strings.Split(m[1], "\n") {
				line, _, _ = strings.Cut(line, "#")
				for _, stage := range strings.Split(line, "|") {
					f := strings.Fields(strings.TrimSuffix(strings.TrimSpace(stage), "\\"))
					if len(f) == 0 || f[0] != "tokenhost" {
						continue
					}
					root := newRootCmd(io.Discard, io.Discard)
					cmd, rest, err := root.Find(f[1:])
					if err != nil || cmd == root {
						t.Errorf("%s: %q names no command", page, stage)
						continue
					}
					if err := cmd.ParseFlags(rest); err != nil {
						t.Errorf("%s: %q: %v", page, stage, err)
					}
					checked++
				}
			}
		}
	}
	if checked < 10 {
		t.Fatalf("checked only %d documented commands; the pages lost their examples", checked)
	}
}
