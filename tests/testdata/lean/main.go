// Command lean embeds the tokenhost host the lean way, for the end-to-end and dependency tests: it
// imports core alone (no plugins/builtin) and runs the built-in plugins of an installed tokenhost binary.
//
// Usage: lean <tokenhost-binary> <config-file> <provider>
//
// It prints the provider's token on stdout; on error it prints the error on stderr and exits 1.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/tokenhost/tokenhost/core"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: lean <tokenhost-binary> <config-file> <provider>")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h, err := core.Open(ctx, core.Options{ConfigFile: os.Args[2], PluginExecutable: os.Args[1]})
	if err != nil {
		fmt.Fprintln(os.Stderr, "lean:", err)
		os.Exit(1)
	}
	p, err := h.Provider(os.Args[3])
	if err != nil {
		h.Close()
		fmt.Fprintln(os.Stderr, "lean:", err)
		os.Exit(1)
	}
	tok, err := p.Token(ctx)
	h.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "lean:", err)
		os.Exit(1)
	}
	fmt.Println(tok.Value)
}
