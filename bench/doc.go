// Package bench holds the socket-level proxy benchmark, bench/proxy.sh, and the programs it runs
// (bench/upstream, bench/bareproxy); its test only checks that the script parses.
package bench
