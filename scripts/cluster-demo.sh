#!/usr/bin/env bash
# cluster-demo.sh — a 5-node switchboard cluster over NATS on loopback, with
# ~90,000 concurrent clients spread over the nodes. Measures:
#   1. how long one broadcast takes to reach every client;
#   2. sustained fan-out: deliveries per second across the nodes;
#   3. CPU spent in nats-server versus in the switchboard nodes.
# Everything it starts is killed on exit (by PID). See docs/cluster.md.
#
# Usage: scripts/cluster-demo.sh [--clients N] [--nodes K] [--rate R]
#            [--duration SECONDS] [--embed] [--keep]
#   --clients N    total clients (default 90000; at most 18000 per load process)
#   --nodes K      switchboard nodes (default 5)
#   --rate R       sustained phase: messages/s published in total (default 20)
#   --duration S   sustained phase length (default 10)
#   --embed        no separate nats-server: node 1 runs --nats-embed (NATS CPU
#                  is then inside node 1 and not reported apart)
#   --keep         keep the work directory (logs) instead of deleting it
#   --git-ref REF  build from a git commit (git archive) instead of the
#                  working tree, e.g. HEAD while others edit the tree
set -euo pipefail

CLIENTS=90000 NODES=5 RATE=20 DURATION=10 EMBED=0 KEEP=0 REF=""
NATS_VERSION=v2.15.3 # pinned; same as go.mod
while [ $# -gt 0 ]; do
	case "$1" in
	--clients) CLIENTS=$2; shift 2 ;;
	--nodes) NODES=$2; shift 2 ;;
	--rate) RATE=$2; shift 2 ;;
	--duration) DURATION=$2; shift 2 ;;
	--embed) EMBED=1; shift ;;
	--keep) KEEP=1; shift ;;
	--git-ref) REF=$2; shift 2 ;;
	*) echo "unknown argument $1" >&2; exit 2 ;;
	esac
done
PER_PROC=18000
DEADLINE=600 # seconds; the whole demo is bounded by this
NATS_PORT=${NATS_PORT:-24222}
BASE_PORT=${BASE_PORT:-24100}
HTTP_PORT=${HTTP_PORT:-24180}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/sb-cluster-demo.XXXXXX)
PIDS=()
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	sleep 1
	for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [ "$KEEP" = 1 ]; then echo "logs kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
