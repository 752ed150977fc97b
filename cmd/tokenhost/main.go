// Command tokenhost calls OAuth-fronted, OpenAI-compatible LLM endpoints as easily as an API key: it
// prints fresh tokens for scripts, checks providers, runs an offline demo, and serves built-in plugins
// when the host re-executes it in plugin mode.
package main

import (
	"errors"
	"io"
	"os"

	"github.com/tokenhost/tokenhost/core"
	_ "github.com/tokenhost/tokenhost/plugins/builtin"  // the built-in plugins, served by ServeIfPlugin
	_ "github.com/tokenhost/tokenhost/store/redisstore" // the redis store backend of fleet mode
)

func main() {
	if core.ServeIfPlugin() {
		return
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the CLI with args and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	cmd := newRootCmd(stdout, stderr)
	cmd.SetArgs(args)
	if err := cmd.Execute(); err != nil {
		var code exitCode
		if errors.As(err, &code) {
			return int(code)
		}
		printErr(stderr, err)
		return 1
	}
	return 0
}
