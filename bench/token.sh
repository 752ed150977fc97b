#!/usr/bin/env bash
# bench/token.sh — `tokenhost token` as a script or an agent's credential helper meets it: one whole process
# from exec to exit, against what a user would run instead to print a stored token (`gh auth token`, and
# `gcloud auth print-access-token` when gcloud is installed). Not run by CI.
#
# Rows, each `hyperfine -N --runs $RUNS --warmup 2` (separate processes, the same machine):
#   hit      tokenhost token corp, its token in the CLI cache (no plugin starts)
#   helper   tokenhost token corp --helper, the same caller asking again within min_refresh_interval
#            (the record is locked, read and written; the first re-ask refreshes, the rest are throttled)
#   serve    tokenhost token corp beside a running tokenhost serve (the control socket; empty cache)
#   gh       gh auth token, its token in hosts.yml
#   gcloud   gcloud auth print-access-token, its token from CLOUDSDK_AUTH_ACCESS_TOKEN_FILE
# corp is the gateway plugin with client credentials against bench/tokenidp, a loopback token endpoint.
# hyperfine and gh are installed with apt-get when missing (as root, or through sudo).
#
# Usage: bench/token.sh        Environment: RUNS (default 20), PORT (serve's port, default 19180)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-20}
port=${PORT:-19180}

need() {
	command -v "$1" >/dev/null && return
	local sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
	$sudo apt-get install -y "$2" >/dev/null
}
need hyperfine hyperfine
need gh gh

work=$(mktemp -d); chmod 700 "$work"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
go build -o "$work/tokenhost" ./cmd/tokenhost
go build -o "$work/tokenidp" ./bench/tokenidp

export CORP_SECRET=bench-secret-0123456789
mkfifo "$work/idp.url"
"$work/tokenidp" >"$work/idp.url" 2>"$work/idp.log" & pids+=($!)
read -r token_url <"$work/idp.url"

cat >"$work/tokenhost.yaml" <<YAML
providers:
  corp:
    plugin: gateway
    upstream: http://127.0.0.1:9/v1
    options:
      grant: client_credentials
      token_url: $token_url
      client_id: bench
      client_secret_env: CORP_SECRET
YAML
mkdir -p "$work/home" "$work/run" "$work/cache" "$work/cache2"; chmod 700 "$work/home" "$work/run" "$work/cache" "$work/cache2"
export HOME=$work/home XDG_CONFIG_HOME=$work/home/.config XDG_RUNTIME_DIR=$work/run TOKENHOST_CONFIG=$work/tokenhost.yaml
th=$work/tokenhost

bench() { # name, then the command; the environment is the caller's
	local name=$1; shift
	hyperfine -N --runs "$runs" --warmup 2 --export-json "$work/$name.json" "$*" >/dev/null
}
XDG_CACHE_HOME=$work/cache "$th" token corp >/dev/null
XDG_CACHE_HOME=$work/cache bench hit "$th token corp"
XDG_CACHE_HOME=$work/cache bench helper "$th token corp --helper"

"$th" serve --listen "127.0.0.1:$port" 2>"$work/serve.log" & pids+=($!)
curl -fsS --retry 100 --retry-connrefused --retry-delay 0 -o /dev/null "http://127.0.0.1:$port/healthz"
XDG_CACHE_HOME=$work/cache2 bench serve "$th token corp"

mkdir -p "$work/gh"
printf 'github.com:\n    user: bench\n    oauth_token: gho_bench0123456789abcdef\n    git_protocol: https\n' >"$work/gh/hosts.yml"
GH_CONFIG_DIR=$work/gh bench gh "gh auth token"
rows="hit helper serve gh"
if command -v gcloud >/dev/null; then
	mkdir -p "$work/gcloud"; echo "ya29.bench-0123456789" >"$work/gcloud.tok"
	CLOUDSDK_CONFIG=$work/gcloud CLOUDSDK_AUTH_ACCESS_TOKEN_FILE=$work/gcloud.tok bench gcloud "gcloud auth print-access-token"
	rows="$rows gcloud"
fi
kill -INT "${pids[0]}"; wait "${pids[0]}" || true
[ -z "$(ls -A "$work/cache2")" ] || echo "warning: the serve row wrote the CLI cache (the daemon was not asked)"

echo "row     median    range            ($runs processes each; load average: $(cut -d' ' -f1-3 /proc/loadavg))"
for r in $rows; do
	python3 - "$work/$r.json" "$r" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))["results"][0]
print("%-7s %6.1f ms  %6.1f–%.1f ms" % (sys.argv[2], res["median"] * 1000, res["min"] * 1000, res["max"] * 1000))
PY
done
cat "$work/idp.log"
