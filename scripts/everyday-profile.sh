#!/usr/bin/env bash
# everyday-profile.sh — where the server's time goes at everyday load.
#
#   scripts/everyday-profile.sh [SWITCHBOARD_BIN]
#
# Starts switchboard (SWITCHBOARD_BIN, else a fresh build), redis-server and
# nats-server (built from its Go module) on loopback, and for each paced
# point of POINTS (K:deliveries/s; "K:max" is unpaced) and each server in
# turn runs `bench latency` (or `bench fanout` for max) while measuring the
# server process for SECS seconds in its middle:
#   1. perf stat: task-clock, context switches, CPU migrations (all threads);
#   2. a second run under perf record -g (cpu-clock; the VM has no hardware
#      counters);
#   3. a third run under strace -c -f: system calls by name.
# Then prints, per point and server: server CPU per delivery (the bench
# report's server cores of run 1 over its delivery rate), context
# switches per message, system calls (and futex calls) per delivery. The
# raw output is kept in OUT (default /tmp/everyday-profile) — perf.data per
# run for `perf report -i`. Bounded: every bench run has its own --timeout,
# every measurement a fixed length, the whole script a watchdog (BUDGET).
# Environment: POINTS, SECS, OUT, SERVERS, BUDGET, SB_ARGS (extra serve flags),
# NATS_VERSION, BENCH_BIN (the bench tool; default the switchboard binary).
set -euo pipefail
POINTS=${POINTS:-"1:1000 1:10000 10:1000 10:10000 1:max"}
SECS=${SECS:-4}
SERVERS=${SERVERS:-"switchboard redis nats"}
BUDGET=${BUDGET:-900}
SB_ARGS=${SB_ARGS:-}
NATS_VERSION=${NATS_VERSION:-v2.15.3}
OUT=${OUT:-/tmp/everyday-profile}
root=$(cd "$(dirname "$0")/.." && pwd)
log() { printf '%s everyday-profile: %s\n' "$(date +%T)" "$*" >&2; }
for tool in perf strace jq redis-server; do
	command -v "$tool" >/dev/null || { log "needs $tool"; exit 1; }
