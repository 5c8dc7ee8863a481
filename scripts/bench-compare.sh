#!/usr/bin/env bash
# bench-compare.sh — measure switchboard, Redis and NATS with one tool.
#
# Starts redis-server (Debian package), nats-server (built from its Go module
# at a pinned version) and switchboard on loopback on non-default ports, runs
# `switchboard bench fanout` at K = 1, 10, 100, 1000 against all three in
# turn (RUNS rounds, medians taken), then `bench conns` against each, stops
# everything it started, and writes
#   bench-results/runs/*.json   one report per run
#   bench-results/compare.json  medians (bench summarize)
#   bench-results/compare.md    markdown tables for BENCHMARKS.md
#   bench-results/fanout.png    deliveries per server CPU-second vs K
# Bounded to about ten minutes with the defaults; every bench run carries
# its own --timeout and the whole script a watchdog.
#
# Then, side by side in the same run (issue 15):
#   paced     `bench latency -k KS --deliveries DELIVERIES` against each
#             server, PACED_RUNS rounds: server cores, deliveries per server
#             CPU-second, p50/p99/p99.9 (latency from the scheduled send
#             time), loss; bench-results/paced/*.json
#   pipeline  `bench fanout --batch BATCHES --window WINDOWS` against each
#             server, PIPE_RUNS rounds: each server's best pipelining per K, and the bench
#             client's own cores; bench-results/pipeline/*.json
#   everyday  bench-results/everyday.md: per K and point, the conservative
#             figure of each server over the rounds, side by side (jq)
# QUICK=1 runs only the paced and pipeline sweeps, smaller (under 3 minutes).
#
# Environment knobs: KS, RUNS, DURATION, CONNS, BROADCASTS, IDLE, OUT,
# PACED_KS, DELIVERIES, PACED_DURATION, PACED_RUNS, SWEEP_KS, PIPE_RUNS, BATCHES,
# WINDOWS, SWEEP_DURATION, QUICK,
# NATS_VERSION, BENCH_BIN (a binary whose `bench` subcommand to use instead of
# the freshly built switchboard), BUDGET (seconds, default 660).
set -euo pipefail

QUICK=${QUICK:-0}
if [[ $QUICK == 1 ]]; then
	PACED_KS=${PACED_KS:-1,10,100}
	DELIVERIES=${DELIVERIES:-1000,10000}
	PACED_DURATION=${PACED_DURATION:-2s}
	SWEEP_KS=${SWEEP_KS:-1,10,100}
	BATCHES=${BATCHES:-16,256}
	WINDOWS=${WINDOWS:-1000}
	SWEEP_DURATION=${SWEEP_DURATION:-2s}
	BUDGET=${BUDGET:-180}
fi
PACED_KS=${PACED_KS:-1,10,100,1000}
DELIVERIES=${DELIVERIES:-100,1000,10000,100000}
PACED_DURATION=${PACED_DURATION:-3s}
PACED_RUNS=${PACED_RUNS:-2}
PIPE_RUNS=${PIPE_RUNS:-2}
SWEEP_KS=${SWEEP_KS:-1,10,100,1000}
BATCHES=${BATCHES:-16,256}
WINDOWS=${WINDOWS:-1000,10000}
SWEEP_DURATION=${SWEEP_DURATION:-2s}

NATS_VERSION=${NATS_VERSION:-v2.15.3} # pinned: the version in go.mod
REDIS_PORT=${REDIS_PORT:-16379}
NATS_PORT=${NATS_PORT:-14222}
SB_PORT=${SB_PORT:-18082}
KS=${KS:-"1 10 100 1000"}
RUNS=${RUNS:-3}
DURATION=${DURATION:-4s}
CONNS=${CONNS:-19000}
BROADCASTS=${BROADCASTS:-20}
IDLE=${IDLE:-15s}
BUDGET=${BUDGET:-720}

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
OUT=${OUT:-$root/bench-results}
tmp=$(mktemp -d /tmp/bench-compare.XXXXXX)
started=() # PIDs this script started, stopped on exit
log() { printf '%s bench-compare: %s\n' "$(date +%T)" "$*" >&2; }

