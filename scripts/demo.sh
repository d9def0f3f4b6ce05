#!/usr/bin/env bash
# Runs `fluxgate demo` from a fresh clone: installs what it needs, builds, starts everything in
# one process (own mosquitto, dev Kafka cluster, all stages, a simulated fleet). Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/bootstrap.sh
swift build -c release --product fluxgate
exec .build/release/fluxgate demo "$@"
