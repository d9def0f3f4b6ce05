"""A scripted python-socketio client for the hub tests.

Prints one line per thing that happens, flushed at once, so the Swift test can wait on them:
  CONNECTED <sid> / CONNECT_ERROR <json> / ACK <event> <json> / EVENT <name> <json> / DISCONNECTED
Options:
  --token T --name N             handshake auth
  --subscribe JSON               payload of a subscribe sent right after connecting (repeatable)
  --ack-on-alert                 send alert:ack for every `active` alert received
  --note DEVICE TEXT             send a note after subscribing
  --transport websocket|polling  (default: both, polling first, as browsers do)
  --duration S                   exit after S seconds (default 60)
  --connect-timeout S            how long one connect attempt may take in all: the Engine.IO open
                                 and the server's CONNECT answer (default 30). python-socketio's
                                 own wait for the answer is 1 s by default, far below the time a
                                 hub may take to find a session and replay what was missed
                                 (docs/hub.md recoveryTimeout), and nothing bounds its Engine.IO
                                 open but aiohttp's 5-minute session timeout. The JavaScript
                                 client gives up an open after 20 s and waits for the answer
                                 without a limit.
Connection state recovery (python-socketio 5.x keeps no pid/offset itself, so this script does
what the official JavaScript client does):
  --recover                      remember the CONNECT `pid` and the last event offset (the last
                                 argument of broadcasts); after a disconnect, reconnect with
                                 auth {pid, offset}; prints SESSION <pid> recovered=<true|false>
                                 [<seconds> <url>] after every connect; subscribes again when not
                                 recovered;
                                 a failed attempt prints CONNECT_FAILED <url> <seconds> <reason>
                                 and is retried every 0.2 s until --duration
  --reconnect-url URL            where to reconnect (repeatable, tried in turn; default: url)
  --drop-file PATH               when PATH exists, drop the connection once (network loss)
  --resume-file PATH             after a disconnect, wait until PATH exists before reconnecting
  --pid P --offset O             recovery auth for the first connect
"""
import argparse
import asyncio
import itertools
import json
import os
import sys

import socketio


