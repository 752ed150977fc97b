#!/usr/bin/env bash
# bench/plugins.sh — how heavy are tokenhost's plugin processes and its host.
#
# Builds tokenhost and the example plugin (examples/plugin) from the checkout, and from each git revision
# given as an argument, then runs bench/pluginweight: per built-in plugin and for the external one, the
# cold start (exec until the go-plugin handshake line, and until Configure is answered) and the resident
# memory after Configure and one Token; the host's start-up time and idle memory; and every process's
# memory with `tokenhost serve --eager` running the four built-ins side by side. Interleaved rounds,
# medians. Linux only (/proc). Not run by CI.
#
#   bench/plugins.sh                 # the checkout alone
#   bench/plugins.sh 38cdec8         # that revision ("before") against the checkout ("after")
#   ROUNDS=40 bench/plugins.sh       # more rounds (default 20)
#   BUILD_ENV="CGO_ENABLED=0" bench/plugins.sh   # e.g. the static build of deploy/Dockerfile
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rounds=${ROUNDS:-20}

build() { # build <label> <source dir>
	(cd "$2" && env ${BUILD_ENV:-} go build -o "$work/$1/tokenhost" ./cmd/tokenhost && env ${BUILD_ENV:-} go build -o "$work/$1/corp-plugin" ./examples/plugin)
}

args=()
for rev in "$@"; do
	mkdir -p "$work/src-$rev"
	git -C "$root" archive "$rev" | tar -x -C "$work/src-$rev"
	build "$rev" "$work/src-$rev"
	mode="" # a revision without HostTLS (sdk/mtls.go, later internal/pluginrpc/tls.go) started plugins with AutoMTLS
	git -C "$root" cat-file -e "$rev:sdk/mtls.go" 2>/dev/null || git -C "$root" cat-file -e "$rev:internal/pluginrpc/tls.go" 2>/dev/null || mode=":automtls"
	args+=("$rev=$work/$rev/tokenhost:$work/$rev/corp-plugin$mode")
done
build checkout "$root"
args+=("checkout=$work/checkout/tokenhost:$work/checkout/corp-plugin")

(cd "$root" && go build -o "$work/pluginweight" ./bench/pluginweight)
echo "# $(date -u +%FT%TZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(go version | cut -d' ' -f3-)"
"$work/pluginweight" -rounds "$rounds" "${args[@]}"
