#!/usr/bin/env bash
# Hub end-to-end latency benchmark (see docs/benchmarks.md, "Hub"): MQTT publish -> mosquitto ->
# `fluxgate ingress` -> dev Kafka -> `fluxgate hub` -> Socket.IO receipt, on loopback.
#
#   Benchmarks/hub/run.sh [harness options]
#     --rate R (5000/s)  --devices D (1000)  --clients C (1000)  --fleet-every N (500: C/N clients on "*")
#     --processes P (2 Node load processes)  --warmup S (10)  --seconds S (30)  --partitions N (1)
#     --fetch-wait-ms MS (10; 500 measures the dev cluster's default empty-fetch wait)  --keep
#
# Builds `fluxgate` in release (scratch path .build-rel; FLUXGATE_BIN=<path> skips the build),
# compiles the paced publisher (publish.c) into a temporary
# folder, then runs harness.py. Needs mosquitto, libmosquitto-dev, librdkafka-dev, node and node-ws
# (Debian). Every process is stopped by its pid; bounded by `timeout`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

source "$root/Benchmarks/fluxgate-bin.sh"

bin="$(mktemp -d /tmp/fluxgate-hub-bench-bin.XXXXXX)"
trap 'rm -rf "$bin"' EXIT
gcc -O2 -o "$bin/publish" "$here/publish.c" -lmosquitto

echo "load $(cut -d' ' -f1-3 /proc/loadavg)"
timeout --signal=INT 900 python3 "$here/harness.py" --fluxgate "$FLUXGATE_BIN" --publisher "$bin/publish" "$@"