def out(*parts):
    sys.stdout.write(" ".join(parts) + "\n")
    sys.stdout.flush()


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--token")
    parser.add_argument("--name")
    parser.add_argument("--subscribe", action="append", default=[])
    parser.add_argument("--ack-on-alert", action="store_true")
    parser.add_argument("--note", nargs=2)
    parser.add_argument("--transport")
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--connect-timeout", type=float, default=30)
    parser.add_argument("--recover", action="store_true")
    parser.add_argument("--reconnect-url", action="append", default=[])
    parser.add_argument("--drop-file")
    parser.add_argument("--resume-file")
    parser.add_argument("--pid")
    parser.add_argument("--offset")
    args = parser.parse_args()

    pending = set()
    auth = {}
    if args.token is not None:
        auth["token"] = args.token
    if args.name is not None:
        auth["name"] = args.name
    # Recovery state, as the JavaScript client keeps it.
    session = {"pid": args.pid, "offset": args.offset, "sent_pid": None}

    class Client(socketio.AsyncClient):
        async def _handle_connect(self, namespace, data):
            if isinstance(data, dict) and data.get("pid"):
                session["recovered"] = session["sent_pid"] is not None and data["pid"] == session["sent_pid"]
                session["pid"] = data["pid"]
            await super()._handle_connect(namespace, data)

    sio = Client(reconnection=False)
    install_handlers(sio, args, session, pending)

    transports = [args.transport] if args.transport else ["polling", "websocket"]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + args.duration

    def recovery_auth():
        value = dict(auth)
        session["sent_pid"] = None
        session["recovered"] = False
        if session["pid"] and session["offset"] is not None:
            value["pid"] = session["pid"]
            value["offset"] = session["offset"]
            session["sent_pid"] = session["pid"]
        return value

    try:
        await connect(sio, args.url, recovery_auth() if args.recover or args.pid else auth, transports, args.connect_timeout)
    except (socketio.exceptions.ConnectionError, asyncio.TimeoutError) as error:
        out("REFUSED", json.dumps(str(error) or repr(error)))
        await asyncio.sleep(0.2)
        return 3
    if args.recover:
        out("SESSION", session["pid"] or "", "recovered=" + ("true" if session["recovered"] else "false"))
    for payload in args.subscribe:
        answer = await sio.call("subscribe", json.loads(payload), timeout=10)
        out("ACK", "subscribe", json.dumps(answer))
    if args.note:
        answer = await sio.call("note", {"device": args.note[0], "text": args.note[1]}, timeout=10)
        out("ACK", "note", json.dumps(answer))
    if not args.recover:
        await asyncio.sleep(args.duration)
        await sio.disconnect()
        return 0

    urls = itertools.cycle(args.reconnect_url or [args.url])
    dropped = False
    while loop.time() < deadline:
        if sio.connected:
            if args.drop_file and not dropped and os.path.exists(args.drop_file):
                dropped = True
                out("DROPPING")
                await sio.eio.disconnect(abort=True)
            await asyncio.sleep(0.05)
            continue
        if args.resume_file and not os.path.exists(args.resume_file):
            await asyncio.sleep(0.05)
            continue
        sio = Client(reconnection=False)
        install_handlers(sio, args, session, pending)
        url = next(urls)
        started = loop.time()
        try:
            await connect(sio, url, recovery_auth(), transports, args.connect_timeout)
        except Exception as error:
            # Every failure is printed (the test shows these lines when it fails): "Connection
            # error" while no hub listens (or a stopping hub refuses the handshake), "Unexpected
            # connection error" when no CONNECT answer came within --connect-timeout, TimeoutError
            # when the attempt as a whole took longer, and the TypeError python-engineio 4.x
            # raises when the server closes the WebSocket before the OPEN packet (a stopping hub
            # racing the upgrade). The JavaScript client retries too.
            out("CONNECT_FAILED", url, "%.1f" % (loop.time() - started), repr(error))
            try:
                await sio.eio.disconnect(abort=True)
            except Exception:
                pass
            await asyncio.sleep(0.2)
            continue
        out("SESSION", session["pid"] or "", "recovered=" + ("true" if session["recovered"] else "false"),
            "%.1fs" % (loop.time() - started), url)
        if not session["recovered"]:
            for payload in args.subscribe:
                try:
                    answer = await sio.call("subscribe", json.loads(payload), timeout=args.connect_timeout)
                    out("ACK", "subscribe", json.dumps(answer))
                except Exception as error:
                    out("ACK_ERROR", "subscribe", repr(error))
    if sio.connected:
        await sio.disconnect()
    return 0


async def connect(sio, url, auth, transports, timeout):
    """One connection attempt, bounded as a whole by `timeout` (see --connect-timeout). In a
    full-suite run a reconnect after a hub stopped printed nothing for over 60 s while the next hub
    was up: with the CONNECT answer bounded, it can only have hung in python-engineio's open."""
    await asyncio.wait_for(sio.connect(url, auth=auth, transports=transports, wait_timeout=timeout), timeout)


def install_handlers(sio, args, session, pending):
    @sio.event
    async def connect():
        out("CONNECTED", sio.get_sid() or "")

    @sio.event
    async def connect_error(data):
        out("CONNECT_ERROR", json.dumps(data))

    @sio.event
    async def disconnect(*reason):
        out("DISCONNECTED")

    async def send_ack(alert_id):
        try:
            answer = await sio.call("alert:ack", {"id": alert_id}, timeout=10)
            out("ACK", "alert:ack", json.dumps(answer))
        except Exception as error:  # a timeout must show in the output, not vanish in a task
            out("ACK_ERROR", "alert:ack", repr(error))

    @sio.on("*")
    async def any_event(event, *data):
        payload = data[0] if data else None
        if args.recover and len(data) >= 2 and isinstance(data[-1], str):
            session["offset"] = data[-1]
        out("EVENT", event, json.dumps(payload))
        if args.ack_on_alert and event == "alert" and isinstance(payload, dict) and payload.get("state") == "active":
            # Keep a reference: the event loop holds tasks weakly, an unreferenced one can vanish.
            task = asyncio.ensure_future(send_ack(payload["id"]))
            pending.add(task)
            task.add_done_callback(pending.discard)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
