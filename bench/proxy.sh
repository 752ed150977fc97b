#!/usr/bin/env bash
# bench/proxy.sh — `tokenhost serve` against nginx and bare Go reverse proxies in front of the same
# loopback upstream, driven by wrk over real sockets. Not run by CI.
#
# Contenders, each its own process:
#   nginx         nginx with a static Authorization header, upstream keepalive 64, access log off
#   bare-pooled   a bare Go httputil.ReverseProxy, static header, MaxIdleConnsPerHost 64 (bench/bareproxy)
#   bare-default  the same on http.DefaultTransport (2 idle connections per host)
#   tokenhost     tokenhost serve, gateway provider with grant: static (the token is cached), --log-level warn
#   tokenhost-log the same with its access log on (--log-level info, written to a file); only when listed
#                 in CONTENDERS
#
# For each round (interleaved: every contender once per round) it runs
#   wrk -t1 -c16 -d<seconds>s --latency
# and reports per contender the median req/s and p99 over the rounds, the ratios to nginx and to the
# pooled bare proxy, and the CPU time the proxy's processes used per request (user + system, from /proc:
# less sensitive than req/s to other load on the machine); then SSE time to first byte (curl's
# time_starttransfer on a 200-chunk stream, a new connection each time, samples interleaved, median).
#
# Usage: bench/proxy.sh [-d seconds] [-r rounds] [-s sse-samples] [-w warm-up-seconds]
# Environment:
#   WRK_CPU       CPU list for wrk and curl          (default 0)
#   PROXY_CPU     CPU list for the proxy under test  (default 1)
#   UPSTREAM_CPU  CPU list for the upstream          (default 0)
#   CONTENDERS    which contenders, in order         (default "nginx bare-pooled bare-default tokenhost")
#   NGINX_WORKERS nginx worker_processes             (default: the number of CPUs in PROXY_CPU)
#   PORT_BASE     first of the loopback ports used   (default 19100)
#   KEEP=1        keep the work directory (configs, logs, raw wrk output)
# nginx-light and wrk are installed with apt-get when missing (as root, or through sudo).
set -euo pipefail

duration=10
rounds=3
sse_samples=21
warmup=2
while getopts "d:r:s:w:h" opt; do
	case $opt in
	d) duration=$OPTARG ;;
	r) rounds=$OPTARG ;;
	s) sse_samples=$OPTARG ;;
	w) warmup=$OPTARG ;;
	*)
		sed -n '2,/^set -euo/p' "$0" | sed '$d'
		exit 2
		;;
	esac
done

wrk_cpu=${WRK_CPU:-0}
proxy_cpu=${PROXY_CPU:-1}
upstream_cpu=${UPSTREAM_CPU:-0}
read -r -a contenders <<<"${CONTENDERS:-nginx bare-pooled bare-default tokenhost}"
port_base=${PORT_BASE:-19100}

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/tokenhost-bench.XXXXXX)
chmod 755 "$work" # nginx workers may run as another user
pids=()

cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	if [[ ${KEEP:-} == 1 ]]; then
		echo "work directory kept: $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT

die() {
	echo "bench/proxy.sh: $*" >&2
	exit 1
}

