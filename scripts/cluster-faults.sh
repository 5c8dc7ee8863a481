#!/usr/bin/env bash
# cluster-faults.sh — the cluster under faults, against a real nats-server.
# Starts nats-server and three switchboard nodes (n1 n2 n3) as processes on
# loopback, each node reaching NATS through its own fault proxy, with
# clients alice (n1), bob (n2) and carol (n3) in room lobby and subscribed
# to chat.>, and a publisher on n1 sending a message every 10 ms. Then, in
# turn:
#   1. NATS stalled: kill -STOP nats-server for --stall seconds, kill -CONT;
#   2. NATS down: kill -9 nats-server, start it again 5 s later;
#   3. node killed: kill -9 n3, start it again;
#   4. node stopped cleanly: SIGTERM n2, start it again;
#   5. partition: n1's proxy stalls for --stall seconds, while the nick
#      "dup" is taken on n1 and on n2; then heal.
# It prints what each client saw, then a table: what local and remote
# clients saw, what was lost and what the nodes counted. Everything it
# starts is stopped on exit, by PID. See docs/cluster.md.
#
# Usage: scripts/cluster-faults.sh [--stall SECONDS] [--keep]
#   --stall S   how long NATS stays stopped and the partition lasts (default 10)
#   --keep      keep the work directory (logs of every process)
# nats-server: the one on PATH (e.g. apt-get install -y nats-server), else
# built from the nats-server module pinned in go.mod.
set -euo pipefail

STALL=10 KEEP=0
while [ $# -gt 0 ]; do
	case "$1" in
	--stall) STALL=$2; shift 2 ;;
	--keep) KEEP=1; shift ;;
	*) echo "unknown argument $1" >&2; exit 2 ;;
	esac
done
DEADLINE=300 # seconds; the whole run is bounded by this

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/sb-cluster-faults.XXXXXX)
DRIVER_PID=""
cleanup() {
	if [ -n "$DRIVER_PID" ]; then kill "$DRIVER_PID" 2>/dev/null || true; fi
	wait 2>/dev/null || true
	if [ "$KEEP" = 1 ]; then echo "logs kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cd "$ROOT"
echo "building switchboard and the fault driver…"
go build -o "$WORK/switchboard" ./cmd/switchboard
go build -o "$WORK/clusterfaults" ./scripts/clusterfaults
if NATS=$(command -v nats-server); then
	echo "nats-server: $NATS ($("$NATS" --version 2>&1 | head -1))"
else
	NATS="$WORK/nats-server"
	go build -o "$NATS" github.com/nats-io/nats-server/v2
	echo "nats-server: built from go.mod ($("$NATS" --version 2>&1 | head -1))"
fi

# The driver stops every process it started (by PID) before it exits; the
# deadline bounds it.
timeout --signal=TERM "$DEADLINE" "$WORK/clusterfaults" -switchboard "$WORK/switchboard" \
	-nats-server "$NATS" -work "$WORK" -stall "${STALL}s" &
DRIVER_PID=$!
wait "$DRIVER_PID"
DRIVER_PID=""
