"""Windowing benchmark: `fluxgate windowing` against a quixstreams app computing the same windows.

Started by run.sh. Per round, a fresh dev Kafka cluster (`fluxgate dev-kafka`, pinned to core 1)
is preloaded with N contract readings (`fluxgate.readings`, key = device id, header
`fluxgate-received-at`), D devices, one reading per device and second of event time; then each
contender in turn (the order alternates per round), pinned to core 0 with `taskset -c 0`, reads
the whole topic from the beginning in its own consumer group:

- fluxgate: `fluxgate windowing --rules <windows [10s, 1m], lateness 2s, no rules>
  --stats-update-interval off`; progress from `fluxgate_windowing_readings_total` on its
  /metrics, polled every 50 ms; CPU from /proc/<pid>/stat when all N are applied.
- quixstreams: quix_app.py (same windows and statistics), which reports itself.

events/s = N / (time of the last record - time of the first record). Every process started here
is stopped by its pid.
"""

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

from confluent_kafka import Consumer, Producer, TopicPartition

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from benchlib import log, free_port, spawn, stop, cpu_seconds, loadavg, started  # noqa: E402
READINGS = "fluxgate.readings"
QUIX_OUTPUT = "quix.stats"
RULES = "windows: [10s, 1m]\nlateness: 2s\nidle_grace: 1s\nrules: []\n"


def metric(port, name):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=2) as r:
            text = r.read().decode()
    except OSError:
        return None
    total = 0.0
    found = False
    for line in text.splitlines():
        if line.startswith(name) and (line[len(name)] in " {"):
            total += float(line.rsplit(" ", 1)[1])
            found = True
    return total if found else 0.0


def watermarks(bootstrap, topic):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-watch", "enable.auto.commit": False, "log_level": 0})
    try:
        md = c.list_topics(topic, timeout=10)
        parts = sorted(md.topics[topic].partitions)
        return [c.get_watermark_offsets(TopicPartition(topic, p), timeout=10, cached=False) for p in parts]
    finally:
        c.close()


def preload(bootstrap, n, devices, compression):
    """N readings, D devices, one per device and second, device order shuffled per second."""
    rng = random.Random(42)
    start = (int(time.time()) - 3600) // 60 * 60 * 1000  # an hour ago, on a minute boundary
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "batch.size": 1_000_000,
                  "compression.type": compression, "queue.buffering.max.messages": 2_000_000,
                  "queue.buffering.max.kbytes": 2_000_000, "log_level": 3})
    names = ["dev-%05d" % d for d in range(devices)]
    base = [(20 + 10 * rng.random(), 40 + 20 * rng.random()) for _ in range(devices)]
    order = list(range(devices))
    sent = 0
    second = 0
    while sent < n:
        rng.shuffle(order)
        for d in order:
            if sent >= n:
                break
            ts = start + second * 1000 + (d * 7919) % 1000
            t0, h0 = base[d]
            value = ('{"device":"%s","ts":%d,"seq":%d,"metrics":{"temperature":%.2f,"humidity":%.1f,'
                     '"pressure":%.2f,"battery":%.3f}}' % (names[d], ts, second, t0 + rng.gauss(0, 1.5),
                                                          h0 + rng.gauss(0, 3), 1013 + rng.gauss(0, 2), 3.7 - second * 1e-4))
            while True:
                try:
                    p.produce(READINGS, key=names[d], value=value, headers=[("fluxgate-received-at", str(ts + 5))])
                    break
                except BufferError:
                    p.poll(0.05)
            sent += 1
        p.poll(0)
        second += 1
    left = p.flush(120)
    if left:
        raise RuntimeError("%d readings not delivered" % left)
    return second


