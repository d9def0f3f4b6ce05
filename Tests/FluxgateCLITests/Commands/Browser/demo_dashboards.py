#!/usr/bin/env python3
"""Checks a running `fluxgate demo` in headless Chromium: live fleet and device pages, and an
alert on the page within a second of a threshold crossing published over MQTT.

    .venv/bin/python Tests/FluxgateCLITests/Commands/Browser/demo_dashboards.py \
        --url http://127.0.0.1:8080/ --mqtt-port 1883 --out .artifacts/screenshots/demo \
        --steps pages,alert

Run by Tests/FluxgateCLITests/Commands/DemoDashboardBrowserTests.swift against the demo it
starts. Prints one JSON object a line on stdout:
    {"check": NAME, "ok": BOOL, "detail": ...}     one per check
    {"screenshot": PATH, "bytes": N, "width": W, "height": H}
    {"measure": "alert-latency-ms", "values": [...], ...}
    {"done": true, "failed": N}                    last
Exit status 0 when every check passed. The browser is driven over the DevTools protocol with
the `Browser` of dashboards/dev/browse.py; every process started here is stopped here.

Steps:
  pages  the fleet page (/) fills with the fleet, values change between two reads, online
         states shown; the device page (device.html?id=DEVICE) loads history, draws its charts
         (reading-line pixels read back from the canvas) and its values move. Screenshots.
  alert  with the device page open, publishes a reading of DEVICE over MQTT (mosquitto_pub)
         whose temperature jumps by more than the demo rule `temperature-jump` (3 °C/s, no
         `for`); the page records (MutationObserver, Date.now()) when a new alert of that
         rule appears in its alert list. Latency = that moment - the publish
         time (the reading's `ts`, taken just before the line goes to mosquitto_pub, which is
         already connected). Repeated --crossings times; then the alerts page lists the alert.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import pathlib
import shutil
import signal
import struct
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[4]
sys.path.insert(0, str(REPO / "dashboards" / "dev"))
from browse import CHART_PIXELS, Browser  # noqa: E402  (dashboards/dev/browse.py)

# The demo rule this test trips (Sources/Telemetry/Alerts/DefaultConfiguration.swift).
RULE = "temperature-jump"
# A temperature far from greenhouse-001's normal 18.8..29.2 °C: from the previous reading (about a
# second earlier) the rate is about +35 °C/s (threshold 3/s); overheating (above 30 for 10 s) only
# goes pending, and the next simulated reading clears both.
JUMP_VALUE = 61.37
JUMP_TEXT = "61.37"  # as the device page shows it (dashboards/js/util.js fmtValue)


def emit(**record):
    print(json.dumps(record), flush=True)


class Checks:
    def __init__(self):
        self.failed = 0

    def check(self, name, ok, detail=None):
        ok = bool(ok)
        emit(check=name, ok=ok, detail=detail)
        if not ok:
            self.failed += 1
        return ok


def png_size(path):
    """(width, height) from a PNG's IHDR, or None when the file is not a PNG."""
    head = pathlib.Path(path).read_bytes()[:24]
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", head[16:24])


async def screenshot(b, out, name):
    path = out / name
    await b.shot(path)
    size = png_size(path) or (0, 0)
    emit(screenshot=str(path), bytes=path.stat().st_size, width=size[0], height=size[1])
    print(f"screenshot: {path}", file=sys.stderr, flush=True)
    return path


# The text of every value on the fleet cards, in card order.
FLEET_VALUES = "[...document.querySelectorAll('.card')].map(c => c.dataset.id + ':' + [...c.querySelectorAll('dd')].map(d => d.textContent).join(',')).join('|')"
DEVICE_VALUES = "[...document.querySelectorAll('.chart')].map(c => c.dataset.metric + ':' + c.querySelector('.value').textContent).join('|')"


