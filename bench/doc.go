// Package bench holds the socket-level proxy benchmark, bench/proxy.sh, and the programs it runs
// (bench/upstream, bench/bareproxy), and bench/token.sh with its identity provider (bench/tokenidp); its
// tests only check that the scripts parse.
package bench
