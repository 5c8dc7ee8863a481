#!/usr/bin/env bash
# broadcast-series.sh — the 19,000-subscriber broadcast, switchboard against
# redis-server, in alternating pairs on fresh servers, with every broadcast's
# time pooled per server. Single runs swing by ±20 % on a shared 2-core
# machine; pairs taken one after the other see the same conditions.
#
# Environment: PAIRS (6), CONNS (19000), BROADCASTS (20), IDLE (3s),
# PORT_BASE (18700), OUT (bench-results/series). Needs redis-server on PATH.
# Every bench run carries its own --timeout; the whole run is bounded by
# PAIRS × 2 × (that timeout).
set -euo pipefail

PAIRS=${PAIRS:-6}
CONNS=${CONNS:-19000}
BROADCASTS=${BROADCASTS:-20}
IDLE=${IDLE:-3s}
PORT_BASE=${PORT_BASE:-18700}
root=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$root/bench-results/series}
tmp=$(mktemp -d /tmp/broadcast-series.XXXXXX)
pid=""
cleanup() {
	if [[ -n $pid ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT
log() { printf '%s broadcast-series: %s\n' "$(date +%T)" "$*" >&2; }

command -v redis-server >/dev/null || { log "redis-server not found (apt-get install redis-server)"; exit 1; }
ulimit -n "$(ulimit -Hn)"
(cd "$root" && go build -o "$tmp/switchboard" ./cmd/switchboard)
mkdir -p "$OUT"
rm -f "$OUT"/*.json

run() { # run SERVER PORT N
	local s=$1 port=$2 n=$3 target
	if [[ $s == redis ]]; then
		redis-server --port "$port" --bind 127.0.0.1 --protected-mode no --save '' --appendonly no \
			--maxclients 19900 --loglevel warning >/dev/null 2>&1 &
		target=redis://127.0.0.1:$port
	else
		"$tmp/switchboard" serve --tcp-addr "127.0.0.1:$port" --http-addr '' --log-level warn >/dev/null 2>&1 &
		target=127.0.0.1:$port
	fi
	pid=$!
	sleep 0.5
	log "pair $n: $s"
	"$tmp/switchboard" bench conns --target "$target" --server-pid "$pid" -n "$CONNS" -b "$BROADCASTS" \
		--idle "$IDLE" --timeout 150s --no-progress --json >"$OUT/$s-$n.json"
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	pid=""
}

for n in $(seq 1 "$PAIRS"); do
	run switchboard $((PORT_BASE + 2 * n)) "$n"
	run redis $((PORT_BASE + 2 * n + 1)) "$n"
done

python3 - "$OUT" "$PAIRS" <<'PY'
import json, math, sys
out, pairs = sys.argv[1], int(sys.argv[2])
def q(l, p):
    l = sorted(l)
    return l[max(0, math.ceil(p * len(l)) - 1)]
pooled, wins50, wins99 = {"switchboard": [], "redis": []}, 0, 0
for n in range(1, pairs + 1):
    r = {s: json.load(open(f"{out}/{s}-{n}.json")) for s in pooled}
    for s in pooled:
        pooled[s] += r[s]["broadcast_last_ms"]
    wins50 += r["switchboard"]["broadcast_last_p50_ms"] < r["redis"]["broadcast_last_p50_ms"]
    wins99 += r["switchboard"]["broadcast_last_p99_ms"] < r["redis"]["broadcast_last_p99_ms"]
print("| server | broadcasts | p50 ms | p90 ms | p99 ms | max ms | mean ms |")
print("|---|---:|---:|---:|---:|---:|---:|")
for s, l in pooled.items():
    print(f"| {s} | {len(l)} | {q(l, .5):.0f} | {q(l, .9):.0f} | {q(l, .99):.0f} | {max(l):.0f} | {sum(l) / len(l):.1f} |")
print(f"\nswitchboard ahead at p50 in {wins50} of {pairs} pairs, at p99 in {wins99} of {pairs}")
PY