async def wait_change(b, expression, first, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        now = await b.eval(expression)
        if now != first:
            return now
    return None


async def step_pages(b, c, args, out):
    url = args.url
    await b.goto(url)
    c.check("fleet: connection live", await b.wait_for("document.querySelector('.conn')?.dataset.state === 'live'", 30))
    c.check(f"fleet: {args.devices} device cards",
            await b.wait_for(f"document.querySelectorAll('.card').length >= {args.devices}", 30),
            await b.eval("document.querySelectorAll('.card').length"))
    # Every card shows values (the snapshot, then live readings).
    c.check("fleet: every card shows values",
            await b.wait_for("[...document.querySelectorAll('.card')].every(c => c.querySelectorAll('dd').length > 0)", 30))
    first = await b.eval(FLEET_VALUES)
    second = await wait_change(b, FLEET_VALUES, first, 15)
    c.check("fleet: values change between two reads", second is not None, {"first": first, "second": second})
    statuses = await b.eval("[...document.querySelectorAll('.card')].map(c => c.dataset.status)")
    online = await b.eval("Number(document.getElementById('n-online').textContent)")
    # greenhouse-006 drops out for 45 s every 5 minutes (from minute 2): allow one offline.
    c.check("fleet: online states shown",
            statuses and all(s in ("online", "offline") for s in statuses)
            and statuses.count("online") >= args.devices - 1 and online == statuses.count("online"),
            {"statuses": statuses, "n-online": online})
    await asyncio.sleep(1)  # the "seen … ago" line ticks; a settled frame for the picture
    await screenshot(b, out, "fleet.png")

    await b.goto(f"{url}device.html?id={args.device}")
    c.check("device: history loaded",
            await b.wait_for("document.getElementById('history-state').textContent.includes('history since')", 30),
            await b.eval("document.getElementById('history-state').textContent"))
    c.check("device: a chart per metric",
            await b.wait_for("document.querySelectorAll('.chart canvas').length >= 2", 15),
            await b.eval("[...document.querySelectorAll('.chart')].map(c => c.dataset.metric)"))
    drawn = await b.wait_for(f"{CHART_PIXELS} > 200", 15)
    pixels = await b.eval(CHART_PIXELS)
    c.check("device: chart drawn (reading-line pixels on the canvas)", drawn, pixels)
    c.check("device: statistics shown",
            await b.wait_for("[...document.querySelectorAll('.chart-stats')].some(s => s.textContent.includes('mean'))", 20),
            await b.eval("[...document.querySelectorAll('.chart-stats')].map(s => s.textContent)"))
    first = await b.eval(DEVICE_VALUES)
    second = await wait_change(b, DEVICE_VALUES, first, 15)
    c.check("device: values move", second is not None, {"first": first, "second": second})
    await screenshot(b, out, f"device-{args.device}.png")


# Installed in the device page just before a crossing: records when a new alert of the rule
# (an id the list did not hold before) and the jumped reading appear in the DOM. (The alert may
# already show as cleared: the next simulated reading clears it, sometimes in the same batch.)
PROBE = """((rule, text) => {
  const before = new Set([...document.querySelectorAll('#alerts .alert')].map(li => li.dataset.id));
  const probe = { alertAt: null, readingAt: null, id: null, state: null };
  window.__probe = probe;
  const look = () => {
    const now = Date.now();
    if (probe.alertAt === null) {
      for (const li of document.querySelectorAll('#alerts .alert')) {
        if (!before.has(li.dataset.id) && li.querySelector('.alert-rule')?.textContent === rule) {
          Object.assign(probe, { alertAt: now, id: li.dataset.id, state: li.dataset.state });
          break;
        }
      }
    }
    if (probe.readingAt === null
        && document.querySelector('.chart[data-metric="temperature"] .value')?.textContent === text) {
      probe.readingAt = now;
    }
    if (probe.alertAt !== null && probe.readingAt !== null) observer.disconnect();
  };
  const observer = new MutationObserver(look);
  observer.observe(document.body, { subtree: true, childList: true, characterData: true });
  return true;
})"""


class Publisher:
    """`mosquitto_pub -l`: connected once, then one message a line, so a line's publish time is
    the time it is written."""

    def __init__(self, port, device):
        self.port = port
        self.topic = f"devices/{device}/telemetry"
        self.proc = None

    async def __aenter__(self):
        self.proc = await asyncio.create_subprocess_exec(
            shutil.which("mosquitto_pub") or "mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.port),
            "-i", "fluxgate-browser-test", "-q", "1", "-t", self.topic, "-l",
            stdin=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        await asyncio.sleep(1)  # connected (there is no acknowledgement to wait for)
        if self.proc.returncode is not None:
            raise RuntimeError(f"mosquitto_pub exited: {(await self.proc.stderr.read()).decode()}")
        return self

    async def publish(self, ts, value):
        self.proc.stdin.write((json.dumps({"ts": ts, "metrics": {"temperature": value}}) + "\n").encode())
        await self.proc.stdin.drain()

    async def __aexit__(self, *exc):
        if self.proc.returncode is None:
            self.proc.stdin.close()
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except asyncio.TimeoutError:
                self.proc.kill()
                await self.proc.wait()


async def step_alert(b, c, args, out):
    await b.goto(f"{args.url}device.html?id={args.device}")
    c.check("alert: device page live",
            await b.wait_for("document.querySelector('.conn')?.dataset.state === 'live'"
                             " && document.getElementById('history-state').textContent.includes('history since')", 30))
    # Quiet before each crossing: no temperature-jump alert of this device active.
    quiet = f"![...document.querySelectorAll('#alerts .alert[data-state=\"active\"] .alert-rule')].some(r => r.textContent === '{RULE}')"
    latencies, reading_latencies, ids = [], [], []
    async with Publisher(args.mqtt_port, args.device) as pub:
        for n in range(args.crossings):
            if not await b.wait_for(quiet, 20):
                c.check(f"alert {n + 1}: no {RULE} alert active before the crossing", False)
                break
            await asyncio.sleep(1.2)  # a simulated reading after the last one: a fresh baseline
            await b.eval(f"{PROBE}({json.dumps(RULE)}, {json.dumps(JUMP_TEXT)})")
            published = time.time() * 1000
            await pub.publish(int(published), JUMP_VALUE)
            seen = await b.wait_for("window.__probe.alertAt !== null", 10)
            probe = await b.eval("window.__probe")
            probe["published"] = round(published, 1)
            if seen:
                latencies.append(round(probe["alertAt"] - published, 1))
                ids.append(probe["id"])
            if probe.get("readingAt") is not None:
                reading_latencies.append(round(probe["readingAt"] - published, 1))
            c.check(f"alert {n + 1}: shown on the device page", seen, probe)
            if n == 0 and seen:
                await screenshot(b, out, f"device-{args.device}-alert.png")
    emit(measure="alert-latency-ms", values=latencies, reading_values=reading_latencies,
         max=max(latencies) if latencies else None, limit=args.limit_ms)
    print(f"alert latency (publish -> alert in the page DOM), ms: {latencies}; "
          f"reading shown, ms: {reading_latencies}", file=sys.stderr, flush=True)
    c.check(f"alert: every crossing shown within {args.limit_ms} ms",
            len(latencies) == args.crossings and max(latencies) <= args.limit_ms, latencies)

    if ids:
        await b.goto(f"{args.url}alerts.html")
        found = await b.wait_for(
            f"document.querySelector('.alert[data-id=\"{ids[0]}\"] .alert-device')?.textContent === '{args.device}'", 20)
        c.check("alerts page: the alert is listed", found, ids[0])
        await asyncio.sleep(0.5)
        await screenshot(b, out, "alerts.png")


async def run(args):
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    c = Checks()
    steps = args.steps.split(",")
    async with Browser() as b:
        await b.size(1280, 900)
        if "pages" in steps:
            await step_pages(b, c, args, out)
        if "alert" in steps:
            await step_alert(b, c, args, out)
        c.check("no JavaScript errors", not b.errors, b.errors[:5])
    emit(done=True, failed=c.failed)
    return 1 if c.failed else 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", required=True, help="the demo's dashboard URL (ends with /)")
    p.add_argument("--mqtt-port", type=int, help="the demo's mosquitto port (alert step)")
    p.add_argument("--out", required=True, help="folder for the screenshots")
    p.add_argument("--steps", default="pages,alert")
    p.add_argument("--device", default="greenhouse-001")
    p.add_argument("--devices", type=int, default=13, help="devices in the fleet")
    p.add_argument("--crossings", type=int, default=3)
    p.add_argument("--limit-ms", type=int, default=1000)
    args = p.parse_args()
    if "alert" in args.steps and args.mqtt_port is None:
        p.error("--mqtt-port is needed for the alert step")
    return asyncio.run(guarded(run(args), 240))


async def guarded(work, timeout):
    """`work` with a timeout; SIGTERM cancels it too, so the browser and mosquitto_pub are stopped."""
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, asyncio.current_task().cancel)
    return await asyncio.wait_for(work, timeout)


if __name__ == "__main__":
    sys.exit(main())
