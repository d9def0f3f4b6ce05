#!/usr/bin/env python3
"""Fluxgate fake hub: a development server for the dashboards.

It speaks the hub's contract (docs/hub-api.md) with a small simulated fleet, so the dashboards
can be developed and looked at without Kafka, MQTT or the Swift hub. It is a development tool,
not a test double for the real hub.

    .venv/bin/python dashboards/dev/fake_hub.py --port 8090 --seconds 600
    # then open http://127.0.0.1:8090/

It listens on 127.0.0.1 only, prints its URL as the first line on stdout and stops by itself
after --seconds. Extra endpoints for poking the dashboards (fake hub only):
    POST /dev/history-lost   emit `history-lost` {"devices":["*"]} to every client
    POST /dev/disconnect     drop every connection like a network failure (clients reconnect)
    POST /dev/disconnect?server=1   disconnect every socket from the server side instead
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import math
import pathlib
import random
import re
import sys
import time

import socketio
from aiohttp import web

DASHBOARDS = pathlib.Path(__file__).resolve().parents[1]
REPO = DASHBOARDS.parent
SIO_JS = REPO / "vendor" / "socket.io" / "socket.io.min.js"

DEVICE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
HISTORY_MS = 10 * 60 * 1000
KEEP_MS = 12 * 60 * 1000
# name, size, hop (the Telemetry defaults: 10s, 1m tumbling and 5m/1m hopping)
WINDOWS = (("10s", 10_000, 10_000), ("1m", 60_000, 60_000), ("5m/1m", 300_000, 60_000))
OFFLINE_AFTER_MS = 8_000
FLEET_EVENTS = {"reading", "stats", "alert", "device-status", "note"}
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}


def now_ms() -> int:
    return int(time.time() * 1000)


def error(code: str, message: str) -> dict:
    return {"code": code, "message": message}


# --------------------------------------------------------------------------------------------
# Simulated signals: smooth functions of time plus noise, with excursions that trip the rules.
# --------------------------------------------------------------------------------------------

def wave(t: float, period_s: float, phase: float = 0.0) -> float:
    return math.sin(2 * math.pi * (t / 1000.0 / period_s) + phase)


def bursts(t: float, every_s: float, length_s: float, phase_s: float = 0.0) -> float:
    """1.0 inside a burst of length_s every every_s seconds, smoothed at the edges."""
    x = ((t / 1000.0 + phase_s) % every_s)
    if x > length_s:
        return 0.0
    return math.sin(math.pi * x / length_s) ** 0.5


class Profile:
    def __init__(self, period_ms: int, metrics: dict, silent: tuple | None = None):
        self.period_ms = period_ms
        self.metrics = metrics  # name -> f(t_ms, rng, phase) -> float
        self.silent = silent  # (every_s, length_s): device stops publishing for a while


def profiles() -> dict[str, Profile]:
    n = lambda rng, s: rng.gauss(0, s)  # noqa: E731
    return {
        "greenhouse": Profile(1000, {
            "temperature": lambda t, r, p: 25.5 + 5.2 * wave(t, 240, p) + n(r, 0.25),
            "humidity": lambda t, r, p: 62 - 9 * wave(t, 240, p) + 2 * wave(t, 37) + n(r, 0.6),
            "co2": lambda t, r, p: 650 + 250 * wave(t, 410, p * 2) + n(r, 12),
        }),
        "freezer": Profile(1000, {
            "temperature": lambda t, r, p: -19.5 + 8.5 * bursts(t, 150, 35, p * 40) + n(r, 0.15),
        }),
        "pump": Profile(200, {
            "pressure": lambda t, r, p: 3.2 + 0.15 * wave(t, 20, p) + n(r, 0.03),
            "flow": lambda t, r, p: 12.0 + 1.5 * wave(t, 60, p) + n(r, 0.2),
            "vibration": lambda t, r, p: abs(0.35 + 1.6 * bursts(t, 100, 18, p * 30) + n(r, 0.08)),
        }),
        "weather": Profile(2000, {
            "temperature": lambda t, r, p: 14 + 3 * wave(t, 600, p) + n(r, 0.1),
            "wind": lambda t, r, p: max(0.0, 5 + 3 * wave(t, 45, p) + n(r, 1.2)),
        }),
        "gateway": Profile(1000, {
            "rssi": lambda t, r, p: -67 + 4 * wave(t, 30, p) + n(r, 1.5),
            "queue": lambda t, r, p: max(0.0, 20 + 15 * wave(t, 50, p) + n(r, 3)),
        }, silent=(90, 25)),
        "sensor": Profile(1000, {
            "temperature": lambda t, r, p: 20 + 2 * wave(t, 300, p) + n(r, 0.2),
            "battery": lambda t, r, p: 3.7 - 0.2 * (p / 6.3) + n(r, 0.005),
        }),
    }


RULES = [
    # name, device prefix, metric, above, clear, severity
    ("overheating", "greenhouse-", "temperature", 30.0, 28.0, "critical"),
    ("co2-high", "greenhouse-", "co2", 860.0, 820.0, "info"),
    ("freezer-warm", "freezer-", "temperature", -15.0, -17.0, "warning"),
    ("vibration", "pump-", "vibration", 1.5, 1.0, "warning"),
]


# --------------------------------------------------------------------------------------------
# Fleet state
# --------------------------------------------------------------------------------------------

class Window:
    __slots__ = ("start", "end", "values", "emitted_at")

    def __init__(self, start: int, length: int):
        self.start, self.end, self.values, self.emitted_at = start, start + length, [], 0

    def record(self, device: str, metric: str, name: str, final: bool) -> dict:
        v = self.values
        count = len(v)
        mean = sum(v) / count
        var = sum((x - mean) ** 2 for x in v) / count
        s = sorted(v)
        q = lambda f: s[min(count - 1, int(f * count))]  # noqa: E731
        r = lambda x: round(x, 4)  # noqa: E731
        return {"device": device, "metric": metric, "window": name, "start": self.start,
                "end": self.end, "count": count, "min": r(s[0]), "max": r(s[-1]),
                "mean": r(mean), "stddev": r(math.sqrt(var)), "last": r(v[-1]),
                "p50": r(q(0.5)), "p95": r(q(0.95)), "p99": r(q(0.99)), "final": final}


class Device:
    def __init__(self, device_id: str, profile: Profile, rng: random.Random, rate: float):
        self.id = device_id
        self.profile = profile
        self.rng = rng
        self.phase = rng.uniform(0, 2 * math.pi)
        self.period_ms = max(20, int(profile.period_ms / rate))
        self.seq = 0
        self.next_at = 0
        self.readings: collections.deque = collections.deque()
        self.stats: dict = {}  # (metric, window, start) -> record (latest version)
        self.open: dict = {}  # (metric, window name, start) -> Window
        self.latest: dict = {}
        self.last_seen: int | None = None
        self.last_seq: int | None = None
        self.status: dict | None = None
        self.notes: collections.deque = collections.deque(maxlen=100)

    def silent_at(self, t: int) -> bool:
        if not self.profile.silent:
            return False
        every, length = self.profile.silent
        return (t / 1000.0 + self.phase * 10) % every > every - length

    def sample(self, t: int) -> dict:
        return {name: round(f(t, self.rng, self.phase), 3) for name, f in self.profile.metrics.items()}


class Fleet:
    def __init__(self, sio: socketio.AsyncServer, args):
        self.sio = sio
        self.rng = random.Random(args.seed)
        self.devices: dict[str, Device] = {}
        self.alerts: dict[str, dict] = {}  # id -> latest transition
        self.open_alert: dict[tuple, str] = {}  # (rule, device) -> id
        self.note_counter = 0
        self.emitted = collections.Counter()
        self.live = False  # False while back-filling history (no emits)
        self.outbox: list = []
        ps = profiles()
        layout = [("greenhouse", 4), ("freezer", 2), ("pump", 3), ("weather", 1), ("gateway", 1)]
        for kind, count in layout:
            for i in range(1, count + 1):
                self.add(f"{kind}-{i}", ps[kind], args.rate)
        for i in range(1, args.extra_devices + 1):
            self.add(f"sensor-{i:03d}", ps["sensor"], args.rate)
        # pump-1 is the fast one: 10 readings per second at --rate 1
        self.devices["pump-1"].period_ms = max(20, int(100 / args.rate))

    def add(self, device_id: str, profile: Profile, rate: float):
        self.devices[device_id] = Device(device_id, profile, random.Random(self.rng.random()), rate)

    # -- emitting ---------------------------------------------------------------------------
    def emit(self, event: str, device: str, data: dict):
        if self.live:
            self.outbox.append((event, device, data))

    async def flush(self):
        out, self.outbox = self.outbox, []
        for event, device, data in out:
            self.emitted[event] += 1
            await self.sio.emit(event, data, to=[f"device:{device}", "fleet", f"fleet:{event}"])

    # -- simulation -------------------------------------------------------------------------
    def backfill(self, end: int):
        start = end - HISTORY_MS
        for d in self.devices.values():
            d.next_at = start + int(self.rng.uniform(0, d.period_ms))
        t = start
        while t < end:
            self.step(t)
            t += 50
        self.live = True

    def step(self, t: int):
        for d in self.devices.values():
            while d.next_at <= t:
                at = d.next_at
                d.next_at += d.period_ms
                if not d.silent_at(at):
                    self.reading(d, at)
            self.watchdog(d, t)
            self.close_windows(d, t)

    def reading(self, d: Device, t: int):
        d.seq += 1
        metrics = d.sample(t)
        rec = {"device": d.id, "ts": t, "seq": d.seq, "metrics": metrics}
        d.readings.append(rec)
        while d.readings and d.readings[0]["ts"] < t - KEEP_MS:
            d.readings.popleft()
        d.latest.update(metrics)
        d.last_seen, d.last_seq = t, d.seq
        if not d.status or d.status["status"] != "online":
            self.set_status(d, "online", t)
        self.emit("reading", d.id, rec)
        for metric, value in metrics.items():
            self.window_add(d, metric, value, t)
            self.evaluate(d, metric, value, t)

    def set_status(self, d: Device, status: str, t: int):
        d.status = {"device": d.id, "status": status, "ts": t}
        self.emit("device-status", d.id, d.status)
        key = ("silent", d.id)
        silent_s = round((t - d.last_seen) / 1000, 1) if d.last_seen is not None else 0.0
        limit_s = OFFLINE_AFTER_MS / 1000
        if status == "offline" and key not in self.open_alert:
            self.transition(key, d.id, "silent", None, "warning", "active", silent_s, limit_s, t,
                            f"no reading for {silent_s:g} s")
        elif status == "online" and key in self.open_alert:
            self.transition(key, d.id, "silent", None, "warning", "cleared", 0.0, limit_s, t,
                            "readings again")

    def watchdog(self, d: Device, t: int):
        if d.status and d.status["status"] == "online" and d.last_seen is not None \
                and t - d.last_seen > OFFLINE_AFTER_MS:
            self.set_status(d, "offline", t)

    def window_add(self, d: Device, metric: str, value: float, t: int):
        for name, size, hop in WINDOWS:
            newest = t - t % hop
            for start in range(newest - size + hop, newest + 1, hop):  # every window holding t
                key = (metric, name, start)
                w = d.open.get(key)
                if w is None:
                    w = d.open[key] = Window(start, size)
                w.values.append(value)
                # Updated windows: at most once a second (every size/10 for long ones).
                if self.live and t - w.emitted_at >= max(1000, size // 10):
                    self.window_emit(d, metric, name, w, final=False)
                    w.emitted_at = t

    def close_windows(self, d: Device, t: int):
        for key, w in list(d.open.items()):
            if t >= w.end:
                self.window_emit(d, key[0], key[1], w, final=True)
                del d.open[key]

    def window_emit(self, d: Device, metric: str, name: str, w: Window, final: bool):
        if not w.values:
            return
        rec = w.record(d.id, metric, name, final)
        d.stats[(metric, name, w.start)] = rec
        cutoff = (d.last_seen or 0) - KEEP_MS  # not w.end: hopping windows end in the future
        for k in [k for k, v in d.stats.items() if v["end"] < cutoff]:
            del d.stats[k]
        self.emit("stats", d.id, rec)

    def evaluate(self, d: Device, metric: str, value: float, t: int):
        for rule, prefix, rmetric, above, clear, severity in RULES:
            if rmetric != metric or not d.id.startswith(prefix):
                continue
            key = (rule, d.id)
            if key not in self.open_alert and value > above:
                self.transition(key, d.id, rule, metric, severity, "active", value, above, t,
                                f"{metric} {value:g} above {above:g}")
            elif key in self.open_alert and value < clear:
                # On `cleared` transitions `threshold` is the clear level (as in Telemetry).
                self.transition(key, d.id, rule, metric, severity, "cleared", value, clear, t,
                                f"{metric} {value:g} back below {clear:g}")

    def transition(self, key, device, rule, metric, severity, state, value, threshold, t, msg):
        if state == "active":
            alert_id = f"{rule}:{device}:{t}"
            self.open_alert[key] = alert_id
        else:
            alert_id = self.open_alert.pop(key)
        rec = {"id": alert_id, "device": device, "rule": rule, "metric": metric,
               "severity": severity, "state": state, "value": value, "threshold": threshold,
               "ts": t, "message": msg}
        if state == "cleared" and self.alerts.get(alert_id, {}).get("ackedBy"):
            rec["ackedBy"] = self.alerts[alert_id]["ackedBy"]
        self.alerts[alert_id] = rec
        self.emit("alert", device, rec)

    def prune_alerts(self, t: int):
        for k in [k for k, a in self.alerts.items()
                  if a["state"] == "cleared" and a["ts"] < t - 24 * 3600 * 1000]:
            del self.alerts[k]

    # -- views ------------------------------------------------------------------------------
    def active_count(self, device: str) -> int:
        return sum(1 for a in self.alerts.values()
                   if a["device"] == device and a["state"] != "cleared")

    def summary(self, d: Device) -> dict:
        return {"id": d.id, "status": d.status["status"] if d.status else "unknown",
                "lastSeen": d.last_seen, "lastSeq": d.last_seq, "metrics": dict(d.latest),
                "activeAlerts": self.active_count(d.id)}

    def history(self, device_id: str, since: int | None = None) -> dict:
        t = now_ms()
        since = t - HISTORY_MS if since is None else since
        d = self.devices.get(device_id)
        alerts = [a for a in self.alerts.values() if a["device"] == device_id]
        alerts.sort(key=lambda a: a["ts"], reverse=True)
        if d is None:
            return {"device": device_id, "status": None, "since": since, "readings": [],
                    "stats": [], "alerts": alerts[:100], "notes": []}
        readings = [r for r in d.readings if r["ts"] >= since][-6000:]
        stats = sorted((s for s in d.stats.values() if s["end"] >= since), key=lambda s: s["start"])
        return {"device": device_id, "status": d.status, "since": since, "readings": readings,
                "stats": stats[-2000:], "alerts": alerts[:100], "notes": list(d.notes)}


# --------------------------------------------------------------------------------------------
# Socket.IO + HTTP
# --------------------------------------------------------------------------------------------

def build(args):
    sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins=[], max_http_buffer_size=100_000)
    app = web.Application()
    sio.attach(app)
    # Remember every WebSocket so /dev/disconnect can cut them like a network failure would.
    sockets: set = set()
    base_ws = sio.eio._async["websocket"]

    class TrackedWebSocket(base_ws):
        async def __call__(self, environ):
            sockets.add(self)
            try:
                return await super().__call__(environ)
            finally:
                sockets.discard(self)

    sio.eio._async = dict(sio.eio._async, websocket=TrackedWebSocket)
    fleet = Fleet(sio, args)
    fleet.backfill(now_ms())

    def parse_devices(data) -> tuple[list | None, dict | None]:
        devices = data.get("devices") if isinstance(data, dict) else None
        bad = error("bad-request", "devices must be an array of 1..1000 device ids, or [\"*\"]")
        if not isinstance(devices, list) or not 1 <= len(devices) <= 1000:
            return None, bad
        events = data.get("events")
        if events is not None:
            if devices != ["*"]:
                return None, error("bad-request", "events is only allowed with [\"*\"]")
            if not isinstance(events, list) or not set(events) <= FLEET_EVENTS:
                return None, error("bad-request", f"events must be some of {sorted(FLEET_EVENTS)}")
        if devices == ["*"]:
            return devices, None
        if not all(isinstance(x, str) and DEVICE_ID.match(x) for x in devices):
            return None, bad
        return list(dict.fromkeys(devices)), None

    @sio.event
    async def connect(sid, environ, auth):
        auth = auth if isinstance(auth, dict) else {}
        if args.token and auth.get("token") != args.token:
            raise socketio.exceptions.ConnectionRefusedError("unauthorized", error(
                "unauthorized", "missing or invalid access token; open the dashboard with ?token=<token>"))
        name = auth.get("name")
        if not (isinstance(name, str) and 1 <= len(name.strip()) <= 64):
            name = f"operator-{sid[:6]}"
        await sio.save_session(sid, {"name": name.strip()})

    @sio.on("subscribe")
    async def subscribe(sid, data):
        devices, err = parse_devices(data)
        if err:
            return {"ok": False, "error": err}
        if devices == ["*"]:
            events = data.get("events")
            if events is None:
                await sio.enter_room(sid, "fleet")
                return {"ok": True, "devices": devices}
            for event in events:
                await sio.enter_room(sid, f"fleet:{event}")
            return {"ok": True, "devices": devices, "events": events}
        for dev in devices:
            await sio.enter_room(sid, f"device:{dev}")
        if data.get("history", True) is not False:
            async def send_history():
                await asyncio.sleep(0.01)  # after the ack (docs/hub-api.md 1.3)
                for dev in devices:
                    await sio.emit("history", fleet.history(dev), to=sid)
            sio.start_background_task(send_history)
        return {"ok": True, "devices": devices}

    @sio.on("unsubscribe")
    async def unsubscribe(sid, data):
        devices, err = parse_devices(data)
        if err:
            return {"ok": False, "error": err}
        for dev in devices:
            if dev == "*":
                for room in ["fleet", *(f"fleet:{e}" for e in FLEET_EVENTS)]:
                    await sio.leave_room(sid, room)
            else:
                await sio.leave_room(sid, f"device:{dev}")
        return {"ok": True, "devices": devices}

    @sio.on("alert:ack")
    async def alert_ack(sid, data):
        alert_id = data.get("id") if isinstance(data, dict) else None
        if not isinstance(alert_id, str):
            return {"ok": False, "error": error("bad-request", "send {\"id\": \"<alert id>\"}")}
        await asyncio.sleep(0.03)  # the round trip to Kafka
        if args.ack_error_rate and fleet.rng.random() < args.ack_error_rate:
            return {"ok": False, "error": error("unavailable", "Kafka did not take the acknowledgement in time; try again")}
        alert = fleet.alerts.get(alert_id)
        if alert is None:
            return {"ok": False, "error": error("not-found", f"no alert with id {alert_id}")}
        if alert["state"] == "cleared":
            return {"ok": False, "error": error("not-active", "the alert is already cleared")}
        if alert["state"] == "acknowledged":
            return {"ok": True, "id": alert_id}
        session = await sio.get_session(sid)
        rec = dict(alert, state="acknowledged", ts=now_ms(), ackedBy=session["name"],
                   message=f"{alert['rule']} on {alert['device']} acknowledged")
        # Stands in for the windowing stage, which turns the operator record into the
        # `acknowledged` transition a moment later.
        async def transition_later():
            await asyncio.sleep(0.15)
            if fleet.alerts.get(alert_id, {}).get("state") == "active":
                fleet.alerts[alert_id] = rec
                fleet.emit("alert", rec["device"], rec)
                await fleet.flush()
        sio.start_background_task(transition_later)
        return {"ok": True, "id": alert_id}

    @sio.on("note")
    async def note(sid, data):
        device = data.get("device") if isinstance(data, dict) else None
        text = data.get("text") if isinstance(data, dict) else None
        if not isinstance(device, str) or not DEVICE_ID.match(device):
            return {"ok": False, "error": error("bad-request", "device must be a device id")}
        if not isinstance(text, str) or not 1 <= len(text.strip()) <= 2000:
            return {"ok": False, "error": error("bad-request", "text must be 1..2000 characters")}
        await asyncio.sleep(0.03)
        session = await sio.get_session(sid)
        fleet.note_counter += 1
        rec = {"id": f"n-0-{fleet.note_counter}", "device": device, "text": text.strip(),
               "author": session["name"], "ts": now_ms()}
        d = fleet.devices.get(device)
        if d is not None:
            d.notes.append(rec)
        fleet.emit("note", device, rec)
        await fleet.flush()
        return {"ok": True, "note": rec}

    # -- HTTP ---------------------------------------------------------------------------------
    def json_response(data, status=200):
        return web.json_response(data, status=status, headers={"Cache-Control": "no-store"})

    def api_error(status, code, message):
        return json_response({"error": error(code, message)}, status)

    @web.middleware
    async def token_guard(request, handler):
        if args.token and request.path.startswith("/api/"):
            header = request.headers.get("Authorization", "")
            given = header[7:] if header.startswith("Bearer ") else request.query.get("token")
            if given != args.token:
                return api_error(401, "unauthorized", "send Authorization: Bearer <token>")
        return await handler(request)

    app.middlewares.append(token_guard)

    def int_param(request, name, default, lo, hi):
        raw = request.query.get(name)
        if raw is None:
            return default
        value = int(raw)
        if not lo <= value <= hi:
            raise ValueError(name)
        return value

    async def api_devices(request):
        try:
            limit = int_param(request, "limit", 1000, 1, 10000)
        except ValueError:
            return api_error(400, "bad-request", "limit must be an integer 1..10000")
        after = request.query.get("after", "")
        ids = sorted(i for i in fleet.devices if i > after)
        page = ids[:limit]
        nxt = page[-1] if len(ids) > limit else None
        return json_response({"ts": now_ms(), "devices": [fleet.summary(fleet.devices[i]) for i in page],
                              "next": nxt})

    async def api_device(request):
        device_id = request.match_info["id"]
        if not DEVICE_ID.match(device_id):
            return api_error(400, "bad-request", "not a device id")
        d = fleet.devices.get(device_id)
        if d is None:
            return api_error(404, "not-found", f"no device {device_id}")
        try:
            since = int(request.query["since"]) if "since" in request.query else None
        except ValueError:
            return api_error(400, "bad-request", "since must be epoch milliseconds")
        return json_response(dict(fleet.summary(d), history=fleet.history(device_id, since)))

    async def api_alerts(request):
        states = set(request.query.get("state", "active,acknowledged,cleared").split(","))
        if not states <= {"active", "acknowledged", "cleared"}:
            return api_error(400, "bad-request", "state must be active, acknowledged and/or cleared")
        try:
            limit = int_param(request, "limit", 200, 1, 1000)
        except ValueError:
            return api_error(400, "bad-request", "limit must be an integer 1..1000")
        device = request.query.get("device")
        alerts = [a for a in fleet.alerts.values()
                  if a["state"] in states and (device is None or a["device"] == device)]
        alerts.sort(key=lambda a: a["ts"], reverse=True)
        return json_response({"ts": now_ms(), "alerts": alerts[:limit]})

    async def healthz(_):
        return json_response({"status": "ok"})

    async def readyz(_):
        return json_response({"status": "ready", "checks": {"kafka": "ok", "consumer": "ok"}})

    async def metrics(_):
        lines = ["# TYPE fluxgate_hub_clients gauge",
                 f"fluxgate_hub_clients {len(sio.manager.rooms.get('/', {}).get(None, {}))}",
                 "# TYPE fluxgate_hub_events_emitted_total counter"]
        lines += [f'fluxgate_hub_events_emitted_total{{event="{e}"}} {n}' for e, n in sorted(fleet.emitted.items())]
        return web.Response(body=("\n".join(lines) + "\n").encode(),
                            headers={"Content-Type": "text/plain; version=0.0.4"})

    async def dev_history_lost(_):
        await sio.emit("history-lost", {"devices": ["*"], "reason": "other"})
        return json_response({"ok": True})

    async def dev_disconnect(request):
        # Default: close the Engine.IO transport (like a network drop; clients reconnect).
        # ?server=1: a Socket.IO server-side disconnect ("io server disconnect").
        if request.query.get("server"):
            sids = list(sio.manager.rooms.get("/", {}).get(None, {}).keys())
            for sid in sids:
                await sio.disconnect(sid)
            return json_response({"ok": True, "disconnected": len(sids)})
        cut = list(sockets)
        for ws in cut:
            if ws._sock is not None:
                await ws._sock.close()
        return json_response({"ok": True, "disconnected": len(cut)})

    async def socket_io_js(_):
        if not SIO_JS.exists():
            return web.Response(status=404, text="run: bash scripts/bootstrap.sh\n")
        return web.FileResponse(SIO_JS, headers={"Content-Type": "application/javascript"})

    async def static(request):
        rel = request.match_info.get("path") or "index.html"
        target = (DASHBOARDS / rel).resolve()
        if DASHBOARDS not in target.parents or target.parts[len(DASHBOARDS.parts)] in ("dev", "test") \
                or not target.is_file() or target.suffix not in CONTENT_TYPES:
            return web.Response(status=404, text="not found\n")
        return web.FileResponse(target, headers={"Content-Type": CONTENT_TYPES[target.suffix],
                                                 "Cache-Control": "no-cache"})

    app.router.add_get("/socket.io/socket.io.min.js", socket_io_js)
    app.router.add_get("/api/devices", api_devices)
    app.router.add_get("/api/devices/{id}", api_device)
    app.router.add_get("/api/alerts", api_alerts)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_route("*", "/dev/history-lost", dev_history_lost)
    app.router.add_route("*", "/dev/disconnect", dev_disconnect)
    app.router.add_get("/{path:.*}", static)
    return app, fleet


async def simulate(fleet: Fleet):
    while True:
        t = now_ms()
        fleet.step(t)
        fleet.prune_alerts(t)
        await fleet.flush()
        await asyncio.sleep(0.05)


async def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, default=8090, help="TCP port on 127.0.0.1 (0: any free port)")
    p.add_argument("--seconds", type=float, default=900, help="stop after this many seconds (default 900)")
    p.add_argument("--token", default=None, help="require this access token (handshake auth and /api)")
    p.add_argument("--rate", type=float, default=1.0, help="multiply every device's publish rate")
    p.add_argument("--extra-devices", type=int, default=0, help="add N generic sensor-NNN devices")
    p.add_argument("--ack-error-rate", type=float, default=0.0, help="fraction of alert:ack that fail with 'unavailable'")
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args()

    app, fleet = build(args)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", args.port)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    print(f"fake hub: http://127.0.0.1:{port}/", flush=True)
    sim = asyncio.create_task(simulate(fleet))
    try:
        await asyncio.sleep(args.seconds)
    finally:
        sim.cancel()
        await runner.cleanup()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main()))
    except KeyboardInterrupt:
        sys.exit(0)
