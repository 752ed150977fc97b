// Command sigcount is a test program for `tokenhost run`: it prints "ready", then "INT <n>" for each
// SIGINT it receives; on SIGTERM it prints "count <n>" and exits with status 7.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	c := make(chan os.Signal, 16)
	signal.Notify(c, syscall.SIGINT, syscall.SIGTERM)
	fmt.Println("ready")
	n := 0
	for s := range c {
		if s == syscall.SIGTERM {
			fmt.Printf("count %d\n", n)
			os.Exit(7)
		}
		n++
		fmt.Printf("INT %d\n", n)
	}
}
