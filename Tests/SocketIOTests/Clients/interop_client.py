"""python-socketio AsyncClient against the interop test server (Tests/SocketIOTests/InteropTests.swift).

Usage: interop_client.py URL --transport websocket|polling|upgrade

Prints one JSON object per line, flushed at once: {"check": NAME, "ok": BOOL, ...} for every
check, then {"done": true, "failed": N}. Exits 0 when every check passed, 1 otherwise, 2 on an
unexpected error. Every wait is bounded.

Server contract (both "/" and "/custom"): emits `auth` with the handshake auth on connect;
`echo` acknowledges with its arguments; `binary` emits `binary-back` with bytes 00 01 02 ff and
the arguments; `join` joins the room named by its argument (ack "joined"); `broadcast` emits
`room-message` with its second argument to the room named by its first (ack "sent"); `ask`
makes the server call `question` with an ack and then emit `answer-was` with the answer;
`kick` closes the client's whole connection from the server side.
"""
import argparse
import asyncio
import json
import sys
import traceback

import socketio

TIMEOUT = 10
AUTH = {"token": "s3cret", "n": 1, "nested": {"list": [1, "two", None, True]}}
failed = 0


def out(obj):
    sys.stdout.write(json.dumps(obj, default=lambda o: o.hex() if isinstance(o, bytes) else repr(o)) + "\n")
    sys.stdout.flush()


def check(name, ok, **detail):
    global failed
    if not ok:
        failed += 1
    out({"check": name, "ok": bool(ok), **detail})


class Client:
    """One AsyncClient with a queue per received event and namespace."""

    EVENTS = ["auth", "binary-back", "room-message", "answer-was"]

    def __init__(self, url, transports, name):
        self.url = url
        self.transports = transports
        self.name = name
        self.sio = socketio.AsyncClient(reconnection=False)
        self.queues = {}
        self.disconnects = asyncio.Queue()
        for namespace in ["/", "/custom"]:
            for event in self.EVENTS:
                queue = asyncio.Queue()
                self.queues[(namespace, event)] = queue
                self.sio.on(event, self._putter(queue), namespace=namespace)
            self.sio.on("question", self._answer, namespace=namespace)
            self.sio.on("disconnect", self._disconnected(namespace), namespace=namespace)

    @staticmethod
    def _putter(queue):
        async def handler(*args):
            await queue.put(list(args))
        return handler

    def _disconnected(self, namespace):
        async def handler(*args):
            await self.disconnects.put((namespace, [str(a) for a in args]))
        return handler

    async def _answer(self, *args):
        return {"answer": 42, "question": list(args)}

    async def connect(self):
        await self.sio.connect(
            self.url, auth=AUTH, transports=self.transports, namespaces=["/", "/custom"], wait_timeout=TIMEOUT
        )

    async def next(self, event, namespace="/", timeout=TIMEOUT):
        return await asyncio.wait_for(self.queues[(namespace, event)].get(), timeout)

    async def nothing(self, event, namespace="/", wait=0.5):
        try:
            value = await asyncio.wait_for(self.queues[(namespace, event)].get(), wait)
            return value
        except asyncio.TimeoutError:
            return None


def as_list(answer):
    return list(answer) if isinstance(answer, tuple) else [answer]


async def scenario(url, transport):
    transports = {"websocket": ["websocket"], "polling": ["polling"], "upgrade": ["polling", "websocket"]}[transport]
    a = Client(url, transports, "a")
    b = Client(url, transports, "b")
    try:
        await steps(a, b, transport, transports)
    finally:
        for client in (a, b):
            if client.sio.connected:
                await asyncio.wait_for(client.sio.disconnect(), TIMEOUT)


