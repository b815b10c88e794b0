#!/usr/bin/env bash
# Serving figures (not a test): `edgefarm-engine serve` on a model, driven by `edgefarm-engine
# load` at several concurrency levels; prints one line per level (p50/p95/p99, error rate,
# throughput) and one JSON line each. Also the cost of fault injection's added latency. Builds
# nothing; everything stays on 127.0.0.1.
#
#   bench/serve_load.sh BUILD_DIR [MODEL]
# Environment: REQUESTS (200), LEVELS ("1 2 4 8"), MAX_TOKENS (16), THREADS (server HTTP
# threads, 8), ENGINE_THREADS (1).
set -euo pipefail

build=${1:?usage: bench/serve_load.sh BUILD_DIR [MODEL]}
engine="$build/engine/edgefarm-engine"
[[ -x "$engine" ]] || { echo "no $engine (build the edgefarm-engine target first)" >&2; exit 1; }
src=$(cd "$(dirname "$0")/.." && pwd)
model=${2:-$src/tests/data/models/stories260K.gguf}
requests=${REQUESTS:-200}
levels=${LEVELS:-1 2 4 8}
max_tokens=${MAX_TOKENS:-16}
work=$(mktemp -d)
server_pid=""
cleanup() {
  [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# Starts the server with extra flags; sets $port once the ready file appears.
start_server() {
  rm -f "$work/port"
  "$engine" serve "$model" --port 0 --ready-file "$work/port" --threads "${THREADS:-8}" \
    --engine-threads "${ENGINE_THREADS:-1}" "$@" 2>"$work/serve.log" &
  server_pid=$!
  for _ in $(seq 600); do
    [[ -s "$work/port" ]] && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
    sleep 0.05
  done
  port=$(cat "$work/port")
}

stop_server() {
  kill "$server_pid" && wait "$server_pid" || true
  server_pid=""
}

echo "# $(date -u +%FT%TZ) $(uname -m), $(nproc) cores, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# model $(basename "$model"), $requests requests per level, max_tokens $max_tokens"
start_server
for c in $levels; do
  "$engine" load "http://127.0.0.1:$port" --requests "$requests" --concurrency "$c" \
    --max-tokens "$max_tokens"
  "$engine" load "http://127.0.0.1:$port" --requests "$requests" --concurrency "$c" \
    --max-tokens "$max_tokens" --json
done
stop_server
echo "# with --fault-latency-ms 20 --fault-error-rate 0.1 (concurrency 4)"
start_server --fault-latency-ms 20 --fault-error-rate 0.1 --fault-seed 1
"$engine" load "http://127.0.0.1:$port" --requests "$requests" --concurrency 4 \
  --max-tokens "$max_tokens"
stop_server
