#!/usr/bin/env bash
# Socket.IO benchmark: Fluxgate's SocketIO server (sio-bench-server, release build) against
# python-socketio's AsyncServer on aiohttp (pyserver.py), with the same load client (load.py) in
# the same run. Prints both result lines and the ratios.
#   bash Benchmarks/socketio/run.sh [load.py options, e.g. --idle 2000 --clients 200 --rounds 5 --per-round 200]
set -euo pipefail
cd "$(dirname "$0")"
root="$(cd ../.. && pwd)"
python="$root/.venv/bin/python"
[ -x "$python" ] || { echo "run bash scripts/bootstrap.sh first (needs $python)" >&2; exit 1; }

FLUXGATE_ONLY=SocketIO swift build -c release --scratch-path .build-sio-bench --product sio-bench-server >&2
server="$(FLUXGATE_ONLY=SocketIO swift build -c release --scratch-path .build-sio-bench --show-bin-path)/sio-bench-server"

free_port() { "$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pid=""
stop() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=""; fi; }
trap stop EXIT

measure() {  # name, command...
    local name="$1"; shift
    local port; port="$(free_port)"
    "$@" "$port" >&2 &
    pid=$!
    for _ in $(seq 100); do
        curl -fs "http://127.0.0.1:$port/socket.io/?EIO=4&transport=polling" >/dev/null 2>&1 && break
        sleep 0.1
    done
    local line; line="$("$python" load.py "http://127.0.0.1:$port" --pid "$pid" "${LOAD_ARGS[@]}")"
    stop
    echo "$name $line"
}

LOAD_ARGS=("$@")
fluxgate="$(measure fluxgate "$server")"
python_socketio="$(measure python-socketio "$python" pyserver.py)"
echo "$fluxgate"
echo "$python_socketio"
"$python" - "$fluxgate" "$python_socketio" <<'PY'
import json, sys
f = json.loads(sys.argv[1].split(" ", 1)[1]); p = json.loads(sys.argv[2].split(" ", 1)[1])
print(f"deliveries/s        fluxgate {f['deliveries_per_s']:>10}  python-socketio {p['deliveries_per_s']:>10}  ratio {f['deliveries_per_s'] / p['deliveries_per_s']:.2f}x (goal >= 5x)")
print(f"bytes/idle conn     fluxgate {f['bytes_per_idle_connection']:>10}  python-socketio {p['bytes_per_idle_connection']:>10}  ratio {f['bytes_per_idle_connection'] / p['bytes_per_idle_connection']:.2f}x (goal <= 0.5x)")
PY
