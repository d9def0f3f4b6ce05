"""Process and machine helpers shared by the benchmark harnesses (ingress, windowing, hub).

Import with `sys.path.insert(0, <Benchmarks folder>)`; no third-party packages, so it works
from any of the harnesses' Python environments."""
import os
import signal
import socket
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")
started = []  # Popen objects started through spawn(), for the harnesses' clean-up


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(args, **kw):
    p = subprocess.Popen(args, **kw)
    started.append(p)
    return p


def stop(p, grace=20):
    """SIGTERM, then SIGKILL after `grace` seconds; waits for the exit."""
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(grace)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def cpu_seconds(pid):
    """utime + stime of `pid` in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])
