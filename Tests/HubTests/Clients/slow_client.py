"""A client that subscribes to the whole fleet over a raw WebSocket and then never reads.

Usage: slow_client.py HOST PORT. Prints SUBSCRIBED once the subscribe went out, then sleeps.
The receive buffer is made small so the hub's per-client queue fills quickly.
"""
import base64
import os
import socket
import sys
import time


def frame(text):
    payload = text.encode()
    mask = os.urandom(4)
    header = bytes([0x81])
    n = len(payload)
    if n < 126:
        header += bytes([0x80 | n])
    else:
        header += bytes([0x80 | 126]) + n.to_bytes(2, "big")
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, port))
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    )
    sock.sendall(request.encode())
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(1)
    time.sleep(0.2)
    sock.recv(512)  # the Engine.IO open packet (small)
    sock.sendall(frame("40"))
    time.sleep(0.3)
    sock.recv(512)  # the CONNECT answer
    sock.sendall(frame('420["subscribe",{"devices":["*"]}]'))
    print("SUBSCRIBED", flush=True)
    time.sleep(120)


if __name__ == "__main__":
    main()