async def steps(a, b, transport, transports):
    await a.connect()
    sid = a.sio.get_sid("/")
    check("connect", bool(sid) and a.sio.connected, sid=sid, namespaces=sorted(a.sio.namespaces))

    # Transport actually used.
    if transport == "upgrade":
        deadline = asyncio.get_running_loop().time() + TIMEOUT
        while a.sio.transport() != "websocket" and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
    check("transport", a.sio.transport() == transports[-1], expected=transports[-1], actual=a.sio.transport())

    # Auth echo on both namespaces.
    for namespace in ["/", "/custom"]:
        got = await a.next("auth", namespace)
        check("auth " + namespace, got == [AUTH], got=got)

    # Client -> server with ack, both namespaces, several arguments.
    for namespace in ["/", "/custom"]:
        payload = {"a": 1, "b": [True, None, 2.5], "s": "h\u00e9llo \u2603 \"q\""}
        answer = await a.sio.call("echo", (payload, "text", 7), namespace=namespace, timeout=TIMEOUT)
        check("ack client->server " + namespace, as_list(answer) == [payload, "text", 7], got=answer)

    # Binary both ways: bytes in an ack, bytes nested in an object, bytes from the server.
    blob = bytes(range(256)) * 4
    answer = await a.sio.call("echo", (blob, {"inner": b"\x00\xff", "k": "v"}), namespace="/custom", timeout=TIMEOUT)
    answer = as_list(answer)
    check(
        "binary ack",
        len(answer) == 2 and answer[0] == blob and answer[1] == {"inner": b"\x00\xff", "k": "v"},
        got=[type(x).__name__ for x in answer],
    )
    await a.sio.emit("binary", {"tag": "x"}, namespace="/")
    got = await a.next("binary-back")
    check("binary from server", got == [b"\x00\x01\x02\xff", {"tag": "x"}], got=got)

    # Server -> client with ack: the server calls `question`, then reports the answer it got.
    await a.sio.call("ask", "go", timeout=TIMEOUT)
    got = await a.next("answer-was")
    check("ack server->client", got == [{"answer": 42, "question": ["what is 6*7?"]}], got=got)

    # Rooms: a joins r1 on "/", b (not in r1) triggers the broadcast; b joins r1 on /custom only.
    await b.connect()
    joined = await a.sio.call("join", "r1", timeout=TIMEOUT)
    check("join", joined == "joined", got=joined)
    await b.sio.call("join", "r1", namespace="/custom", timeout=TIMEOUT)
    sent = await b.sio.call("broadcast", ("r1", {"hello": "room"}), timeout=TIMEOUT)
    got_a = await a.next("room-message")
    got_b = await b.nothing("room-message")
    check("room broadcast", sent == "sent" and got_a == [{"hello": "room"}] and got_b is None, a=got_a, b=got_b)
    await a.sio.call("broadcast", ("r1", "custom-only"), namespace="/custom", timeout=TIMEOUT)
    got_b = await b.next("room-message", "/custom")
    got_a = await a.nothing("room-message", "/custom")
    check("room broadcast per namespace", got_b == ["custom-only"] and got_a is None, a=got_a, b=got_b)
    await b.sio.disconnect()

    # Server-side disconnect, then reconnect: new sid, fresh rooms, everything works again.
    await a.sio.emit("kick")
    # The server closes the whole session (python-socketio's disconnect() hangs over polling
    # when only one namespace was dropped, with the reference server too).
    dropped = {}
    while len(dropped) < 2:
        namespace, reason = await asyncio.wait_for(a.disconnects.get(), TIMEOUT)
        dropped[namespace] = reason
    deadline = asyncio.get_running_loop().time() + TIMEOUT
    while a.sio.connected and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
    check("server disconnect", sorted(dropped) == ["/", "/custom"] and not a.sio.connected, reasons=dropped)
    for namespace in ["/", "/custom"]:
        while not a.queues[(namespace, "auth")].empty():
            a.queues[(namespace, "auth")].get_nowait()
    await a.connect()
    new_sid = a.sio.get_sid("/")
    got = await a.next("auth")
    answer = await a.sio.call("echo", "again", timeout=TIMEOUT)
    check("reconnect", bool(new_sid) and new_sid != sid and got == [AUTH] and answer == "again", sid=new_sid)
    await b.connect()
    await b.sio.call("broadcast", ("r1", "after-reconnect"), timeout=TIMEOUT)
    got_a = await a.nothing("room-message", wait=0.5)
    check("rooms reset after reconnect", got_a is None, a=got_a)

    # Client-side disconnect.
    await b.sio.disconnect()
    await a.sio.disconnect()
    namespace, reason = await asyncio.wait_for(a.disconnects.get(), TIMEOUT)
    check("client disconnect", not a.sio.connected, reason=reason)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--transport", choices=["websocket", "polling", "upgrade"], required=True)
    args = parser.parse_args()
    try:
        await asyncio.wait_for(scenario(args.url, args.transport), 60)
    except Exception as error:  # report and fail, never hang
        out({"error": f"{type(error).__name__}: {error}", "at": traceback.format_exc().splitlines()[-6:]})
        out({"done": True, "failed": failed + 1})
        return 2
    out({"done": True, "failed": failed})
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
