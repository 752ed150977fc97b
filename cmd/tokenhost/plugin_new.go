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
	Name, Module, GoVersion, EnvName string
	Source                           tokenhostSource
}

func newPluginCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "plugin", Short: "Write your own plugin"}
	var dir, module, checkout string
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
			src, err := resolveTokenhost(checkout)
			if err != nil {
				return err
			}
			if err := writeScaffold(dir, scaffoldData{
				Name: name, Module: module, GoVersion: goVersion(), Source: src,
				EnvName: strings.ToUpper(strings.ReplaceAll(name, "-", "_")),
			}); err != nil {
				return err
			}
			first := ""
			if src.Hint != "" {
				first = src.Hint + " && "
				fmt.Fprintf(g.stdout, "this tokenhost is a development build and no tokenhost checkout was found above the working directory or the binary; point the module at one first (or rerun with --tokenhost DIR)\n")
			}
			fmt.Fprintf(g.stdout, "wrote plugin %s in %s\nnext: cd %s && %sgo mod tidy && go test ./... && go build -o %s . && tokenhost plugins hash ./%s\n", name, dir, dir, first, name, name)
			return nil
		},
	}
	newCmd.Flags().StringVar(&dir, "dir", "", "directory to write the module into (default ./<name>); must not exist or be empty")
	newCmd.Flags().StringVar(&module, "module", "", "Go module path of the new plugin (default <name>)")
	newCmd.Flags().StringVar(&checkout, "tokenhost", "", "tokenhost checkout the new module builds against (a replace in its go.mod); default: this binary's release version, else a checkout above the working directory or the binary")
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
	if len(data.Source.GoSum) > 0 {
		out := filepath.Join(dir, "go.sum")
		if err := os.WriteFile(out, data.Source.GoSum, 0o644); err != nil {
			return fmt.Errorf("cannot write %s: %w", out, err)
		}
	}
	return nil
}

// goVersion is the language version the new module declares: this toolchain's major.minor.
func goVersion() string {
	v := strings.TrimPrefix(runtime.Version(), "go")
	if parts := strings.SplitN(v, ".", 3); len(parts) >= 2 {
		return parts[0] + "." + parts[1]
	}
	return "1.26"
}
