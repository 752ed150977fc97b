package core

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"sync"
	"time"

	"github.com/tokenhost/tokenhost/internal/pluginrpc"
)

// envDescribe asks a tokenhost binary started as a built-in plugin to print what it needs instead of
// serving; describeEnv is the one question: the environment variables the plugin reads, one a line.
const (
	envDescribe = "TOKENHOST_BUILTIN_DESCRIBE"
	describeEnv = "env"
)

// describeTimeout bounds the question to an installed tokenhost binary.
const describeTimeout = 10 * time.Second

// Compiled on first use rather than at package init, which every plugin process runs (docs/benchmarks.md).
var envPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*\*?$`) })

// describeBuiltinEnv writes the built-in's ReadsEnv names, one a line.
func describeBuiltinEnv(w io.Writer, b builtin) {
	for _, n := range b.env {
		fmt.Fprintln(w, n)
	}
}

var (
	execEnvMu    sync.Mutex
	execEnvCache = map[[2]string][]string{}
)

// builtinEnv returns the environment variables the built-in plugin name reads: from its registration in
// this program, else by asking the installed tokenhost binary exe (once per host process). A binary too
// old to answer gets the minimal environment only.
func builtinEnv(exe, name string) ([]string, error) {
	if b, ok := lookupBuiltin(name); ok && exe == "" {
		return b.env, nil
	}
	key := [2]string{exe, name}
	execEnvMu.Lock()
	defer execEnvMu.Unlock()
	if env, ok := execEnvCache[key]; ok {
		return env, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), describeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(pluginEnv(os.Environ()), envBuiltin+"="+name, envDescribe+"="+describeEnv,
		pluginrpc.Handshake.MagicCookieKey+"="+pluginrpc.Handshake.MagicCookieValue)
	out, err := cmd.Output()
	if ctx.Err() != nil {
		out, err = nil, nil // an older binary serves instead of answering: it gets the minimal environment
	}
	if err != nil {
		return nil, fmt.Errorf("asking %s which environment variables built-in plugin %q reads: %w", exe, name, err)
	}
	var env []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if line := sc.Text(); envPattern().MatchString(line) {
			env = append(env, line)
		}
	}
	execEnvCache[key] = env
	return env, nil
}

// BuiltinEnv returns the environment variables the built-in plugin name registered in this program reads
// beside the minimal set every plugin gets (its ReadsEnv names; a name ending in "*" is a prefix), or nil
// when no such built-in is registered.
func BuiltinEnv(name string) []string {
	b, _ := lookupBuiltin(name)
	return append([]string(nil), b.env...)
}
