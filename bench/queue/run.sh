#!/usr/bin/env bash
# The queue benchmark, in one command (as root):
#
#   bash bench/queue/run.sh [-profiles 200] [-files 20] [-workers 1,4] [-concurrency 4] [-create-interval 20ms]
#
# Starts a redis-server (Debian's; installed when missing) on a free 127.0.0.1 port
# with no persistence, then runs bench/queue: a 200-profile domain with small homes
# migrated through the queue with 1 and with 4 in-process workers. Prints the job's
# wall time, the share of it outside copying and the speed-up, and writes JSON to
# bench/out/queue.json. Not a test: timings depend on the machine's load (see uptime).
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ "$(id -u)" -ne 0 ]; then
  echo "bench/queue/run.sh: run as root (homes are re-owned to the new UIDs)" >&2
  exit 1
fi
if ! command -v redis-server >/dev/null; then
  echo "== installing redis-server"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 16379)
dir=$(mktemp -d)
redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save "" --appendonly no --daemonize no --loglevel warning &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
mkdir -p bench/out
echo "== load before: $(uptime)"
go run ./bench/queue -redis "redis://127.0.0.1:$port/0" -out bench/out/queue.json "$@"
echo "== load after: $(uptime)"
