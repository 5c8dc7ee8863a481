#!/usr/bin/env bash
# ab-compare.sh — two builds of switchboard side by side, in one run.
#
#   scripts/ab-compare.sh BEFORE_BIN AFTER_BIN
#
# Starts both servers on loopback (ports 18182 and 18183, no web door),
# then alternates between them: `bench fanout` at K = 1, 10, 100, 1000
# (RUNS rounds, before and after taking turns within each round), then
# `bench conns` (CONNS idle subscribed connections and BROADCASTS
# broadcasts) PAIRS times each, alternating. The load generator is the
# AFTER binary's `bench`, the same for both. Prints a table of medians:
# deliveries per server CPU-second, lost messages, broadcast last-receiver
# p50/p99 and bytes per idle connection. Bounded: every bench run has its
# own --timeout and the script a watchdog (BUDGET seconds, default 900).
# Paced points come first (issue 15's everyday load): PACED is a list of
# K:deliveries/s (default "1:1000 1:10000 10:1000 10:10000"; empty skips
# them), each `bench latency` for PACED_DURATION, PACED_RUNS rounds,
# alternating; the table gives server CPU per delivery and p99 (medians).
# Reports and the servers' logs go to OUT (default bench-results/ab); the
# servers listen on BEFORE_PORT and AFTER_PORT (default 18182, 18183). BEFORE_ARGS and AFTER_ARGS
# add serve flags to one side, e.g. the same binary twice with
# BEFORE_ARGS="--history 0" measures what history costs.
set -euo pipefail
before=${1:?usage: ab-compare.sh BEFORE_BIN AFTER_BIN}
after=${2:?usage: ab-compare.sh BEFORE_BIN AFTER_BIN}
KS=${KS:-"1 10 100 1000"}
RUNS=${RUNS:-3}
DURATION=${DURATION:-4s}
CONNS=${CONNS:-19000}
BROADCASTS=${BROADCASTS:-20}
PAIRS=${PAIRS:-2}
IDLE=${IDLE:-3s}
BEFORE_ARGS=${BEFORE_ARGS:-}
AFTER_ARGS=${AFTER_ARGS:-}
BUDGET=${BUDGET:-900}
PACED=${PACED-"1:1000 1:10000 10:1000 10:10000"}
PACED_RUNS=${PACED_RUNS:-3}
PACED_DURATION=${PACED_DURATION:-4s}
root=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$root/bench-results/ab}
log() { printf '%s ab-compare: %s\n' "$(date +%T)" "$*" >&2; }
started=()
cleanup() {
	local p
	for p in "${started[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${started[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
main_pid=$$
(
	end=$((SECONDS + BUDGET))
	while kill -0 "$main_pid" 2>/dev/null && ((SECONDS < end)); do sleep 1; done
	if kill -0 "$main_pid" 2>/dev/null; then log "budget of ${BUDGET}s exhausted"; kill -TERM "$main_pid"; fi
) &
started+=($!)

declare -A bin=([before]=$before [after]=$after) port=([before]=${BEFORE_PORT:-18182} [after]=${AFTER_PORT:-18183}) pid=()
mkdir -p "$OUT"
for w in before after; do
	extra=$BEFORE_ARGS
	[ "$w" = after ] && extra=$AFTER_ARGS
	# shellcheck disable=SC2086 # extra is a list of flags
	"${bin[$w]}" serve --tcp-addr "127.0.0.1:${port[$w]}" --http-addr '' $extra >"$OUT/server-$w.log" 2>&1 &
	pid[$w]=$!
	started+=("${pid[$w]}")
done
for w in before after; do
	for _ in $(seq 1 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/${port[$w]}") 2>/dev/null && break
		sleep 0.1
	done
	kill -0 "${pid[$w]}" 2>/dev/null || { log "$w server exited at start (port ${port[$w]} taken? set BEFORE_PORT/AFTER_PORT):"; cat "$OUT/server-$w.log" >&2; exit 1; }
done
mkdir -p "$OUT"
rm -f "$OUT"/*.json
log "servers up (before pid ${pid[before]}, after pid ${pid[after]}); load $(cut -d' ' -f1-3 /proc/loadavg)"
for run in $(seq 1 "$PACED_RUNS"); do
	for pt in $PACED; do
		k=${pt%%:*} d=${pt##*:}
		order=(before after)
		((run % 2 == 0)) && order=(after before)
		for w in "${order[@]}"; do
			log "paced K=$k deliveries/s=$d $w (round $run/$PACED_RUNS)"
			"$after" bench latency --target "tcp://127.0.0.1:${port[$w]}" --server-pid "${pid[$w]}" \
				-k "$k" --rate "$((d / k))" --duration "$PACED_DURATION" --timeout 60s --no-progress --json \
				>"$OUT/paced-$w-k$k-d$d-run$run.json" || log "paced K=$k $w failed"
		done
	done
done
for run in $(seq 1 "$RUNS"); do
	for k in $KS; do
		order=(before after)
		((run % 2 == 0)) && order=(after before)
		for w in "${order[@]}"; do
			log "fanout K=$k $w (round $run/$RUNS)"
			"$after" bench fanout --target "tcp://127.0.0.1:${port[$w]}" --server-pid "${pid[$w]}" \
				-k "$k" -p 1 --size 64 --duration "$DURATION" --timeout 90s --no-progress --json \
				>"$OUT/fanout-$w-k$k-run$run.json" || log "fanout K=$k $w failed"
		done
	done
done
for pair in $(seq 1 "$PAIRS"); do
	order=(before after)
	((pair % 2 == 0)) && order=(after before)
	for w in "${order[@]}"; do
		log "conns N=$CONNS $w (pair $pair/$PAIRS)"
		"$after" bench conns --target "tcp://127.0.0.1:${port[$w]}" --server-pid "${pid[$w]}" \
			-n "$CONNS" -b "$BROADCASTS" --idle "$IDLE" --timeout 150s --no-progress --json \
			>"$OUT/conns-$w-pair$pair.json" || log "conns $w failed"
	done
done
log "done; load $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$OUT" <<'PY'
import glob, json, statistics, sys, collections
out = sys.argv[1]
paced = collections.defaultdict(list)
for f in glob.glob(out + "/paced-*.json"):
    try:
        d = json.load(open(f))
    except Exception:
        continue
    w, k, dr = f.split("/")[-1].split("-")[1:4]
    paced[(int(k[1:]), int(dr[1:]))].append((w, d))
if paced:
    print("| K | deliveries/s | before: server µs per delivery (median; runs) | after | after ÷ before | p99 ms before / after (median) | lost before/after |")
    print("|---|---:|---:|---:|---:|---|---|")
    for (k, dr) in sorted(paced):
        us = {w: [d["server_cores"] * 1e6 / d["delivered_per_sec"] for x, d in paced[(k, dr)] if x == w and d.get("delivered_per_sec") and d.get("server_cores") is not None] for w in ("before", "after")}
        p99 = {w: [d["latency_p99_ms"] for x, d in paced[(k, dr)] if x == w] for w in ("before", "after")}
        lost = {w: sum(d["lost"] for x, d in paced[(k, dr)] if x == w) for w in ("before", "after")}
        if not us["before"] or not us["after"]:
            continue
        mb, ma = statistics.median(us["before"]), statistics.median(us["after"])
        print(f"| {k} | {dr} | {mb:.1f} ({', '.join(f'{x:.1f}' for x in us['before'])}) | {ma:.1f} ({', '.join(f'{x:.1f}' for x in us['after'])}) | {ma/mb:.2f} | {statistics.median(p99['before']):.2f} / {statistics.median(p99['after']):.2f} | {lost['before']}/{lost['after']} |")
    print()
fan = collections.defaultdict(list)
for f in glob.glob(out + "/fanout-*.json"):
    try:
        d = json.load(open(f))
    except Exception:
        continue
    w, k = f.split("/")[-1].split("-")[1:3]
    fan[(w, int(k[1:]))].append(d)
print("| K | before: deliveries per server CPU-s (median) | after | after ÷ before | lost before/after |")
print("|---|---:|---:|---:|---|")
for k in sorted({k for _, k in fan}):
    b = [d["deliveries_per_server_cpu_second"] for d in fan[("before", k)]]
    a = [d["deliveries_per_server_cpu_second"] for d in fan[("after", k)]]
    if not a or not b:
        continue
    lb = sum(d["lost"] for d in fan[("before", k)]); la = sum(d["lost"] for d in fan[("after", k)])
    mb, ma = statistics.median(b), statistics.median(a)
    print(f"| {k} | {mb/1e6:.2f} M ({', '.join(f'{x/1e6:.2f}' for x in b)}) | {ma/1e6:.2f} M ({', '.join(f'{x/1e6:.2f}' for x in a)}) | {ma/mb:.2f} | {lb}/{la} |")
conns = collections.defaultdict(list)
for f in glob.glob(out + "/conns-*.json"):
    try:
        d = json.load(open(f))
    except Exception:
        continue
    conns[f.split("/")[-1].split("-")[1]].append(d)
print()
print("| build | broadcast last receiver p50 / p99 (ms, all broadcasts pooled) | bytes per conn (+settle) | lost |")
print("|---|---|---:|---:|")
for w in ("before", "after"):
    xs = sorted(x for d in conns[w] for x in d.get("broadcast_last_ms", []))
    if not xs:
        continue
    p = lambda q: xs[min(len(xs) - 1, int(q * len(xs)))]
    bpc = statistics.median(d["bytes_per_conn"] for d in conns[w])
    print(f"| {w} | {p(0.5):.0f} / {p(0.99):.0f} ({len(xs)} broadcasts) | {bpc:.0f} | {sum(d['lost'] for d in conns[w])} |")
PY