START=$SECONDS
log() { printf '[%4ds] %s\n' $((SECONDS - START)) "$*"; }
check_deadline() {
	if [ $((SECONDS - START)) -gt $DEADLINE ]; then echo "demo deadline ($DEADLINE s) exceeded" >&2; exit 1; fi
}
wait_port() { # host port
	local i
	for i in $(seq 1 200); do
		if (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	echo "nothing listening on $1:$2" >&2
	exit 1
}
port_free() { # port → fails if something listens there already
	if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
		echo "port $1 is in use; set NATS_PORT / BASE_PORT / HTTP_PORT" >&2
		exit 1
	fi
}
cpu_ticks() { # pid → utime+stime in clock ticks
	awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0
}
rss_mib() { # pid → resident MiB
	awk '/VmRSS/ {printf "%d", $2/1024}' "/proc/$1/status" 2>/dev/null || echo 0
}
ulimit -n "$(ulimit -Hn)"
port_free "$NATS_PORT"
port_free "$HTTP_PORT"
for k in $(seq 1 "$NODES"); do port_free $((BASE_PORT + k)); done
SRC=$ROOT
if [ -n "$REF" ]; then
	SRC=$WORK/src
	mkdir -p "$SRC"
	(cd "$ROOT" && git archive "$REF") | tar -x -C "$SRC"
fi
log "building ${REF:+$REF }into $WORK"
(cd "$SRC" && go build -o "$WORK/switchboard" ./cmd/switchboard && go build -o "$WORK/clusterload" ./scripts/clusterload)

NATS_PID=""
if [ "$EMBED" = 0 ]; then
	log "installing nats-server $NATS_VERSION from the Go module"
	(cd "$WORK" && GOBIN="$WORK/bin" GOFLAGS= go install "github.com/nats-io/nats-server/v2@$NATS_VERSION")
	"$WORK/bin/nats-server" -a 127.0.0.1 -p "$NATS_PORT" >"$WORK/nats.log" 2>&1 &
	NATS_PID=$!
	PIDS+=("$NATS_PID")
	wait_port 127.0.0.1 "$NATS_PORT"
	kill -0 "$NATS_PID" || { cat "$WORK/nats.log"; exit 1; }
fi

NODE_PIDS=()
ADDRS=""
for k in $(seq 1 "$NODES"); do
	port=$((BASE_PORT + k))
	args=(serve --tcp-addr "127.0.0.1:$port" --http-addr "" --node-name "node$k" --cluster-name demo
		--cluster "nats://127.0.0.1:$NATS_PORT" --log-level warn --max-pending $((4 << 20)))
	if [ "$k" = 1 ]; then
		args+=(--http-addr "127.0.0.1:$HTTP_PORT")
		if [ "$EMBED" = 1 ]; then args+=(--nats-embed "127.0.0.1:$NATS_PORT"); fi
	fi
	"$WORK/switchboard" "${args[@]}" >"$WORK/node$k.log" 2>&1 &
	NODE_PIDS+=($!)
	PIDS+=($!)
	wait_port 127.0.0.1 "$port"
	ADDRS="$ADDRS${ADDRS:+,}127.0.0.1:$port"
done
log "$NODES nodes up: $ADDRS (NATS 127.0.0.1:$NATS_PORT${NATS_PID:+, pid $NATS_PID})"

PROCS=$(((CLIENTS + PER_PROC - 1) / PER_PROC))
LOAD_PIDS=()
left=$CLIENTS
for i in $(seq 0 $((PROCS - 1))); do
	n=$((left < PER_PROC ? left : PER_PROC))
	left=$((left - n))
	"$WORK/clusterload" clients --addrs "$ADDRS" -n "$n" --src "127.0.0.$((2 + i % 8))" --deadline $((DEADLINE - 60))s >"$WORK/load$i.out" 2>"$WORK/load$i.err" &
	LOAD_PIDS+=($!)
	PIDS+=($!)
done
log "connecting $CLIENTS clients from $PROCS load processes ($PER_PROC max each)"
count_event() { cat "$WORK"/load*.out 2>/dev/null | grep -c "\"event\":\"$1\"" || true; }
while [ "$(count_event ready)" -lt "$PROCS" ]; do
	check_deadline
	for pid in "${LOAD_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null || { echo "a load process died:"; cat "$WORK"/load*.err; exit 1; }; done
	sleep 1
done
CONNECTED=$(cat "$WORK"/load*.out | jq -s '[.[] | select(.event=="ready") | .clients] | add')
CONNECT_S=$(cat "$WORK"/load*.out | jq -s '[.[] | select(.event=="ready") | .connect_s] | max | . * 10 | round / 10')
log "$CONNECTED clients connected and subscribed in ${CONNECT_S}s"
for k in $(seq 1 "$NODES"); do
	log "  node$k: $(ls /proc/${NODE_PIDS[$((k - 1))]}/fd | wc -l) fds, $(rss_mib "${NODE_PIDS[$((k - 1))]}") MiB RSS"
done
[ -n "$NATS_PID" ] && log "  nats-server: $(rss_mib "$NATS_PID") MiB RSS"

log "one broadcast from node1"
"$WORK/clusterload" pub --addrs "$ADDRS" --broadcast >/dev/null
while [ "$(count_event broadcast)" -lt "$PROCS" ]; do check_deadline; sleep 0.2; done
BCAST=$(cat "$WORK"/load*.out | jq -s -c '[.[] | select(.event=="broadcast")] | {received: (map(.received) | add), closed_by_server: (map(.closed_by_server) | add), max_ms: (map(.max_ms) | max), p50_ms: (map(.p50_ms) | max), p99_ms: (map(.p99_ms) | max)}')
log "broadcast: $BCAST"

TICKS=$(getconf CLK_TCK)
snapshot() { # prints "nats nodes loads" CPU ticks
	local n=0 s=0 l=0 pid
	[ -n "$NATS_PID" ] && n=$(cpu_ticks "$NATS_PID")
	for pid in "${NODE_PIDS[@]}"; do s=$((s + $(cpu_ticks "$pid"))); done
	for pid in "${LOAD_PIDS[@]}"; do l=$((l + $(cpu_ticks "$pid"))); done
	echo "$n $s $l"
}
log "sustained fan-out: $RATE msg/s for ${DURATION}s, published round-robin on all nodes"
read -r N0 S0 L0 < <(snapshot)
T0=$(date +%s.%N)
"$WORK/clusterload" pub --addrs "$ADDRS" --rate "$RATE" --duration "${DURATION}s" >"$WORK/pub.out"
while [ "$(count_event rate)" -lt "$PROCS" ]; do check_deadline; sleep 0.2; done
T1=$(date +%s.%N)
read -r N1 S1 L1 < <(snapshot)
PUB=$(cat "$WORK/pub.out")
RATES=$(cat "$WORK"/load*.out | jq -s -c '[.[] | select(.event=="rate")] | {received: (map(.received) | add), first: (map(.first_ns) | min), last: (map(.last_ns) | max), timed_out: (map(.timed_out) | any)}')
SENT=$(echo "$PUB" | jq .messages)
python3 - "$SENT" "$CONNECTED" "$RATES" "$T0" "$T1" "$TICKS" "$N0" "$N1" "$S0" "$S1" "$L0" "$L1" "$EMBED" <<'EOF'
import json, sys
sent, clients, rates = int(sys.argv[1]), int(sys.argv[2]), json.loads(sys.argv[3])
t0, t1, ticks = float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
n0, n1, s0, s1, l0, l1 = map(int, sys.argv[7:13])
embed = sys.argv[13] == "1"
want = sent * clients
window = (rates["last"] - rates["first"]) / 1e9
wall = t1 - t0
print(f"  published {sent} messages; {rates['received']} of {want} deliveries "
      f"({100.0 * rates['received'] / max(want, 1):.2f}%) in {window:.1f}s "
      f"= {rates['received'] / max(window, 1e-9):,.0f} deliveries/s across the nodes")
cpu = lambda a, b: (b - a) / ticks
nats, sb, load = cpu(n0, n1), cpu(s0, s1), cpu(l0, l1)
who = "nats-server" if not embed else "nats (embedded in node1, counted with switchboard)"
print(f"  CPU over {wall:.1f}s wall: {who} {nats:.1f}s, switchboard nodes {sb:.1f}s, load clients {load:.1f}s")
if sb > 0:
    print(f"  NATS/switchboard CPU ratio {nats / sb:.3f}; switchboard CPU per million deliveries {sb / max(rates['received'], 1) * 1e6:.2f}s")
EOF
[ -n "$HTTP_PORT" ] && curl -s "http://127.0.0.1:$HTTP_PORT/api/stats" 2>/dev/null | jq -c '.cluster // empty | {node, connected, peers: [.peers[].name], forwarded, received, slow_consumer}' 2>/dev/null | sed 's/^/  node1 cluster status: /' || true
log "done; cleaning up"
