#!/usr/bin/env bash
# Windowing benchmark (see docs/benchmarks.md, "Windowing"): `fluxgate windowing` against a
# quixstreams app computing the same windows and statistics, both pinned to one core, over the same
# 1,000,000 preloaded readings in the same run.
#
#   Benchmarks/windowing/run.sh [harness options]
#     --readings N (1000000)  --devices D (10000)  --partitions P (64)  --rounds R (2)
#     --compression lz4       --core 0 (contenders)  --kafka-core 1 (dev cluster, harness)
#     --contenders fluxgate,quixstreams  --timeout S (900 per contender run)  --keep
#     --fetch-wait-ms MS (10; both consumers: fluxgate's --kafka-fetch-wait, quixstreams' consumer config)
#
# Builds `fluxgate` in release (scratch path .build-rel; FLUXGATE_BIN=<path> skips the build),
# creates Benchmarks/windowing/.venv from requirements.txt (quixstreams, pinned) if missing, then
# runs harness.py. Loopback only; every process is stopped by its pid; bounded by `timeout`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

source "$root/Benchmarks/fluxgate-bin.sh"

venv="$here/.venv"
if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import quixstreams' 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q -r "$here/requirements.txt" >&2
fi


echo "quixstreams $("$venv/bin/python" -c 'import quixstreams; print(quixstreams.__version__)'), load $(cut -d' ' -f1-3 /proc/loadavg)"
timeout --signal=INT 3600 "$venv/bin/python" "$here/harness.py" --fluxgate "$FLUXGATE_BIN" --python "$venv/bin/python" "$@"
