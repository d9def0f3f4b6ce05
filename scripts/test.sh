#!/usr/bin/env bash
# The whole Fluxgate test suite, from a fresh clone: installs what the tests need, builds, runs.
# Tests start their own services (mosquitto on free loopback ports, the dev Kafka cluster
# in-process) and stop them; nothing needs to be running beforehand.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/bootstrap.sh

echo "== dashboards (node unit tests)"
node --test dashboards/test/

echo "== build"
swift build --build-tests

echo "== tests"
swift test --skip-build

# The README's demo command itself (release build), checked in headless Chromium.
echo "== README demo command"
bash scripts/check-demo.sh

# libFuzzer on the SocketIO decoders (separate sanitizer build in .build-fuzz; ~10 min cold).
echo "== fuzz"
bash scripts/fuzz.sh "${FLUXGATE_FUZZ_SECONDS:-60}"
