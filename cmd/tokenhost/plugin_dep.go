package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
)

// tokenhostModule is the module path a new plugin requires.
const tokenhostModule = "github.com/tokenhost/tokenhost"

// scaffoldDep is a module the new plugin's go.mod requires, at the version this binary was built with.
type scaffoldDep struct {
	Path, Version string
}

// tokenhostSource is how a new plugin's go.mod reaches tokenhost: a version to require, a checkout to
// replace it with (Replace, already quoted for go.mod when needed), and the dependency versions this
// binary was built with, so that `go mod tidy` picks the versions tokenhost pins.
type tokenhostSource struct {
	Version, Replace string
	Deps             []scaffoldDep
	// GoSum is the checkout's go.sum, written as the new module's: checksums of the versions it pins,
	// so that `go mod tidy` needs no checksum database for them.
	GoSum []byte
	// Hint is the command the user runs first when neither a release version nor a checkout is known.
	Hint string
}

// pseudoVersion matches the tail of a Go pseudo-version (a commit, not a release).
var pseudoVersion = regexp.MustCompile(`\d{14}-[0-9a-f]{12}$`)

// releaseVersion reports whether v names a tokenhost release a module proxy can serve.
func releaseVersion(v string) bool {
	return strings.HasPrefix(v, "v") && !strings.Contains(v, "+") && !pseudoVersion.MatchString(v) &&
		v != "v0.0.0" && strings.Count(strings.SplitN(v, "-", 2)[0], ".") == 2
}

// resolveTokenhost decides how the new plugin requires tokenhost: from the checkout in flagDir when given,
// else this binary's release version, else a checkout found above the working directory or the executable,
// else v0.0.0 with the command that points the module at a checkout.
func resolveTokenhost(flagDir string) (tokenhostSource, error) {
	src := tokenhostSource{Version: "v0.0.0", Deps: buildDeps()}
	if flagDir != "" {
		root, err := filepath.Abs(flagDir)
		if err == nil && !isTokenhostRoot(root) {
			err = fmt.Errorf("no go.mod of module %s there", tokenhostModule)
		}
		if err != nil {
			return src, fmt.Errorf("--tokenhost %s: %v; give the directory of a tokenhost checkout (the one holding its go.mod)", flagDir, err)
		}
		return withCheckout(src, root), nil
	}
	if v := versionString(); releaseVersion(v) {
		src.Version = v
		return src, nil
	}
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			exe = real
		}
		starts = append(starts, filepath.Dir(exe))
	}
	for _, start := range starts {
		if root, ok := findTokenhostRoot(start); ok {
			return withCheckout(src, root), nil
		}
	}
	src.Hint = "go mod edit -replace " + tokenhostModule + "=/path/to/tokenhost"
	return src, nil
}

// withCheckout points src at the tokenhost checkout in root.
func withCheckout(src tokenhostSource, root string) tokenhostSource {
	src.Replace = goModPath(root)
	if sum, err := os.ReadFile(filepath.Join(root, "go.sum")); err == nil {
		src.GoSum = sum
	}
	return src
}

// buildDeps lists the modules this binary was built with, sorted by path, without tokenhost itself and
// without replaced ones.
func buildDeps() []scaffoldDep {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return nil
	}
	var deps []scaffoldDep
	for _, d := range bi.Deps {
		if d.Replace != nil || d.Path == tokenhostModule || d.Version == "" || d.Version == "(devel)" {
			continue
		}
		deps = append(deps, scaffoldDep{Path: d.Path, Version: d.Version})
	}
	sort.Slice(deps, func(i, j int) bool { return deps[i].Path < deps[j].Path })
	return deps
}

// findTokenhostRoot walks up from dir to the first directory whose go.mod declares tokenhost's module.
func findTokenhostRoot(dir string) (string, bool) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", false
	}
	for {
		if isTokenhostRoot(dir) {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// isTokenhostRoot reports whether dir holds the go.mod of tokenhost's module.
func isTokenhostRoot(dir string) bool {
	f, err := os.Open(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if fields := strings.Fields(s.Text()); len(fields) >= 2 && fields[0] == "module" {
			return strings.Trim(fields[1], "\"`") == tokenhostModule
		}
	}
	return false
}

// goModPath writes path as a go.mod token: quoted when it holds spaces or quotes.
func goModPath(path string) string {
	if strings.ContainsAny(path, " \t\"'`\\") {
		return strconv.Quote(path)
	}
	return path
}