cleanup() {
	local pid
	for pid in "${started[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${started[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# Watchdog: the whole run stays bounded even if something hangs. It polls
# once a second so that it never outlives the script by more than that.
main_pid=$$
(
	end=$((SECONDS + BUDGET))
	while kill -0 "$main_pid" 2>/dev/null && ((SECONDS < end)); do sleep 1; done
	if kill -0 "$main_pid" 2>/dev/null; then
		log "budget of ${BUDGET}s exhausted, stopping"
		kill -TERM "$main_pid"
	fi
) &
started+=($!)

# runc runs a command in the background and waits for it, so that signals
# interrupt the wait and cleanup stops the command too.
runc() {
	"$@" &
	local p=$!
	started+=("$p")
	wait "$p"
}

# --- tools -------------------------------------------------------------------
if ! command -v redis-server >/dev/null; then
	log "installing redis-server (Debian package)"
	apt-get install -y redis-server >/dev/null
fi
nats_bin=$tmp/natsbin/nats-server
log "building nats-server $NATS_VERSION from its Go module"
GOBIN=$tmp/natsbin GOFLAGS=-mod=mod go install "github.com/nats-io/nats-server/v2@$NATS_VERSION"
log "building switchboard"
go build -o "$tmp/switchboard" ./cmd/switchboard
bench=${BENCH_BIN:-$tmp/switchboard}
if ! "$bench" bench help >/dev/null 2>&1; then
	log "$bench has no working 'bench' subcommand; set BENCH_BIN"
	exit 1
fi

# --- servers -----------------------------------------------------------------
wait_port() { # wait_port PORT PID: until something listens, or fail
	local i
	for i in $(seq 1 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
		kill -0 "$2" 2>/dev/null || { log "server on port $1 exited"; return 1; }
		sleep 0.1
	done
	log "nothing listens on port $1"
	return 1
}

for port in "$REDIS_PORT" "$NATS_PORT" "$SB_PORT"; do
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		log "port $port is already in use; stop that server or set REDIS_PORT/NATS_PORT/SB_PORT"
		exit 1
	fi
done
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --protected-mode no --save '' --appendonly no \
	--maxclients 19900 --daemonize no --loglevel warning >"$tmp/redis.log" 2>&1 &
redis_pid=$!
started+=("$redis_pid")
"$nats_bin" -a 127.0.0.1 -p "$NATS_PORT" >"$tmp/nats.log" 2>&1 &
nats_pid=$!
started+=("$nats_pid")
sb_args=(serve --tcp-addr "127.0.0.1:$SB_PORT")
if "$tmp/switchboard" serve --help 2>&1 | grep -q -- '-http-addr'; then
	sb_args+=(--http-addr '')
fi
"$tmp/switchboard" "${sb_args[@]}" >"$tmp/switchboard.log" 2>&1 &
sb_pid=$!
started+=("$sb_pid")
wait_port "$REDIS_PORT" "$redis_pid"
wait_port "$NATS_PORT" "$nats_pid"
wait_port "$SB_PORT" "$sb_pid"
sleep 0.5
for p in "$redis_pid" "$nats_pid" "$sb_pid"; do
	kill -0 "$p" 2>/dev/null || { log "server pid $p exited at start; see $tmp/*.log"; cat "$tmp"/*.log >&2; exit 1; }
done
log "servers up: switchboard pid $sb_pid, redis pid $redis_pid, nats pid $nats_pid; load $(cut -d' ' -f1-3 /proc/loadavg)"

declare -A target=([switchboard]="tcp://127.0.0.1:$SB_PORT" [redis]="redis://127.0.0.1:$REDIS_PORT" [nats]="nats://127.0.0.1:$NATS_PORT")
declare -A pid=([switchboard]=$sb_pid [redis]=$redis_pid [nats]=$nats_pid)
servers=(switchboard redis nats)

mkdir -p "$OUT/runs" "$OUT/paced" "$OUT/pipeline"
rm -f "$OUT"/runs/*.json "$OUT"/paced/* "$OUT"/pipeline/*
t0=$SECONDS

# sweep NAME FILE ARGS...: one bench sweep against each server in turn,
# JSON to FILE-SERVER.json.
sweep() {
	local name=$1 base=$2 s
	shift 2
	for s in "${servers[@]}"; do
		log "$name $s"
		if ! runc "$bench" bench "$@" --target "${target[$s]}" --server-pid "${pid[$s]}" \
			--no-progress --json >"$base-$s.json.tmp"; then
			log "$name $s failed; skipped"
			rm -f "$base-$s.json.tmp"
			continue
		fi
		mv "$base-$s.json.tmp" "$base-$s.json"
	done
}

# --- paced: fixed rates, servers alternating, PACED_RUNS rounds ---------------
for run in $(seq 1 "$PACED_RUNS"); do
	sweep "paced K=$PACED_KS deliveries/s=$DELIVERIES (round $run/$PACED_RUNS)" "$OUT/paced/run$run" \
		latency -k "$PACED_KS" --deliveries "$DELIVERIES" --duration "$PACED_DURATION" --timeout 60s
done
log "paced done in $((SECONDS - t0))s"

# --- pipeline: unpaced, each server at its best batch/window ------------------
for run in $(seq 1 "$PIPE_RUNS"); do
	sweep "pipeline K=$SWEEP_KS batch=$BATCHES window=$WINDOWS (round $run/$PIPE_RUNS)" "$OUT/pipeline/run$run" \
		fanout -k "$SWEEP_KS" --batch "$BATCHES" --window "$WINDOWS" --duration "$SWEEP_DURATION" --timeout 60s
done
log "pipeline done in $((SECONDS - t0))s"

# everyday writes the side-by-side tables: paced (worst over the rounds:
# most server CPU per delivery, highest p99) and pipeline (best per K).
everyday() {
	local md=$OUT/everyday.md
	{
		echo "Paced (latency from the scheduled send time; conservative over $PACED_RUNS rounds: lowest deliveries per server CPU-second, highest p99; server cores at the highest):"
		echo
		echo "| K | deliveries/s | server | server cores | deliveries / server CPU-s | p50 ms | p99 ms | p99.9 ms | lost |"
		echo "|---|---|---|---|---|---|---|---|---|"
		jq -rs '[.[] | .server as $s | .points[] | select(.report != null) | {k: .subscribers, d: .deliveries_target_per_sec, s: $s,
			cores: .server_cores, dpc: .deliveries_per_server_cpu_second, p50: .report.latency_p50_ms, p99: .report.latency_p99_ms,
			p999: .report.latency_p99_9_ms, lost: .report.lost}]
			| group_by([.k, .d, .s]) | .[] | {k: .[0].k, d: .[0].d, s: .[0].s,
			cores: ([.[].cores // 0] | max), dpc: ([.[].dpc // 0] | min), p50: ([.[].p50] | max), p99: ([.[].p99] | max),
			p999: ([.[].p999] | max), lost: ([.[].lost] | max)}
			| "| \(.k) | \(.d) | \(.s) | \(.cores * 1000 | round / 1000) | \(.dpc | round) | \(.p50 * 1000 | round / 1000) | \(.p99 * 1000 | round / 1000) | \(.p999 * 1000 | round / 1000) | \(.lost) |"' \
			"$OUT"/paced/run*-*.json
		echo
		echo "Unpaced, each server at its best batch/window per round (batches $BATCHES, windows $WINDOWS), min and max over $PIPE_RUNS rounds:"
		echo
		echo "| K | server | best batch/window per round | deliveries / server CPU-s min | max | delivered/s min | server cores max | bench client cores max | lost max |"
		echo "|---|---|---|---|---|---|---|---|---|"
		jq -rs '[.[] | .server as $s | .points[] | select(.best == true) | {k: .subscribers, s: $s, bw: "\(.batch)/\(.window)",
			dpc: .deliveries_per_server_cpu_second, dps: .report.delivered_per_sec, sc: .server_cores, cc: .client_cores, lost: .report.lost}]
			| group_by([.k, .s]) | .[] | {k: .[0].k, s: .[0].s, bw: ([.[].bw] | join(" ")),
			lo: ([.[].dpc] | min), hi: ([.[].dpc] | max), dps: ([.[].dps] | min), sc: ([.[].sc] | max), cc: ([.[].cc] | max), lost: ([.[].lost] | max)}
			| "| \(.k) | \(.s) | \(.bw) | \(.lo | round) | \(.hi | round) | \(.dps | round) | \(.sc * 1000 | round / 1000) | \(.cc * 1000 | round / 1000) | \(.lost) |"' \
			"$OUT"/pipeline/run*-*.json
	} >"$md"
	log "wrote $md"
}
if command -v jq >/dev/null; then
	everyday
else
	log "jq not installed: no everyday.md (the JSON is in $OUT/paced and $OUT/pipeline)"
fi
if [[ $QUICK == 1 ]]; then
	log "QUICK: done in $((SECONDS - t0))s; load $(cut -d' ' -f1-3 /proc/loadavg)"
	exit 0
fi

# --- fanout: K = 1..1000, servers alternating, RUNS rounds ---------------------
for run in $(seq 1 "$RUNS"); do
	for k in $KS; do
		for s in "${servers[@]}"; do
			f="$OUT/runs/fanout-$s-k$k-run$run.json"
			log "fanout K=$k $s (round $run/$RUNS)"
			if ! runc "$bench" bench fanout --target "${target[$s]}" --server-pid "${pid[$s]}" \
				-k "$k" -p 1 --size 64 --duration "$DURATION" --timeout 90s --no-progress --json >"$f.tmp"; then
				log "fanout K=$k $s failed; skipped"
				rm -f "$f.tmp"
				continue
			fi
			mv "$f.tmp" "$f"
		done
	done
done
log "fanout done in $((SECONDS - t0))s"

# --- conns: N idle subscribed connections, then broadcasts --------------------
for s in "${servers[@]}"; do
	f="$OUT/runs/conns-$s.json"
	log "conns N=$CONNS $s"
	if ! runc "$bench" bench conns --target "${target[$s]}" --server-pid "${pid[$s]}" \
		-n "$CONNS" -b "$BROADCASTS" --idle "$IDLE" --timeout 150s --no-progress --json >"$f.tmp"; then
		log "conns $s failed; skipped"
		rm -f "$f.tmp"
		continue
	fi
	mv "$f.tmp" "$f"
done
log "all runs done in $((SECONDS - t0))s; load $(cut -d' ' -f1-3 /proc/loadavg)"

# --- results -------------------------------------------------------------------
"$bench" bench summarize --dir "$OUT/runs" --json "$OUT/compare.json" --md "$OUT/compare.md"
"$bench" bench plot --in "$OUT/compare.json" --out "$OUT/fanout.png"
log "wrote $OUT/compare.json, $OUT/compare.md, $OUT/fanout.png"
