#!/usr/bin/env python3
"""Drive headless Chromium over the DevTools protocol: screenshots and a smoke check.

    # a screenshot of a running page (real time, unlike --virtual-time-budget)
    .venv/bin/python dashboards/dev/browse.py shot http://127.0.0.1:8090/ /tmp/fleet.png --wait 5
    .venv/bin/python dashboards/dev/browse.py shot URL /tmp/phone.png --mobile
    # start the fake hub, check every page in the browser, leave screenshots in --out
    .venv/bin/python dashboards/dev/browse.py smoke --out /tmp/fluxgate-shots

Only Chromium and aiohttp are needed. Every process started here is stopped here.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import itertools
import json
import pathlib
import shutil
import sys
import tempfile
import time

import aiohttp
import socketio

HERE = pathlib.Path(__file__).resolve().parent


class Browser:
    """One headless Chromium with one page, spoken to over the DevTools protocol."""

    def __init__(self):
        self.proc = None
        self.tmp = None
        self.session = None
        self.ws = None
        self.ids = itertools.count(1)
        self.pending: dict[int, asyncio.Future] = {}
        self.errors: list[str] = []
        self.console: list[str] = []
        self.reader = None

    async def __aenter__(self):
        try:
            return await self.start()
        except BaseException:
            await self.__aexit__(None, None, None)  # no Chromium left behind when it fails to start
            raise

    async def start(self):
        self.tmp = tempfile.mkdtemp(prefix="fluxgate-chromium-")
        self.proc = await asyncio.create_subprocess_exec(
            shutil.which("chromium") or "chromium", "--headless=new", "--no-sandbox", "--disable-gpu",
            "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1",
            f"--user-data-dir={self.tmp}", "--no-first-run", "--window-size=1280,900", "about:blank",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        port_file = pathlib.Path(self.tmp) / "DevToolsActivePort"
        for _ in range(600):  # 30 s: Chromium starts slowly on a loaded machine (CI)
            if port_file.exists() and len(port_file.read_text().splitlines()) >= 2:
                break
            if self.proc.returncode is not None:
                break
            await asyncio.sleep(0.05)
        else:
            raise RuntimeError(f"Chromium did not open its DevTools port within 30 s ({port_file})")
        if self.proc.returncode is not None:
            raise RuntimeError(f"Chromium exited with status {self.proc.returncode} before opening its DevTools port")
        port = int(port_file.read_text().splitlines()[0])
        self.session = aiohttp.ClientSession()
        async with self.session.get(f"http://127.0.0.1:{port}/json/list") as r:
            targets = await r.json()
        page = next(t for t in targets if t["type"] == "page")
        self.ws = await self.session.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=64 << 20)
        self.reader = asyncio.create_task(self.read())
        await self.send("Page.enable")
        await self.send("Runtime.enable")
        return self

    async def __aexit__(self, *exc):
        if self.reader:
            self.reader.cancel()
        if self.ws:
            await self.ws.close()
        if self.session:
            await self.session.close()
        if self.proc and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except asyncio.TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        # Chromium's helper processes may still write to the profile for a moment after it exits.
        for _ in range(20):
            shutil.rmtree(self.tmp, ignore_errors=True)
            if not self.tmp or not pathlib.Path(self.tmp).exists():
                break
            await asyncio.sleep(0.1)

    async def read(self):
        async for msg in self.ws:
            data = json.loads(msg.data)
            if "id" in data:
                fut = self.pending.pop(data["id"], None)
                if fut and not fut.done():
                    if "error" in data:
                        fut.set_exception(RuntimeError(f"{data['error']}"))
                    else:
                        fut.set_result(data.get("result", {}))
            elif data.get("method") == "Runtime.exceptionThrown":
                d = data["params"]["exceptionDetails"]
                self.errors.append(d.get("exception", {}).get("description") or d.get("text"))
            elif data.get("method") == "Runtime.consoleAPICalled":
                p = data["params"]
                text = " ".join(str(a.get("value", a.get("description", ""))) for a in p["args"])
                self.console.append(f"{p['type']}: {text}")
                if p["type"] == "error":
                    self.errors.append(text)

    async def send(self, method, params=None, timeout=30):
        i = next(self.ids)
        fut = asyncio.get_running_loop().create_future()
        self.pending[i] = fut
        await self.ws.send_str(json.dumps({"id": i, "method": method, "params": params or {}}))
        return await asyncio.wait_for(fut, timeout)

    async def size(self, width, height, mobile=False, scale=1):
        await self.send("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": scale, "mobile": mobile})

    async def goto(self, url):
        await self.send("Page.navigate", {"url": url})

    async def eval(self, expression):
        r = await self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                 "awaitPromise": True})
        if "exceptionDetails" in r:
            raise RuntimeError(r["exceptionDetails"].get("exception", {}).get("description", "eval failed"))
        return r["result"].get("value")

    async def wait_for(self, expression, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(RuntimeError):
                if await self.eval(expression):
                    return True
            await asyncio.sleep(0.2)
        return False

    async def shot(self, path, full=False):
        params = {"format": "png"}
        if full:
            m = await self.send("Page.getLayoutMetrics")
            cs = m["cssContentSize"]
            params.update(captureBeyondViewport=True,
                          clip={"x": 0, "y": 0, "width": cs["width"], "height": cs["height"], "scale": 1})
        r = await self.send("Page.captureScreenshot", params)
        pathlib.Path(path).write_bytes(base64.b64decode(r["data"]))


async def cmd_shot(args):
    w, h = (int(x) for x in args.size.split("x"))
    async with Browser() as b:
        await b.size(w, h, mobile=args.mobile, scale=2 if args.mobile else 1)
        await b.goto(args.url)
        await asyncio.sleep(args.wait)
        if args.eval:
            await b.eval(args.eval)
            await asyncio.sleep(1)
        await b.shot(args.out, full=args.full)
        for e in b.errors:
            print("page error:", e, file=sys.stderr)
    print(args.out)
    return 0


async def cmd_perf(args):
    """Main-thread load of a live page: share of wall time spent in tasks, scripts, layout."""
    w, h = (int(x) for x in args.size.split("x"))
    async with Browser() as b:
        await b.send("Performance.enable")
        await b.size(w, h)
        await b.goto(args.url)
        await asyncio.sleep(args.wait)

        async def sample():
            m = await b.send("Performance.getMetrics")
            return {x["name"]: x["value"] for x in m["metrics"]}

        m0, t0 = await sample(), time.monotonic()
        rates = []
        for _ in range(int(args.seconds)):
            await asyncio.sleep(1)
            rates.append(await b.eval("parseInt(document.querySelector('.conn-rate')?.textContent) || 0"))
        m1, t1 = await sample(), time.monotonic()
        wall = t1 - t0
        share = lambda k: 100 * (m1.get(k, 0) - m0.get(k, 0)) / wall  # noqa: E731
        print(f"{args.url}: {wall:.1f} s, events/s median {sorted(rates)[len(rates) // 2]}, "
              f"main thread busy {share('TaskDuration'):.1f}% (script {share('ScriptDuration'):.1f}%, "
              f"layout {share('LayoutDuration'):.1f}%, style {share('RecalcStyleDuration'):.1f}%), "
              f"JS heap {m1.get('JSHeapUsedSize', 0) / 1e6:.1f} MB, DOM nodes {int(m1.get('Nodes', 0))}")
        for e in b.errors:
            print("page error:", e, file=sys.stderr)
    return 0


# ---- smoke check ------------------------------------------------------------------------------

class FakeHub:
    def __init__(self, *extra):
        self.extra = extra
        self.proc = None
        self.url = None

    async def __aenter__(self):
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, str(HERE / "fake_hub.py"), "--port", "0", "--seconds", "300", *self.extra,
            stdout=asyncio.subprocess.PIPE)
        line = await asyncio.wait_for(self.proc.stdout.readline(), 60)
        self.url = line.decode().split()[-1]
        return self

    async def __aexit__(self, *exc):
        if self.proc.returncode is None:
            self.proc.terminate()
            await self.proc.wait()

    async def post(self, path):
        async with aiohttp.ClientSession() as s, s.post(self.url + path.lstrip("/")) as r:
            return await r.json()

    async def get(self, path):
        async with aiohttp.ClientSession() as s, s.get(self.url + path.lstrip("/")) as r:
            return await r.json()


class Checks:
    def __init__(self):
        self.failed = 0

    def check(self, ok, what):
        print(("PASS " if ok else "FAIL ") + what, flush=True)
        if not ok:
            self.failed += 1


# Pixels of the reading line colour on the first chart's canvas (proves it drew data).
CHART_PIXELS = """(() => { const c = document.querySelector('.chart canvas'); if (!c) return 0;
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
  for (let i = 0; i < d.length; i += 4) if (d[i] < 120 && d[i+1] > 170 && d[i+2] > 200) n++; return n; })()"""


async def cmd_smoke(args):
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    c = Checks()
    async with FakeHub() as hub, Browser() as b:
        # Fleet overview, desktop.
        await b.size(1280, 900)
        await b.goto(hub.url)
        c.check(await b.wait_for("document.querySelector('.conn')?.dataset.state === 'live'"), "fleet: connection live")
        c.check(await b.wait_for("document.querySelectorAll('.card').length >= 11"), "fleet: 11 device cards")
        v1 = await b.eval("[...document.querySelectorAll('.card')].map(c => c.textContent).join('|')")
        await asyncio.sleep(2)
        v2 = await b.eval("[...document.querySelectorAll('.card')].map(c => c.textContent).join('|')")
        c.check(v1 != v2, "fleet: values change live")
        api_open = len((await hub.get("/api/alerts?state=active,acknowledged"))["alerts"])
        shown = await b.eval("Number(document.getElementById('n-alerts').textContent)")
        c.check(abs(shown - api_open) <= 1, f"fleet: active alerts shown ({shown}) match the API ({api_open})")
        await b.eval("document.getElementById('q').value = 'pump'; document.getElementById('q').dispatchEvent(new Event('input'))")
        c.check(await b.wait_for("document.querySelectorAll('.card').length === 3"), "fleet: search 'pump' leaves 3 cards")
        await b.eval("document.getElementById('q').value = ''; document.getElementById('q').dispatchEvent(new Event('input'))")
        c.check(await b.wait_for("document.querySelectorAll('.card').length >= 11"), "fleet: clearing the search shows all again")
        await b.shot(out / "fleet-1280.png")

        # Device page of a device with an active alert.
        active = (await hub.get("/api/alerts?state=active"))["alerts"]
        dev = active[0]["device"] if active else "greenhouse-2"
        await b.goto(f"{hub.url}device.html?id={dev}")
        c.check(await b.wait_for("document.getElementById('history-state').textContent.includes('history since')"),
                f"device {dev}: history loaded")
        c.check(await b.wait_for("document.querySelectorAll('.chart canvas').length >= 1"), "device: charts present")
        await asyncio.sleep(1.5)
        px = await b.eval(CHART_PIXELS)
        c.check(px > 200, f"device: chart line drawn ({px} line pixels)")
        c.check(await b.wait_for("!document.querySelector('.chart-stats')?.textContent.includes('no statistics')"),
                "device: stats line shows a window")
        await b.shot(out / f"device-{dev}-1280.png")
        if active:
            clicked = await b.eval("""(() => { const b = document.querySelector('.alert[data-state="active"] button');
                if (!b) return false; b.click(); return true; })()""")
            c.check(clicked, "device: an Acknowledge button")
            c.check(await b.wait_for(f"document.querySelector('.alert[data-id=\"{active[0]['id']}\"]')?.dataset.state === 'acknowledged'"),
                    "device: alert acknowledged through alert:ack")
        await b.eval("document.getElementById('note-text').value = 'smoke note ' + 42; document.getElementById('note-send').click()")
        c.check(await b.wait_for("document.getElementById('notes').textContent.includes('smoke note 42')"),
                "device: note sent and shown")
        # Another operator (python-socketio, a second official client) writes a note.
        other = socketio.AsyncClient()
        await other.connect(hub.url, auth={"name": "bob"}, transports=["websocket"])
        ack = await other.call("note", {"device": dev, "text": "note from bob"}, timeout=10)
        await other.disconnect()
        c.check(ack.get("ok") and await b.wait_for("document.getElementById('notes').textContent.includes('bob')"
                                                   " && document.getElementById('notes').textContent.includes('note from bob')"),
                "device: another operator's note appears live")
        # Reconnect without recovery: the page subscribes again and reloads history.
        await hub.post("/dev/disconnect")
        c.check(await b.wait_for("document.querySelector('.toasts').textContent.includes('history reloaded')", 15),
                "device: reconnected and reloaded history")
        await b.eval("document.querySelector('.toasts').replaceChildren()")
        await hub.post("/dev/disconnect?server=1")
        c.check(await b.wait_for("document.querySelector('.toasts').textContent.includes('history reloaded')", 15),
                "device: came back after a server-side disconnect")
        await b.eval("document.querySelector('.toasts').replaceChildren()")
        await hub.post("/dev/history-lost")
        c.check(await b.wait_for("document.querySelector('.toasts').textContent.includes('Some events were lost')", 10),
                "device: history-lost reloads history")
        c.check(await b.wait_for("document.querySelector('.conn')?.dataset.state === 'live'"), "device: live again")
        await b.shot(out / f"device-{dev}-after-reconnect.png")

        # Alerts page.
        await b.goto(f"{hub.url}alerts.html")
        if active:  # acknowledged, or cleared since (then it says who acknowledged it)
            c.check(await b.wait_for(f"document.querySelector('#col-acknowledged .alert[data-id=\"{active[0]['id']}\"], "
                                     f"#col-cleared .alert[data-id=\"{active[0]['id']}\"]')?.textContent.includes('ack:')"),
                    "alerts: the acknowledged alert is listed with who acknowledged it")
        c.check(await b.wait_for("document.querySelectorAll('#col-cleared .alert').length >= 1"),
                "alerts: cleared alerts listed")
        await b.shot(out / "alerts-1280.png")

        # Phone.
        await b.size(390, 844, mobile=True, scale=2)
        await b.goto(hub.url)
        await b.wait_for("document.querySelectorAll('.card').length >= 11")
        await asyncio.sleep(1)
        wide = await b.eval("document.documentElement.scrollWidth <= window.innerWidth + 1")
        c.check(wide, "phone: fleet has no horizontal scroll")
        await b.shot(out / "fleet-390.png")
        await b.goto(f"{hub.url}device.html?id={dev}")
        await b.wait_for("document.getElementById('history-state').textContent.includes('history since')")
        await asyncio.sleep(1.5)
        c.check(await b.eval("document.documentElement.scrollWidth <= window.innerWidth + 1"), "phone: device page has no horizontal scroll")
        await b.shot(out / f"device-{dev}-390.png")
        await b.goto(f"{hub.url}alerts.html")
        await asyncio.sleep(2)
        await b.shot(out / "alerts-390.png")
        c.check(not b.errors, "no JavaScript errors" + (f": {b.errors[:3]}" if b.errors else ""))

    # A hub with tokens: no token, no connection, and a clear message.
    async with FakeHub("--token", "s3cret") as hub, Browser() as b:
        await b.size(1280, 900)
        await b.goto(hub.url)
        c.check(await b.wait_for("!document.querySelector('.banner').hidden && document.querySelector('.banner').textContent.includes('access token')"),
                "token: refused connection explained")
        await b.shot(out / "fleet-unauthorized.png")
        await b.goto(hub.url + "?token=s3cret")
        c.check(await b.wait_for("document.querySelector('.conn')?.dataset.state === 'live' && document.querySelectorAll('.card').length >= 11"),
                "token: ?token= connects and loads the API")
        c.check(await b.eval("!location.search.includes('token')"), "token: removed from the address bar")
    # A hub whose Kafka does not take acknowledgements: the error is shown next to the button.
    # On the alerts page, which lists every active alert (one may clear at any moment).
    async with FakeHub("--ack-error-rate", "1") as hub, Browser() as b:
        await b.size(1280, 900)
        await b.goto(f"{hub.url}alerts.html")
        clicked = False
        for _ in range(3):
            if await b.wait_for("!!document.querySelector('#col-active .alert button')", 20):
                clicked = await b.eval("""(() => { const x = document.querySelector('#col-active .alert button');
                    if (!x) return false; x.click(); return true; })()""")
            if clicked:
                break
        c.check(clicked, "ack error: an active alert to acknowledge")
        c.check(await b.wait_for("document.querySelector('#col-active .alert .err')?.textContent.includes('unavailable')"),
                "ack error: the hub's error is shown next to the alert")
        c.check(await b.eval("!!document.querySelector('#col-active .alert button:not([disabled])')"),
                "ack error: the button can be pressed again")
        await b.shot(out / "alerts-ack-error.png")
    print(f"{'OK' if not c.failed else 'FAILED'}: screenshots in {out}")
    return 1 if c.failed else 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("shot", help="screenshot a URL")
    s.add_argument("url")
    s.add_argument("out")
    s.add_argument("--size", default="1280x900")
    s.add_argument("--mobile", action="store_true", help="phone: 390x844, touch, 2x pixels")
    s.add_argument("--wait", type=float, default=4.0, help="seconds to let live data arrive")
    s.add_argument("--full", action="store_true", help="the whole page, not only the viewport")
    s.add_argument("--eval", help="JavaScript to run after --wait, 1 s before the screenshot")
    f = sub.add_parser("perf", help="main-thread load of a live page over some seconds")
    f.add_argument("url")
    f.add_argument("--size", default="1920x1080")
    f.add_argument("--wait", type=float, default=5.0, help="seconds before measuring")
    f.add_argument("--seconds", type=float, default=10.0, help="seconds measured")
    m = sub.add_parser("smoke", help="start the fake hub and check every page in Chromium")
    m.add_argument("--out", default="/tmp/fluxgate-shots")
    args = p.parse_args()
    if args.cmd == "shot" and args.mobile and args.size == "1280x900":
        args.size = "390x844"
    run = {"shot": cmd_shot, "perf": cmd_perf, "smoke": cmd_smoke}[args.cmd]
    return asyncio.run(asyncio.wait_for(run(args), 240))


if __name__ == "__main__":
    sys.exit(main())
