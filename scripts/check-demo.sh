#!/usr/bin/env bash
# CI check of the README's demo command: runs `bash scripts/demo.sh` exactly as a new user
# would (bootstrap, release build, `fluxgate demo`), waits for the dashboard, loads the fleet and
# device pages in headless Chromium (live values, drawn chart, screenshots in
# .artifacts/screenshots/readme-demo/), then sends SIGTERM and requires a clean exit within 10 s.
set -euo pipefail
cd "$(dirname "$0")/.."

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
log="$(mktemp)"
bash scripts/demo.sh --http-port "$port" >"$log" 2>&1 &
demo=$!  # demo.sh ends in `exec fluxgate demo`, so this becomes the demo's pid
stop() { kill -TERM "$demo" 2>/dev/null || true; }
trap 'stop; echo "--- demo log (tail)"; tail -n 40 "$log"; rm -f "$log"' EXIT

# The release build comes first: allow it time, but stop as soon as the demo exits.
deadline=$((SECONDS + 2400))
until curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do
    if ! kill -0 "$demo" 2>/dev/null; then echo "the demo exited before it was ready" >&2; exit 1; fi
    if ((SECONDS > deadline)); then echo "the demo was not ready within 40 minutes" >&2; exit 1; fi
    sleep 1
done
grep -q "http://127.0.0.1:$port/" "$log" || { echo "the demo did not print its dashboard URL" >&2; exit 1; }

.venv/bin/python -u Tests/FluxgateCLITests/Commands/Browser/demo_dashboards.py \
    --url "http://127.0.0.1:$port/" --out .artifacts/screenshots/readme-demo --steps pages

kill -TERM "$demo"
for _ in $(seq 100); do kill -0 "$demo" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$demo" 2>/dev/null; then echo "the demo did not stop within 10 s of SIGTERM" >&2; exit 1; fi
wait "$demo" && status=0 || status=$?
[ "$status" -eq 0 ] || { echo "the demo exited with status $status after SIGTERM" >&2; exit 1; }
echo "README demo command: dashboard live in headless Chromium, clean stop after SIGTERM"
