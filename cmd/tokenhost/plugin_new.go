package main

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"text/template"

	"github.com/spf13/cobra"
)

// scaffold holds the templates of `tokenhost plugin new`: one file of the new module each, named as the
// file plus ".tmpl".
//
//go:embed scaffold/*.tmpl
var scaffold embed.FS

// pluginNamePattern is what a plugin name may look like: it becomes a directory, a binary and a provider
// name.
//
// Compiled on first use rather than at package init, which every plugin process runs (docs/benchmarks.md).
var pluginNamePattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`) })

// scaffoldData fills the templates.
type scaffoldData struct {
	Name, Module, Version, GoVersion, EnvName string
}

func newPluginCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "plugin", Short: "Write your own plugin"}
	var dir, module string
	newCmd := &cobra.Command{
		Use:   "new <name>",
		Short: "Write a complete, buildable Go module for a new external plugin",
		Long: "Writes main.go, source.go (a Source against a token URL, with TODOs where your identity system's " +
			"specifics go), source_test.go (the conformance suite, in process and as a process), go.mod and a " +
			"README with the build, hash and config steps.",
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			name := args[0]
			if !pluginNamePattern().MatchString(name) {
				return fmt.Errorf("plugin name %q: use lower-case letters, digits and dashes, starting with a letter (e.g. corp-sso)", name)
			}
			if dir == "" {
				dir = name
			}
			if module == "" {
				module = name
			}
			if err := writeScaffold(dir, scaffoldData{
				Name: name, Module: module, Version: moduleVersion(), GoVersion: goVersion(),
				EnvName: strings.ToUpper(strings.ReplaceAll(name, "-", "_")),
			}); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "wrote plugin %s in %s\nnext: cd %s && go mod tidy && go test ./... && go build -o %s . && tokenhost plugins hash ./%s\n", name, dir, dir, name, name)
			return nil
		},
	}
	newCmd.Flags().StringVar(&dir, "dir", "", "directory to write the module into (default ./<name>); must not exist or be empty")
	newCmd.Flags().StringVar(&module, "module", "", "Go module path of the new plugin (default <name>)")
	cmd.AddCommand(newCmd)
	return cmd
}

// writeScaffold renders every template into dir, which must not exist yet or be empty.
func writeScaffold(dir string, data scaffoldData) error {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return fmt.Errorf("%s is not empty; choose another --dir", dir)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("cannot use %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cannot create %s: %w", dir, err)
	}
	files, err := fs.Glob(scaffold, "scaffold/*.tmpl")
	if err != nil {
		return err
	}
	for _, f := range files {
		t, err := template.ParseFS(scaffold, f)
		if err != nil {
			return fmt.Errorf("template %s: %w", f, err)
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, data); err != nil {
			return fmt.Errorf("template %s: %w", f, err)
		}
		out := filepath.Join(dir, strings.TrimSuffix(filepath.Base(f), ".tmpl"))
		if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
			return fmt.Errorf("cannot write %s: %w", out, err)
		}
	}
	return nil
}

// moduleVersion is the tokenhost version the new module requires: this binary's module version when it
// has a release one, else v0.0.0 (the README says how to point the module at a checkout).
func moduleVersion() string {
	if v := versionString(); strings.HasPrefix(v, "v") && !strings.Contains(v, "+dirty") {
		return v
	}
	return "v0.0.0"
}

// goVersion is the language version the new module declares: this toolchain's major.minor.
func goVersion() string {
	v := strings.TrimPrefix(runtime.Version(), "go")
	if parts := strings.SplitN(v, ".", 3); len(parts) >= 2 {
		return parts[0] + "." + parts[1]
	}
	return "1.26"
}