done
mkdir -p "$OUT"
started=()
cleanup() {
	local p
	for p in "${started[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${started[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'log interrupted; exit 130' INT TERM
main_pid=$$
(
	end=$((SECONDS + BUDGET))
	while kill -0 "$main_pid" 2>/dev/null && ((SECONDS < end)); do sleep 1; done
	if kill -0 "$main_pid" 2>/dev/null; then log "budget of ${BUDGET}s exhausted"; kill -TERM "$main_pid"; fi
) &
started+=($!)

sb=${1:-}
if [[ -z $sb ]]; then
	sb=$OUT/switchboard
	(cd "$root" && go build -o "$sb" ./cmd/switchboard)
fi
bench=${BENCH_BIN:-$sb}
nats_bin=$OUT/natsbin/nats-server
[[ -x $nats_bin ]] || GOBIN=$OUT/natsbin GOFLAGS=-mod=mod go install "github.com/nats-io/nats-server/v2@$NATS_VERSION"

# shellcheck disable=SC2086 # SB_ARGS is a list of flags
"$sb" serve --tcp-addr 127.0.0.1:18282 --http-addr '' $SB_ARGS >"$OUT/switchboard.log" 2>&1 &
started+=($!)
declare -A pid=([switchboard]=$!)
redis-server --port 16479 --bind 127.0.0.1 --protected-mode no --save '' --appendonly no --daemonize no --loglevel warning >"$OUT/redis.log" 2>&1 &
started+=($!)
pid[redis]=$!
"$nats_bin" -a 127.0.0.1 -p 14322 >"$OUT/nats.log" 2>&1 &
started+=($!)
pid[nats]=$!
declare -A target=([switchboard]=tcp://127.0.0.1:18282 [redis]=redis://127.0.0.1:16479 [nats]=nats://127.0.0.1:14322)
for port in 18282 16479 14322; do
	for _ in $(seq 1 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
		sleep 0.1
	done
done
log "servers up: ${pid[*]}; load $(cut -d' ' -f1-3 /proc/loadavg)"

# load K D FILE: a bench run of SECS+4 seconds against $s in the background.
load() {
	local k=$1 d=$2 f=$3
	if [[ $d == max ]]; then
		"$bench" bench fanout -k "$k" -p 1 --size 64 --duration "$((SECS + 4))s" --timeout 60s \
			--target "${target[$s]}" --server-pid "${pid[$s]}" --no-progress --json >"$f" &
	else
		"$bench" bench latency -k "$k" --rate "$((d / k))" --duration "$((SECS + 4))s" --timeout 60s \
			--target "${target[$s]}" --server-pid "${pid[$s]}" --no-progress --json >"$f" &
	fi
	lpid=$!
	started+=("$lpid")
}

printf '| K | deliveries/s | server | delivered in window | server CPU µs / delivery | context switches / message | syscalls / delivery | futex / delivery | top syscalls (per delivery) |\n'
printf '|---|---|---|---:|---:|---:|---:|---:|---|\n'
for pt in $POINTS; do
	k=${pt%%:*} d=${pt##*:}
	for s in $SERVERS; do
		base=$OUT/k$k-d$d-$s
		p=${pid[$s]}
		# 1. a clean run: perf stat only (counting, no sampling); the
		# server's CPU comes from the bench report over the whole run.
		load "$k" "$d" "$base.bench.json"
		sleep 2
		perf stat -x, -e task-clock,context-switches,cpu-migrations -p "$p" -- sleep "$SECS" 2>"$base.stat" >/dev/null
		wait "$lpid" || true
		# 2. perf record -g over SECS in the middle of a second run.
		load "$k" "$d" "$base.bench-perf.json"
		sleep 2
		perf record -q -e cpu-clock -g -p "$p" -o "$base.perf.data" -- sleep "$SECS" >/dev/null 2>&1 || true
		wait "$lpid" || true
		# 3. strace -c over SECS in the middle of a third run.
		load "$k" "$d" "$base.bench2.json"
		sleep 2
		timeout -s INT "$SECS" strace -c -f -p "$p" -o "$base.strace" >/dev/null 2>&1 || true
		wait "$lpid" || true
		rate=$(jq -r ".delivered_per_sec // .report.delivered_per_sec // 0" "$base.bench.json")
		rate2=$(jq -r ".delivered_per_sec // .report.delivered_per_sec // 0" "$base.bench2.json")
		cores=$(jq -r ".server_cores // .report.server_cores // 0" "$base.bench.json")
		deliv=$(awk -v r="$rate" -v s="$SECS" 'BEGIN{printf "%d", r*s}')
		cs=$(awk -F, '$3=="context-switches"{print $1}' "$base.stat")
		deliv2=$(awk -v r="$rate2" -v s="$SECS" 'BEGIN{printf "%d", r*s}')
		awk -v cores="$cores" -v rate="$rate" -v n="$deliv" -v n2="$deliv2" -v cs="$cs" -v k="$k" -v strace="$base.strace" \
			-v K="$k" -v D="$d" -v S="$s" 'BEGIN{
			us = (rate > 0) ? cores * 1e6 / rate : 0
			m = (n > 0) ? n / k : 0
			tot = 0; fut = 0; top = ""
			while ((getline line < strace) > 0) {
				nf = split(line, a, " +")
				if (a[1] == "") { for (i = 1; i < nf; i++) a[i] = a[i+1]; nf-- }
				if (a[nf] == "total") { tot = a[4]; continue }
				if (a[nf] ~ /^[a-z_0-9]+$/ && a[4] ~ /^[0-9]+$/) {
					calls[a[nf]] = a[4]
					if (a[nf] == "futex") fut = a[4]
				}
			}
			# strace ran over a third run: n2 is from the rate of that run
			for (c in calls) if (calls[c] / n2 >= 0.05) top = top sprintf("%s %.2f, ", c, calls[c] / n2)
			printf "| %s | %s | %s | %d | %.2f | %.2f | %.2f | %.2f | %s |\n", K, D, S, n, us, (m > 0 ? cs / m : 0), (n2 > 0 ? tot / n2 : 0), (n2 > 0 ? fut / n2 : 0), top
		}'
	done
done
log "done; raw output in $OUT (perf report -i $OUT/K...perf.data)"
