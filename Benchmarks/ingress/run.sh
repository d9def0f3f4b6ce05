#!/usr/bin/env bash
# End-to-end ingress benchmark (see docs/benchmarks.md, "Ingress").
#
#   Benchmarks/ingress/run.sh [harness options]
#     --readings N (200000)  --devices D (1000)  --publishers P (4)  --rounds R (1)
#     --rate R (5000) --rate-seconds S (20)    --timeout S (300 per contender run)
#     --contenders A,B,C      --keep (keep the work directory with the logs)
#     --ingress-protocol 5|3.1.1 (A's MQTT version; B and C use 3.1.1)
#     --perf (perf record A) --perf-broker (perf record mosquitto during each drain; both keep the work directory)
#
# Builds `fluxgate` in release (scratch path .build-bench; FLUXGATE_BIN=<path> skips the build),
# compiles the C publisher, creates Benchmarks/.venv with paho-mqtt and confluent-kafka if missing,
# then runs harness.py: one mosquitto and one dev Kafka cluster on loopback for all contenders.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

if [[ -z "${FLUXGATE_BIN:-}" ]]; then
    swift build -c release --product fluxgate --scratch-path .build-bench >&2
    FLUXGATE_BIN="$root/.build-bench/release/fluxgate"
fi

venv="$root/Benchmarks/.venv"
if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import paho.mqtt, confluent_kafka' 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q paho-mqtt confluent-kafka >&2
fi

bin="$(mktemp -d /tmp/fluxgate-ingress-bench-bin.XXXXXX)"
trap 'rm -rf "$bin"' EXIT
gcc -O2 -o "$bin/publish" "$here/publish.c" -lmosquitto

# Bounded: the harness stops everything it started; timeout is the last resort.
timeout --signal=INT 1800 "$venv/bin/python" "$here/harness.py" \
    --fluxgate "$FLUXGATE_BIN" --publisher "$bin/publish" --python "$venv/bin/python" "$@"