# install_tools installs nginx-light and wrk when missing.
install_tools() {
	local missing=()
	command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || missing+=(nginx-light)
	command -v wrk >/dev/null 2>&1 || missing+=(wrk)
	command -v curl >/dev/null 2>&1 || missing+=(curl)
	command -v taskset >/dev/null 2>&1 || missing+=(util-linux)
	((${#missing[@]} == 0)) && return
	echo "installing ${missing[*]} with apt-get" >&2
	local sudo=()
	[[ $(id -u) == 0 ]] || sudo=(sudo)
	"${sudo[@]}" apt-get update -qq
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
}

# cpus_in counts the CPUs of a taskset CPU list such as "1" or "0,1" or "0-3".
cpus_in() {
	local n=0 part
	local -a parts
	IFS=, read -r -a parts <<<"$1"
	for part in "${parts[@]}"; do
		if [[ $part == *-* ]]; then
			n=$((n + ${part#*-} - ${part%-*} + 1))
		else
			n=$((n + 1))
		fi
	done
	echo "$n"
}

# port_free reports whether nothing listens on a loopback port.
port_free() {
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# wait_up waits until url answers 200 (a bounded number of tries).
wait_up() {
	for _ in $(seq 100); do
		if [[ $(curl -s -o /dev/null -w '%{http_code}' "$1" || true) == 200 ]]; then
			return 0
		fi
		sleep 0.1
	done
	die "$1 did not answer 200; see the logs in $work (run with KEEP=1)"
}

# median prints the median of the numbers on stdin.
median() {
	sort -g | awk '{v[NR] = $1} END {if (NR == 0) {print "nan"} else if (NR % 2) {print v[(NR + 1) / 2]} else {print (v[NR / 2] + v[NR / 2 + 1]) / 2}}'
}

# to_ms converts a wrk latency such as 812.00us, 2.31ms or 1.02s to milliseconds.
to_ms() {
	awk -v v="$1" 'BEGIN {
		if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f\n", v / 1000 }
		else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f\n", v }
		else if (v ~ /m$/) { sub(/m$/, "", v); printf "%.3f\n", v * 60000 }
		else { sub(/s$/, "", v); printf "%.3f\n", v * 1000 }
	}'
}

install_tools
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

echo "building tokenhost, bench/upstream and bench/bareproxy from $root" >&2
(cd "$root" && go build -o "$work/tokenhost" ./cmd/tokenhost && go build -o "$work/upstream" ./bench/upstream &&
	go build -o "$work/bareproxy" ./bench/bareproxy)

up_port=$port_base
for p in $(seq "$port_base" $((port_base + 5))); do
	port_free "$p" || die "port $p is taken; set PORT_BASE to a free range of 6 ports"
done
key="bench-$RANDOM$RANDOM$RANDOM"
printf '%s' "$key" >"$work/key"

declare -A url sse pid
start() { # start name cpu-list command...: runs a server in the background, pinned
	local name=$1 cpus=$2
	shift 2
	taskset -c "$cpus" "$@" >"$work/$name.log" 2>&1 &
	pids+=($!)
	pid[$name]=$!
}

# cpu_ticks prints the CPU time (user + system, in clock ticks) a process and its children have used so
# far: nginx's workers, tokenhost's plugin process.
cpu_ticks() {
	local p total=0 f
	for p in "$1" $(pgrep -P "$1" || true); do
		[[ -r /proc/$p/stat ]] || continue
		# Fields 14 and 15 of /proc/PID/stat, counted after the command name (which may hold spaces).
		f=$(sed 's/^.*) //' "/proc/$p/stat")
		total=$((total + $(awk '{print $12 + $13}' <<<"$f")))
	done
	echo "$total"
}

start upstream "$upstream_cpu" "$work/upstream" -listen "127.0.0.1:$up_port" -key "$key"
wait_up_upstream() {
	for _ in $(seq 100); do
		[[ $(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $key" "http://127.0.0.1:$up_port/" || true) == 200 ]] && return 0
		sleep 0.1
	done
	die "the upstream did not start; see $work/upstream.log"
}
wait_up_upstream

for c in "${contenders[@]}"; do
	case $c in
	nginx)
		port=$((port_base + 1))
		mkdir -p "$work/nginx"
		cat >"$work/nginx/nginx.conf" <<EOF
worker_processes ${NGINX_WORKERS:-$(cpus_in "$proxy_cpu")};
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path $work/nginx/body;
	proxy_temp_path $work/nginx/proxy;
	fastcgi_temp_path $work/nginx/fastcgi;
	uwsgi_temp_path $work/nginx/uwsgi;
	scgi_temp_path $work/nginx/scgi;
	upstream api {
		server 127.0.0.1:$up_port;
		keepalive 64;
	}
	server {
		listen 127.0.0.1:$port;
		location / {
			proxy_pass http://api;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_set_header Authorization "Bearer $key";
		}
	}
}
EOF
		start nginx "$proxy_cpu" "$nginx_bin" -p "$work/nginx" -e "$work/nginx/error.log" -c "$work/nginx/nginx.conf" -g 'daemon off;'
		url[$c]="http://127.0.0.1:$port"
		;;
	bare-pooled | bare-default)
		port=$((port_base + 2))
		pool=64
		if [[ $c == bare-default ]]; then
			port=$((port_base + 3))
			pool=0
		fi
		start "$c" "$proxy_cpu" "$work/bareproxy" -listen "127.0.0.1:$port" -upstream "http://127.0.0.1:$up_port" -auth "Bearer $key" -pool "$pool"
		url[$c]="http://127.0.0.1:$port"
		;;
	tokenhost | tokenhost-log)
		port=$((port_base + 4))
		level=warn
		if [[ $c == tokenhost-log ]]; then
			port=$((port_base + 5))
			level=info
		fi
		cat >"$work/$c.yaml" <<EOF
server:
  listen: 127.0.0.1:$port
providers:
  bench:
    plugin: gateway
    upstream: http://127.0.0.1:$up_port
    options:
      grant: static
      key_file: $work/key
EOF
		start "$c" "$proxy_cpu" env -u TOKENHOST_CONFIG "$work/tokenhost" --config "$work/$c.yaml" --log-level "$level" serve
		url[$c]="http://127.0.0.1:$port/bench"
		;;
	*) die "unknown contender $c (known: nginx bare-pooled bare-default tokenhost tokenhost-log)" ;;
	esac
	sse[$c]="${url[$c]}/sse"
done
for c in "${contenders[@]}"; do
	wait_up "${url[$c]}/v1/chat/completions" # also proves the credential reaches the upstream (it answers 401 otherwise)
done

wrk_run() { # wrk_run contender seconds out-file
	taskset -c "$wrk_cpu" wrk -t1 -c16 -d"$2"s --latency "${url[$1]}/v1/chat/completions" >"$3" 2>&1
	if grep -q -e 'Non-2xx' -e 'Socket errors' "$3"; then
		echo "warning: $1: $(grep -e 'Non-2xx' -e 'Socket errors' "$3" | tr -s ' ')" >&2
	fi
}

echo "warming up (${warmup}s each)" >&2
for c in "${contenders[@]}"; do
	wrk_run "$c" "$warmup" "$work/warmup-$c.txt"
done

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for r in $(seq "$rounds"); do
	for c in "${contenders[@]}"; do
		out="$work/wrk-$c-$r.txt"
		t0=$(cpu_ticks "${pid[$c]}")
		wrk_run "$c" "$duration" "$out"
		t1=$(cpu_ticks "${pid[$c]}")
		rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
		reqs=$(awk '/requests in/ {print $1}' "$out")
		cpu=$(awk -v t="$((t1 - t0))" -v hz="$(getconf CLK_TCK)" -v n="$reqs" 'BEGIN {printf "%.1f", t / hz / n * 1e6}')
		p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$out")")
		tw=$(ss -Htan state time-wait | wc -l)
		echo "$rps" >>"$work/rps-$c"
		echo "$p99" >>"$work/p99-$c"
		echo "$cpu" >>"$work/cpu-$c"
		printf 'round %d  %-14s %10s req/s  p99 %8s ms  %6s CPU-µs/req  TIME_WAIT %6d\n' "$r" "$c" "$rps" "$p99" "$cpu" "$tw" >&2
	done
done

echo "SSE: $sse_samples samples per contender, interleaved" >&2
for _ in $(seq "$sse_samples"); do
	for c in "${contenders[@]}"; do
		taskset -c "$wrk_cpu" curl -s -N -o /dev/null -w '%{time_starttransfer} %{time_total} %{http_code}\n' "${sse[$c]}" >>"$work/sse-$c"
	done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
declare -A rps p99 cpu ttfb total
for c in "${contenders[@]}"; do
	rps[$c]=$(median <"$work/rps-$c")
	cpu[$c]=$(median <"$work/cpu-$c")
	p99[$c]=$(median <"$work/p99-$c")
	if awk '$3 != 200 {bad = 1} END {exit !bad}' "$work/sse-$c"; then
		echo "warning: $c: an SSE request did not end 200" >&2
	fi
	ttfb[$c]=$(awk '{printf "%.3f\n", $1 * 1000}' "$work/sse-$c" | median)
	total[$c]=$(awk '{printf "%.3f\n", $2 * 1000}' "$work/sse-$c" | median)
done

echo
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) CPUs ($(lscpu | sed -n 's/^Model name: *//p' | head -1)), $(uname -sr)"
echo "$(go version | cut -d' ' -f3-4), nginx $("$nginx_bin" -v 2>&1 | sed 's/.*nginx\///'), $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2)"
echo "wrk -t1 -c16 -d${duration}s --latency, $rounds interleaved rounds; wrk and curl on CPU $wrk_cpu, proxy on CPU $proxy_cpu, upstream on CPU $upstream_cpu"
echo "load average before: $load_before, after: $load_after"
echo
echo "| contender | req/s (median) | vs nginx | vs bare-pooled | p99 ms (median) | proxy CPU µs/request | SSE TTFB ms (median of $sse_samples) | SSE 200 chunks ms |"
echo "|---|---|---|---|---|---|---|---|"
for c in "${contenders[@]}"; do
	vs_nginx=-
	vs_bare=-
	[[ -n ${rps[nginx]:-} ]] && vs_nginx=$(ratio "${rps[$c]}" "${rps[nginx]}")
	[[ -n ${rps[bare-pooled]:-} ]] && vs_bare=$(ratio "${rps[$c]}" "${rps[bare-pooled]}")
	printf '| %s | %.0f | %s | %s | %s | %s | %s | %s |\n' "$c" "${rps[$c]}" "$vs_nginx" "$vs_bare" "${p99[$c]}" "${cpu[$c]}" "${ttfb[$c]}" "${total[$c]}"
done
