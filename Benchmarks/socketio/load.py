"""Socket.IO load client for the benchmark: raw Engine.IO v4 / Socket.IO v5 over aiohttp
websockets (no client library overhead), the same for both servers.

  load.py URL --pid PID [--idle M] [--clients N] [--rounds R] [--per-round K] [--payload-bytes B]

1. Memory: RSS of PID (from /proc) before and after M idle connections (each connected to "/"),
   settled; reports bytes per idle connection; closes them.
2. Broadcast: N connections join room "bench"; R times, one of them asks for K broadcasts of a
   B-byte payload and every connection waits for all K; reports deliveries/s = N*K*R / time.
Prints one JSON line with the figures."""
import argparse
import asyncio
import json
import time

import aiohttp


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


class Connection:
    def __init__(self, session, url):
        self.session = session
        self.url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        self.ticks = 0
        self.target = 0
        self.reached = asyncio.Event()
        self.acks = {}
        self.next_ack = 0

    async def open(self):
        self.ws = await self.session.ws_connect(self.url, max_msg_size=0, autoping=True)
        opened = await self.ws.receive_str()
        assert opened.startswith("0{"), opened
        await self.ws.send_str("40")
        connected = await self.ws.receive_str()
        assert connected.startswith("40"), connected
        self.reader = asyncio.ensure_future(self.read())

    async def read(self):
        async for message in self.ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            data = message.data
            if data.startswith('42["tick"'):
                self.ticks += 1
                if self.ticks >= self.target:
                    self.reached.set()
            elif data == "2":
                await self.ws.send_str("3")
            elif data.startswith("43"):
                digits = ""
                for c in data[2:]:
                    if not c.isdigit():
                        break
                    digits += c
                future = self.acks.pop(int(digits), None)
                if future:
                    future.set_result(data)

    async def call(self, event, *args):
        ack = self.next_ack
        self.next_ack += 1
        future = asyncio.get_running_loop().create_future()
        self.acks[ack] = future
        await self.ws.send_str("42" + str(ack) + json.dumps([event, *args]))
        return await asyncio.wait_for(future, 120)

    async def close(self):
        await self.ws.close()
        self.reader.cancel()


async def open_many(session, url, count, batch=100):
    connections = []
    for start in range(0, count, batch):
        group = [Connection(session, url) for _ in range(min(batch, count - start))]
        await asyncio.gather(*(c.open() for c in group))
        connections += group
    return connections


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-round", type=int, default=200)
    parser.add_argument("--payload-bytes", type=int, default=64)
    args = parser.parse_args()
    result = {}
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        # Warm-up: one connection and a tiny blast, so lazily built state is not counted.
        warm = await open_many(session, args.url, 1)
        await warm[0].call("join", "warm")
        await warm[0].call("blast", 1, "x")
        await asyncio.sleep(1)
        before = rss_bytes(args.pid)
        idle = await open_many(session, args.url, args.idle)
        await asyncio.sleep(3)
        after = rss_bytes(args.pid)
        result["idle_connections"] = args.idle
        result["rss_before_mb"] = round(before / 2**20, 1)
        result["rss_idle_mb"] = round(after / 2**20, 1)
        result["bytes_per_idle_connection"] = round((after - before) / args.idle)
        await asyncio.gather(*(c.close() for c in idle + warm))
        await asyncio.sleep(2)

        clients = await open_many(session, args.url, args.clients)
        await asyncio.gather(*(c.call("join", "bench") for c in clients))
        payload = "x" * args.payload_bytes
        started = time.perf_counter()
        for round_index in range(args.rounds):
            for c in clients:
                c.target = (round_index + 1) * args.per_round
                if c.ticks < c.target:
                    c.reached.clear()
            await clients[0].call("blast", args.per_round, payload)
            await asyncio.wait_for(asyncio.gather(*(c.reached.wait() for c in clients)), 300)
        elapsed = time.perf_counter() - started
        deliveries = args.clients * args.per_round * args.rounds
        result["clients"] = args.clients
        result["deliveries"] = deliveries
        result["seconds"] = round(elapsed, 3)
        result["deliveries_per_s"] = round(deliveries / elapsed)
        result["rss_peak_mb"] = round(rss_bytes(args.pid) / 2**20, 1)
        await asyncio.gather(*(c.close() for c in clients))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
