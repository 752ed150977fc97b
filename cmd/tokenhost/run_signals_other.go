//go:build !unix

package main

import "os"

// forwarded are the signals `tokenhost run` passes on to its command instead of acting on them: only
// os.Interrupt (Ctrl-C) where there are no unix signals. On Windows the console delivers Ctrl-C to the
// command as well; catching it keeps `tokenhost run` and its proxy alive until the command exits.
var forwarded = []os.Signal{os.Interrupt}
