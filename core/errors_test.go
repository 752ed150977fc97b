package core

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tokenhost/tokenhost/core/config"
	"github.com/tokenhost/tokenhost/sdk"
)

// describe decides by type, not text: an error this package worded for the provider passes unchanged,
// a plugin's error gets the provider's name and its config path, anything else is wrapped, and every
// result still answers errors.Is/As and sdk.KindOf for its cause.
func TestDescribeNamesTheProviderOnceAndKeepsTheChain(t *testing.T) {
	p := &provider{name: "corp", cfg: &config.Provider{Name: "corp", Plugin: "gateway"}}
	worded := providerErrorf("corp", "starting plugin: %w", context.DeadlineExceeded)
	if got := p.describe(worded); got != worded {
		t.Errorf("an error already worded for corp was changed to %q", got)
	}
	other := providerErrorf("else", "boom")
	if got := p.describe(other); !strings.HasPrefix(got.Error(), "provider corp: ") {
		t.Errorf("another provider's error was not attributed to corp: %q", got)
	}
	bad := p.describe(sdk.BadConfig("token_url", "must be https"))
	var e *sdk.Error
	if !errors.As(bad, &e) || e.Key != "providers.corp.options.token_url" || !sdk.IsKind(bad, sdk.KindBadConfig) {
		t.Errorf("BadConfig from the plugin = %q, want its key under providers.corp.options", bad)
	}
	if again := p.describe(bad); again != bad {
		t.Errorf("describing twice changed %q to %q", bad, again)
	}
	plain := p.describe(context.Canceled)
	var pe *ProviderError
	if !errors.Is(plain, context.Canceled) || !errors.As(plain, &pe) || pe.Provider != "corp" || plain.Error() != "provider corp: context canceled" {
		t.Errorf("a plain error became %q, which does not wrap it for corp", plain)
	}
	crash := &PluginCrashError{Provider: "corp", Message: "provider corp: plugin crashed", Err: context.DeadlineExceeded}
	if got := p.describe(crash); got != crash || !errors.Is(got, context.DeadlineExceeded) {
		t.Errorf("a crash error of corp was changed or lost its cause: %q", got)
	}
}

// TestStrayStdoutQuoteKeepsWholeCharacters: a plugin that prints to stdout before its handshake is quoted,
// clipped to 120 characters, and a two-byte character at the cut is kept whole rather than halved into
// invalid UTF-8.
func TestStrayStdoutQuoteKeepsWholeCharacters(t *testing.T) {
	p := &pluginProc{provider: "corp", cfg: &config.Provider{Name: "corp", Plugin: "/opt/not-a-plugin"}}
	printed := strings.Repeat("a", 119) + "é and more than fits\nsecond line"
	msg := p.startError(errors.New("Unrecognized remote plugin message: " + printed)).Error()
	if !utf8.ValidString(msg) {
		t.Fatalf("the message is not valid UTF-8: %q", msg)
	}
	if want := "(it wrote to stdout before the plugin handshake: " + strings.Repeat("a", 119) + "é…)"; !strings.Contains(msg, want) {
		t.Errorf("message %q does not quote the first line clipped at a character boundary", msg)
	}
}

// TestProviderErrorPrefixIsAddedOnce: providerErrorf and keyErrorf put the provider's name (or config key)
// before the message themselves, and keep the cause.
func TestProviderErrorPrefixIsAddedOnce(t *testing.T) {
	err := providerErrorf("corp", "plugin %s: %w", "gateway", context.DeadlineExceeded)
	if got, want := err.Error(), "provider corp: plugin gateway: context deadline exceeded"; got != want || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("providerErrorf = %q (cause kept: %v), want %q", got, errors.Is(err, context.DeadlineExceeded), want)
	}
	err = keyErrorf("corp", "sha256", "%s has sha256 %s", "/opt/p", "ab12")
	if got, want := err.Error(), "providers.corp.sha256: /opt/p has sha256 ab12"; got != want {
		t.Errorf("keyErrorf = %q, want %q", got, want)
	}
	var pe *ProviderError
	if !errors.As(err, &pe) || pe.Provider != "corp" {
		t.Errorf("keyErrorf's error is not a ProviderError of corp: %#v", err)
	}
}

// TestNoCallerWritesTheProviderPrefix reads this package's source: a format given to providerErrorf or
// keyErrorf must not start with "provider " or "providers.", which they add themselves.
func TestNoCallerWritesTheProviderPrefix(t *testing.T) {
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			fn, ok := call.Fun.(*ast.Ident)
			if !ok {
				return true
			}
			at := map[string]int{"providerErrorf": 1, "keyErrorf": 2}[fn.Name]
			if at == 0 || len(call.Args) <= at {
				return true
			}
			calls++
			lit, ok := call.Args[at].(*ast.BasicLit)
			if !ok {
				t.Errorf("%s: %s's format is not a literal", fset.Position(call.Pos()), fn.Name)
				return true
			}
			format, _ := strconv.Unquote(lit.Value)
			if strings.HasPrefix(format, "provider ") || strings.HasPrefix(format, "providers.") {
				t.Errorf("%s: %s(%q) repeats the prefix it adds itself", fset.Position(call.Pos()), fn.Name, format)
			}
			return true
		})
	}
	if calls < 20 {
		t.Errorf("found %d calls of providerErrorf and keyErrorf; the scan is not reading this package", calls)
	}
}