def read_all(bootstrap, topic):
    """Every record of `topic` (values as parsed JSON; non-JSON records skipped)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-check", "enable.auto.commit": False, "log_level": 0,
                  "fetch.wait.max.ms": 10})
    try:
        parts = sorted(c.list_topics(topic, timeout=10).topics[topic].partitions)
        marks = {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10, cached=False) for p in parts}
        ends = {p: hi for p, (lo, hi) in marks.items()}
        # From the low watermark: the dev cluster keeps only the newest 5 MiB of a partition.
        c.assign([TopicPartition(topic, p, lo) for p, (lo, hi) in marks.items() if hi > lo])
        left = {p for p, (lo, hi) in marks.items() if hi > lo}
        out = []
        while left:
            for m in c.consume(10000, timeout=5):
                if m.error():
                    continue
                if m.offset() + 1 >= ends[m.partition()]:
                    left.discard(m.partition())
                try:
                    out.append(json.loads(m.value()))
                except ValueError:
                    pass
        return out
    finally:
        c.close()


def compare(bootstrap):
    """Both contenders' closed windows, matched by (device, metric, window, start). quix.stats is
    auto-created with the dev cluster's default 4 partitions, which keep only their newest 5 MiB
    each, so only the quixstreams windows still held are compared (`common`)."""
    def index(rows):
        return {(r["device"], r["metric"], r["window"], r["start"]): r for r in rows if r.get("final", True)}
    f, q = index(read_all(bootstrap, "fluxgate.stats")), index(read_all(bootstrap, QUIX_OUTPUT))
    common = f.keys() & q.keys()
    worst, differing = {}, 0
    for k in common:
        bad = False
        for field in ("count", "min", "max", "mean", "stddev", "last", "p50", "p95", "p99"):
            a, b = f[k][field], q[k][field]
            err = abs(a - b) / max(1e-9, abs(a), abs(b))
            worst[field] = max(worst.get(field, 0), err)
            bad |= err > 1e-9
        differing += bad
    return {"fluxgate_windows": len(f), "quixstreams_windows": len(q), "common": len(common), "differing": differing,
            "max_relative_difference": {k: float("%.3g" % v) for k, v in worst.items()}}


def run_fluxgate(args, bootstrap, work, rnd):
    port = free_port()
    rules = os.path.join(work, "rules.yaml")
    with open(rules, "w") as f:
        f.write(RULES)
    env = dict(os.environ, FLUXGATE_KAFKA_FETCH_WAIT="%dms" % args.fetch_wait_ms)
    t_start = time.time()
    p = spawn(["taskset", "-c", args.core, args.fluxgate, "windowing", "--kafka-brokers", bootstrap, "--rules", rules,
               "--http-port", str(port), "--stats-update-interval", "off", "--log-level", "warning"],
              stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "fluxgate-%d.log" % rnd), "w"), env=env)
    first = None
    deadline = t_start + args.timeout
    n = 0
    while time.time() < deadline:
        if p.poll() is not None:
            raise RuntimeError("fluxgate windowing exited early (see %s)" % work)
        n = metric(port, "fluxgate_windowing_readings_total") or 0
        now = time.time()
        if n > 0 and first is None:
            first = now
        if n >= args.readings:
            break
        time.sleep(0.05)
    else:
        raise RuntimeError("fluxgate windowing applied only %d readings in %d s" % (n, args.timeout))
    last = time.time()
    cpu = cpu_seconds(p.pid)
    emitted_at_end = sum(h for _, h in watermarks(bootstrap, "fluxgate.stats"))
    # The last window of each device closes by the partition clock (lateness + idle grace).
    time.sleep(5)
    emitted = sum(h for _, h in watermarks(bootstrap, "fluxgate.stats"))
    stop(p)
    seconds = last - first
    return {"records": int(n), "seconds": round(seconds, 3), "events_per_s": round(n / seconds), "cpu_s": round(cpu, 2),
            "windows_emitted": emitted_at_end, "windows_after_5s": emitted, "since_start_s": round(last - t_start, 2)}


def run_quix(args, bootstrap, work, rnd):
    state = tempfile.mkdtemp(prefix="quix-state.", dir=work)
    t_start = time.time()
    p = spawn(["taskset", "-c", args.core, args.python, os.path.join(HERE, "quix_app.py"), "--bootstrap", bootstrap,
               "--topic", READINGS, "--output", QUIX_OUTPUT, "--group", "quix-bench-%d" % rnd, "--state-dir", state,
               "--expect", str(args.readings), "--fetch-wait-ms", str(args.fetch_wait_ms)],
              stdout=subprocess.PIPE, stderr=open(os.path.join(work, "quix-%d.log" % rnd), "w"), text=True)
    line = ""
    try:
        import selectors
        sel = selectors.DefaultSelector()
        sel.register(p.stdout, selectors.EVENT_READ)
        if sel.select(args.timeout):
            line = p.stdout.readline()
    finally:
        if not line:
            stop(p)
            raise RuntimeError("quixstreams reported nothing in %d s (see %s)" % (args.timeout, work))
    result = json.loads(line)
    result["since_start_s"] = round(time.time() - t_start, 2)
    time.sleep(1)
    result["windows_after_1s"] = sum(h for _, h in watermarks(bootstrap, QUIX_OUTPUT)) - 1  # minus the marker
    stop(p)
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fluxgate", required=True)
    ap.add_argument("--python", required=True)
    ap.add_argument("--readings", type=int, default=1_000_000)
    ap.add_argument("--devices", type=int, default=10_000)
    ap.add_argument("--partitions", type=int, default=64,
                    help="of every fluxgate topic; 32 makes fluxgate's partition snapshots exceed 1 MB (docs/benchmarks.md)")
    ap.add_argument("--compression", default="lz4", help="of the preloaded readings (the dev cluster keeps 5 MiB per partition)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--contenders", default="fluxgate,quixstreams")
    ap.add_argument("--core", default="0", help="the core both contenders are pinned to")
    ap.add_argument("--kafka-core", default="1", help="the core the dev cluster and the harness are pinned to")
    ap.add_argument("--timeout", type=int, default=900, help="per contender run")
    ap.add_argument("--fetch-wait-ms", type=int, default=10,
                    help="fetch.wait.max.ms of both contenders (fluxgate: --kafka-fetch-wait, quixstreams: its consumer config)")
    ap.add_argument("--check", action="store_true", help="after each round, compare both contenders' window statistics")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    os.sched_setaffinity(0, {int(args.kafka_core)})
    work = tempfile.mkdtemp(prefix="fluxgate-windowing-bench.")
    log("work directory", work)
    results = {c: [] for c in args.contenders.split(",")}
    try:
        for rnd in range(args.rounds):
            run_round(args, work, rnd, results)
    finally:
        for p in reversed(started):
            stop(p, grace=10)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    for c, rows in results.items():
        for i, r in enumerate(rows):
            print("%-11s round %d: %s" % (c, i + 1, json.dumps(r)))
    if "fluxgate" in results and "quixstreams" in results:
        for i, (f, q) in enumerate(zip(results["fluxgate"], results["quixstreams"])):
            print("round %d: events/s fluxgate %d, quixstreams %d, ratio %.1fx (goal >= 10x); CPU s %.1f vs %.1f (%.1fx less)"
                  % (i + 1, f["events_per_s"], q["events_per_s"], f["events_per_s"] / q["events_per_s"],
                     f["cpu_s"], q["cpu_s"], q["cpu_s"] / f["cpu_s"]))


def run_round(args, work, rnd, results):
    kafka = spawn(["taskset", "-c", args.kafka_core, args.fluxgate, "dev-kafka", "--partitions", str(args.partitions),
                   "--log-level", "warning"],
                  stdout=subprocess.PIPE, stderr=open(os.path.join(work, "dev-kafka-%d.log" % rnd), "w"), text=True)
    bootstrap = kafka.stdout.readline().strip()
    if not bootstrap:
        raise RuntimeError("dev-kafka printed no bootstrap line")
    t0 = time.time()
    seconds = preload(bootstrap, args.readings, args.devices, args.compression)
    marks = watermarks(bootstrap, READINGS)
    if sum(h for _, h in marks) != args.readings or any(lo != 0 for lo, _ in marks):
        raise RuntimeError("the readings topic does not hold all readings: %s (raise --partitions)" % marks)
    # The quixstreams output topic, auto-created (the dev cluster has no CreateTopics API).
    p = Producer({"bootstrap.servers": bootstrap, "log_level": 3})
    p.produce(QUIX_OUTPUT, value=b"marker")
    p.flush(30)
    log("round %d: dev Kafka %s, %d readings (%d devices, %d s of event time, %d partitions) preloaded in %.1f s; load %s"
        % (rnd + 1, bootstrap, args.readings, args.devices, seconds, len(marks), time.time() - t0, loadavg()))
    contenders = list(results)
    order = contenders if rnd % 2 == 0 else contenders[::-1]
    for c in order:
        before = loadavg()
        r = run_fluxgate(args, bootstrap, work, rnd) if c == "fluxgate" else run_quix(args, bootstrap, work, rnd)
        r["load_before"], r["load_after"] = before, loadavg()
        results[c].append(r)
        log("round %d %s: %s" % (rnd + 1, c, json.dumps(r)))
    if args.check and len(contenders) == 2:
        log("round %d check: %s" % (rnd + 1, json.dumps(compare(bootstrap))))
    stop(kafka)


if __name__ == "__main__":
    main()
