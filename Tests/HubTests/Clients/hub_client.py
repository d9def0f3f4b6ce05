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
"""
import argparse
import asyncio
import json
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
    args = parser.parse_args()

    sio = socketio.AsyncClient(reconnection=False)
    pending = set()
    auth = {}
    if args.token is not None:
        auth["token"] = args.token
    if args.name is not None:
        auth["name"] = args.name

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
        out("EVENT", event, json.dumps(payload))
        if args.ack_on_alert and event == "alert" and isinstance(payload, dict) and payload.get("state") == "active":
            # Keep a reference: the event loop holds tasks weakly, an unreferenced one can vanish.
            task = asyncio.ensure_future(send_ack(payload["id"]))
            pending.add(task)
            task.add_done_callback(pending.discard)

    transports = [args.transport] if args.transport else ["polling", "websocket"]
    try:
        await sio.connect(args.url, auth=auth, transports=transports, wait_timeout=10)
    except socketio.exceptions.ConnectionError as error:
        out("REFUSED", json.dumps(str(error)))
        await asyncio.sleep(0.2)
        return 3
    for payload in args.subscribe:
        answer = await sio.call("subscribe", json.loads(payload), timeout=10)
        out("ACK", "subscribe", json.dumps(answer))
    if args.note:
        answer = await sio.call("note", {"device": args.note[0], "text": args.note[1]}, timeout=10)
        out("ACK", "note", json.dumps(answer))
    await asyncio.sleep(args.duration)
    await sio.disconnect()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
