package tests

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestDemo runs `tokenhost demo` (the whole system offline) and reads its table: the corp provider sent
// requests, saw 401s, retried them, and failed none.
func TestDemo(t *testing.T) {
	r := tokenhost(t, "", nil, "demo")
	if r.code != 0 {
		t.Fatalf("demo exited %d\n%s", r.code, r)
	}
	if !strings.Contains(r.stdout, "every request ended 200") {
		t.Errorf("demo does not report that every request ended 200\n%s", r)
	}

	var header []string
	var corp []string
	for _, line := range strings.Split(r.stdout, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && f[0] == "PROVIDER" {
			header = mergeHeader(f)
		}
		if len(f) > 0 && f[0] == "corp" && header != nil {
			corp = f
		}
	}
	for _, col := range []string{"PROVIDER", "REQUESTS", "401s SEEN", "REFRESHES", "RETRIES", "FAILURES"} {
		if index(header, col) < 0 {
			t.Errorf("demo's table header has no column %q\n%s", col, r)
		}
	}
	if corp == nil {
		t.Fatalf("demo's table has no corp row\n%s", r)
	}
	if corp[len(corp)-1] != "ok" {
		t.Errorf("corp's row does not end in ok\n%s", r)
	}
	if len(corp) != len(header) {
		t.Fatalf("corp's row has %d values for %d columns\n%s", len(corp), len(header), r)
	}
	num := func(col string) int {
		t.Helper()
		i := index(header, col)
		if i < 0 {
			t.Fatalf("no column %q", col)
		}
		n, err := strconv.Atoi(corp[i])
		if err != nil {
			t.Fatalf("corp's %s is %q, not a number\n%s", col, corp[i], r)
		}
		return n
	}
	if n := num("REQUESTS"); n <= 0 {
		t.Errorf("corp REQUESTS = %d, want > 0", n)
	}
	if n := num("401s SEEN"); n <= 0 {
		t.Errorf("corp 401s SEEN = %d, want > 0 (tokens are revoked mid-run)", n)
	}
	if n := num("RETRIES"); n <= 0 {
		t.Errorf("corp RETRIES = %d, want > 0", n)
	}
	if n := num("FAILURES"); n != 0 {
		t.Errorf("corp FAILURES = %d, want 0", n)
	}
	if n := num("REFRESHES"); n <= 0 {
		t.Errorf("corp REFRESHES = %d, want > 0", n)
	}
	checkReadmeDemoTable(t, r.stdout)
}

// checkReadmeDemoTable compares the README's demo table with the table a demo run printed: the same header,
// the same providers with the same plugins, every row ok. The numbers vary from run to run and are not
// compared.
func checkReadmeDemoTable(t *testing.T, demo string) {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	// Walk the fences in order, so that a closing ``` is never read as the opening of a block.
	var block string
	var body []string
	inFence, plain := false, false
	for _, line := range strings.Split(string(readme), "\n") {
		switch {
		case strings.HasPrefix(line, "```") && !inFence:
			inFence, plain, body = true, line == "```", nil
		case strings.HasPrefix(line, "```"):
			if inFence = false; plain && len(body) > 0 && strings.HasPrefix(body[0], "PROVIDER ") {
				block = strings.Join(body, "\n")
			}
		case inFence:
			body = append(body, line)
		}
	}
	if block == "" {
		t.Fatal("README.md has no demo table (a ``` block starting with PROVIDER)")
	}
	docHeader, docRows := demoTable(t, "README.md", block)
	runHeader, runRows := demoTable(t, "the demo", demo)
	if docHeader != runHeader {
		t.Errorf("README.md's demo header is\n%s\nthe demo prints\n%s", docHeader, runHeader)
	}
	slices.Sort(docRows)
	slices.Sort(runRows)
	if !slices.Equal(docRows, runRows) {
		t.Errorf("README.md's demo table lists the providers and plugins\n%s\nthe demo prints\n%s", strings.Join(docRows, "\n"), strings.Join(runRows, "\n"))
	}
}

// demoTable reads the table in out (from the PROVIDER header to the first blank line): its header with
// single spaces, and each row's provider and plugin. A row whose STATUS is not ok fails the test.
func demoTable(t *testing.T, where, out string) (header string, rows []string) {
	t.Helper()
	var cols []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && f[0] == "PROVIDER" {
			cols, header = mergeHeader(f), strings.Join(f, " ")
			continue
		}
		if cols == nil {
			continue
		}
		if len(f) == 0 {
			break
		}
		if len(f) != len(cols) || f[len(f)-1] != "ok" {
			t.Errorf("%s: demo row %q is not %d columns ending in ok", where, line, len(cols))
		}
		rows = append(rows, f[0]+" "+f[1])
	}
	if header == "" || len(rows) == 0 {
		t.Errorf("%s: no demo table (a PROVIDER header and rows)\n%s", where, out)
	}
	return header, rows
}

// mergeHeader joins the two-word column names of the demo's table ("401s SEEN", "TOKENS ISSUED"), so
// that header fields line up with row fields.
func mergeHeader(f []string) []string {
	var out []string
	for i := 0; i < len(f); i++ {
		if i+1 < len(f) && (f[i] == "401s" && f[i+1] == "SEEN" || f[i] == "TOKENS" && f[i+1] == "ISSUED") {
			out = append(out, f[i]+" "+f[i+1])
			i++
			continue
		}
		out = append(out, f[i])
	}
	return out
}

func index(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}
