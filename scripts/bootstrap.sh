#!/usr/bin/env bash
# Installs everything Fluxgate's demo and tests need on a fresh Debian 12 machine. Idempotent:
# a second run only checks. Run as root (or with sudo available).
#   - Debian packages: librdkafka, libmosquitto, zlib, mosquitto, kcat, chromium, nodejs
#   - a git-ignored Python venv (.venv) with python-socketio for the interop tests
#   - the official Socket.IO browser client (vendor/socket.io/socket.io.min.js), taken from the
#     PyPI wheel that ships it and checked against its published sha256
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'bootstrap: %s\n' "$*" >&2; }

APT_PACKAGES=(
    pkg-config librdkafka-dev libmosquitto-dev zlib1g-dev
    mosquitto mosquitto-clients kcat
    chromium fonts-liberation
    python3-venv unzip nodejs
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
    log "installing Debian packages: ${missing[*]}"
    SUDO=""
    [[ $(id -u) -eq 0 ]] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

command -v swift >/dev/null || { log "Swift 6.1 or later is required on PATH (https://swift.org/install)"; exit 1; }

# Python venv for the Socket.IO interop tests (python-socketio as a second official client).
REQUIREMENTS=scripts/requirements-test.txt
if [[ ! -x .venv/bin/python ]] || ! cmp -s "$REQUIREMENTS" .venv/.requirements 2>/dev/null; then
    log "creating .venv from $REQUIREMENTS"
    python3 -m venv .venv
    .venv/bin/pip install -q --disable-pip-version-check -r "$REQUIREMENTS"
    cp "$REQUIREMENTS" .venv/.requirements
fi

# The official Socket.IO browser client v4.8.1 (MIT), shipped inside the nicegui wheel.
SIO_JS=vendor/socket.io/socket.io.min.js
SIO_SHA256=b0e735814f8dcfecd6cdb8a7ce95a297a7e1e5f2727a29e6f5901801d52fa0c5
if ! echo "$SIO_SHA256  $SIO_JS" | sha256sum -c --status 2>/dev/null; then
    log "fetching socket.io.min.js v4.8.1 from the nicegui 3.18.0 wheel"
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: -d "$tmp" nicegui==3.18.0
    mkdir -p "$(dirname "$SIO_JS")"
    unzip -p "$tmp"/nicegui-3.18.0-*.whl nicegui/static/socket.io.min.js > "$SIO_JS"
    echo "$SIO_SHA256  $SIO_JS" | sha256sum -c --status || { log "socket.io.min.js checksum mismatch"; rm -f "$SIO_JS"; exit 1; }
fi
log "ready"
