"""The peer of the Socket.IO benchmark: python-socketio AsyncServer on aiohttp, same contract as
Sources/sio-bench-server: `join` (room; ack "joined"), `blast` (count, payload -> `tick` (i,
payload) count times to room "bench"; ack "done").  Usage: pyserver.py PORT"""
import sys

import socketio
from aiohttp import web

sio = socketio.AsyncServer(async_mode="aiohttp", max_http_buffer_size=1_000_000)
app = web.Application()
sio.attach(app)


@sio.on("join")
async def join(sid, room="bench"):
    await sio.enter_room(sid, room)
    return "joined"


@sio.on("blast")
async def blast(sid, count, payload=None):
    for index in range(int(count)):
        await sio.emit("tick", (index, payload), room="bench")
    return "done"


web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
