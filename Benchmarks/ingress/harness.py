"""End-to-end ingress benchmark: fluxgate ingress vs a Python bridge vs mosquitto_sub | kcat.

Started by run.sh (which builds the binaries). One mosquitto and one dev Kafka cluster for all
contenders, loopback only; every process started here is stopped by its pid at the end.

Throughput: each contender's persistent session is created (start, subscribed, stop); then N QoS 1
readings are published once, so every session holds the same N queued messages; then each
contender is started in turn and timed until its readings topic holds N more records (sum of
high watermarks over all partitions); its CPU seconds are utime+stime from /proc/<pid>/stat
(both processes for the C pipeline), read the moment the count is reached.

Each contender's run also reports when its first record reached Kafka and the rate from then on
(start-up excluded).

Latency: fluxgate ingress alone, readings published at a steady rate (each payload's ts = the
publisher's wall clock); p50/p99 of the fluxgate_ingress_ack_latency_seconds histogram (per batch,
from the MQTT client reading the batch to Kafka's confirmation of all of it) from the difference
of two /metrics snapshots, and per record, from the records themselves: record timestamp (set
when the ingress hands the record to librdkafka) - ts, fluxgate-received-at (when the MQTT client
read it) - ts, and the difference of the two.

The dev cluster (`fluxgate dev-kafka`) sets TCP_NODELAY on its brokers' sockets itself, as real
Kafka brokers do (since 752679f; earlier runs needed an LD_PRELOAD shim, --kafka-nodelay). Same
cluster for everyone.
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from confluent_kafka import Consumer, TopicPartition

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from benchlib import log, free_port, spawn, stop, cpu_seconds, started  # noqa: E402
C_TAIL = 200  # records that may sit in mosquitto_sub's stdio buffer (4 KiB / ~110 bytes)


class Watermarks:
    def __init__(self, bootstrap):
        self.c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-watch", "enable.auto.commit": False,
                           "log_level": 0})

    def partitions(self, topic):
        md = self.c.list_topics(topic, timeout=10)
        return sorted(md.topics[topic].partitions)

    def highs(self, topic):
        return {p: self.c.get_watermark_offsets(TopicPartition(topic, p), timeout=10, cached=False)[1]
                for p in self.partitions(topic)}

    def total(self, topic):
        return sum(self.c.get_watermark_offsets(TopicPartition(topic, p), timeout=10, cached=False)[1]
                   for p in self.partitions(topic))


def wait_for(cond, timeout, step=0.1, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(step)
    raise TimeoutError("timed out waiting for " + what)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fluxgate", required=True)
    ap.add_argument("--publisher", required=True)
    ap.add_argument("--python", required=True)
    ap.add_argument("--readings", type=int, default=200_000)
    ap.add_argument("--devices", type=int, default=1000)
    ap.add_argument("--publishers", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--rate", type=int, default=5000)
    ap.add_argument("--rate-seconds", type=int, default=20)
    ap.add_argument("--timeout", type=int, default=300, help="per contender run")
    ap.add_argument("--contenders", default="A,B,C")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--ingress-protocol", default="5", choices=["5", "3.1.1"],
                    help="MQTT version of the fluxgate ingress (A); B and C use 3.1.1")
    ap.add_argument("--perf", action="store_true", help="perf record the ingress (A) runs into the work directory (implies --keep)")
    ap.add_argument("--perf-broker", action="store_true",
                    help="perf record mosquitto during every contender's drain into the work directory (implies --keep)")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="fluxgate-ingress-bench.")
    log("work directory", work)
    try:
        run(args, work)
    finally:
        for p in reversed(started):
            stop(p, grace=10)
        if not args.keep and not args.perf and not args.perf_broker:
            shutil.rmtree(work, ignore_errors=True)


def run(args, work):
    # --- mosquitto ---
    mport = free_port()
    conf = os.path.join(work, "mosquitto.conf")
    mlog = os.path.join(work, "mosquitto.log")
    with open(conf, "w") as f:
        f.write("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n"
                "max_queued_messages 5000000\nmax_queued_bytes 0\nmax_inflight_messages 0\n"
                "log_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\n"
                "log_type information\nlog_type subscribe\n" % mport)
    broker = spawn(["mosquitto", "-c", conf], stdout=subprocess.DEVNULL, stderr=open(mlog, "w"))
    wait_for(lambda: _connectable(mport), 10, what="mosquitto")

    # --- dev Kafka ---
    kafka = spawn([args.fluxgate, "dev-kafka", "--partitions", "6", "--log-level", "warning"],
                  stdout=subprocess.PIPE, stderr=open(os.path.join(work, "dev-kafka.log"), "w"), text=True)
    bootstrap = kafka.stdout.readline().strip()
    if not bootstrap:
        raise RuntimeError("dev-kafka printed no bootstrap line")
    log("mosquitto 127.0.0.1:%d, dev Kafka %s" % (mport, bootstrap))
    marks = Watermarks(bootstrap)

    contenders = args.contenders.split(",")
    topics = {c: "bench-%s.readings" % c.lower() for c in contenders}
    # Auto-create each readings topic the same way (one marker record), so all three start equal.
    for c in contenders:
        subprocess.run(["kcat", "-P", "-b", bootstrap, "-t", topics[c]], input=b"marker\n", check=True, timeout=60)
        wait_for(lambda: marks.total(topics[c]) >= 1, 30, 0.5, what="topic " + topics[c])
        log("topic %s: %d partitions" % (topics[c], len(marks.partitions(topics[c]))))

    def start(c, http_port=None):
        cid = "bench-" + c.lower()
        if c == "A":
            p = spawn([args.fluxgate, "ingress", "--kafka-brokers", bootstrap, "--mqtt-url", "mqtt://127.0.0.1:%d" % mport,
                       "--mqtt-client-id", cid, "--share-group", "none", "--kafka-topic-prefix", "bench-a.",
                       "--http-port", str(http_port or free_port()), "--log-level", "warning",
                       "--mqtt-protocol", args.ingress_protocol],
                      stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "a.log"), "a"))
            return [p]
        if c == "B":
            p = spawn([args.python, os.path.join(HERE, "bridge.py"), "--mqtt-port", str(mport), "--bootstrap", bootstrap,
                       "--client-id", cid, "--prefix", "bench-b."],
                      stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "b.log"), "a"))
            return [p]
        # C: mosquitto_sub | kcat, through a pipe we own so both pids are known.
        r, w = os.pipe()
        kc = spawn(["kcat", "-P", "-b", bootstrap, "-t", topics["C"]], stdin=r,
                   stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "c-kcat.log"), "a"))
        sub = spawn(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(mport), "-V", "mqttv311", "-c", "-i", cid, "-q", "1",
                     "-t", "devices/+/telemetry", "-F", "%p"], stdout=w,
                    stderr=open(os.path.join(work, "c-sub.log"), "a"))
        os.close(r)
        os.close(w)
        return [sub, kc]  # stop the subscriber first; kcat flushes at EOF

    def subscribed(c, after):
        cid = "bench-" + c.lower()
        with open(mlog, errors="replace") as f:
            f.seek(after)
            return any(cid in line and "devices/+/telemetry" in line for line in f)

    def stop_all(procs):
        for p in procs:
            stop(p)

    # --- sessions: start each contender once, wait for its subscription, stop it ---
    for c in contenders:
        pos = os.path.getsize(mlog)
        procs = start(c)
        wait_for(lambda: subscribed(c, pos), 60, 0.2, what="subscription of " + c)
        stop_all(procs)
        log("session of %s created" % c)

    results = {c: [] for c in contenders}
    for rnd in range(args.rounds):
        # --- pre-queue N readings for every (stopped) session ---
        t0 = time.time()
        per = args.readings // args.publishers
        pubs = [spawn([args.publisher, "127.0.0.1", str(mport), str(per + (args.readings % args.publishers if i == 0 else 0)),
                       str(args.devices), "0", str(rnd * 100 + i + 1)], stderr=subprocess.PIPE, text=True)
                for i in range(args.publishers)]
        for p in pubs:
            _, err = p.communicate(timeout=args.timeout)
            if p.returncode != 0:
                raise RuntimeError("publisher failed: " + err)
        log("round %d: %d readings queued in %.1f s" % (rnd + 1, args.readings, time.time() - t0))
        order = contenders[rnd % len(contenders):] + contenders[:rnd % len(contenders)]
        for c in order:
            base = marks.total(topics[c])
            target = base + args.readings
            broker_cpu0, kafka_cpu0 = cpu_seconds(broker.pid), cpu_seconds(kafka.pid)
            t_start = time.time()
            http = free_port()
            procs = start(c, http_port=http)
            profiler = None
            if args.perf and c == "A":
                profiler = spawn(["perf", "record", "-F", "499", "-g", "-o", os.path.join(work, "perf-a-%d.data" % (rnd + 1)),
                                  "-p", str(procs[0].pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            broker_profiler = None
            if args.perf_broker:
                broker_profiler = spawn(["perf", "record", "-F", "499", "-g",
                                         "-o", os.path.join(work, "perf-broker-%s-%d.data" % (c.lower(), rnd + 1)),
                                         "-p", str(broker.pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            n = base
            deadline = t_start + args.timeout
            # C: mosquitto_sub's stdout is block-buffered, so the last few lines reach kcat only
            # when it exits. Wait for all but a buffer's worth, then stop the subscriber (its CPU
            # read just before) and let kcat deliver the tail.
            first_target = target - C_TAIL if c == "C" else target
            t_first = None
            while time.time() < deadline:
                n = marks.total(topics[c])
                if t_first is None and n > base:
                    t_first = time.time()
                if n >= first_target:
                    break
                if any(p.poll() is not None for p in procs):
                    raise RuntimeError("contender %s exited early" % c)
                time.sleep(0.05)
            cpu = 0.0
            if c == "C" and n < target:
                cpu += cpu_seconds(procs[0].pid)
                stop(procs[0])
                procs = procs[1:]
                while time.time() < deadline:
                    n = marks.total(topics[c])
                    if n >= target:
                        break
                    time.sleep(0.02)
            elapsed = time.time() - t_start
            cpu += sum(cpu_seconds(p.pid) for p in procs)
            batches = ""
            if c == "A":
                text = _metrics(http)
                if text:
                    _, total, count = _histogram(text)
                    batches = "; %d batches, mean %.0f readings and %.1f ms ack latency per batch" % (
                        count, (n - base) / count if count else 0, total / count * 1e3 if count else 0)
            broker_cpu, kafka_cpu = cpu_seconds(broker.pid) - broker_cpu0, cpu_seconds(kafka.pid) - kafka_cpu0
            stop_all(procs)
            for prof in (profiler, broker_profiler):
                if prof:
                    prof.send_signal(signal.SIGINT)
                    prof.wait(60)
            done = n - base
            # From the first record in Kafka to the last: the drain rate without start-up.
            drain = (time.time() if t_first is None else t_first) - t_start
            res = dict(records=done, seconds=elapsed, cpu=cpu, rate=done / elapsed, cpu_per_m=cpu / done * 1e6 if done else 0,
                       startup=drain, sustained=done / (elapsed - drain) if elapsed > drain else float("nan"),
                       broker_cpu=broker_cpu, kafka_cpu=kafka_cpu, complete=done >= args.readings)
            results[c].append(res)
            log("round %d %s: %d records in %.2f s = %.0f/s (first record after %.2f s, then %.0f/s), CPU %.2f s (%.2f s per million); mosquitto %.2f s, dev Kafka %.2f s%s"
                % (rnd + 1, c, done, elapsed, res["rate"], drain, res["sustained"], cpu, res["cpu_per_m"], broker_cpu, kafka_cpu,
                   "" if res["complete"] else "  INCOMPLETE (timeout)") + batches)

    # --- latency of the ingress at a steady rate ---
    latency = None
    if "A" in contenders and args.rate > 0:
        http = free_port()
        pos = os.path.getsize(mlog)
        procs = start("A", http_port=http)
        wait_for(lambda: subscribed("A", pos), 60, 0.2, what="subscription of A")
        wait_for(lambda: _metrics(http) is not None, 30, 0.2, what="/metrics")
        before = _histogram(_metrics(http))
        base = marks.total(topics["A"])
        starts = marks.highs(topics["A"])
        count = args.rate * args.rate_seconds
        t0 = time.time()
        pub = spawn([args.publisher, "127.0.0.1", str(mport), str(count), str(args.devices), str(args.rate), "999"],
                    stderr=subprocess.PIPE, text=True)
        _, err = pub.communicate(timeout=args.rate_seconds * 5 + 60)
        wait_for(lambda: marks.total(topics["A"]) >= base + count, 60, 0.1, what="latency run records")
        took = time.time() - t0
        after = _histogram(_metrics(http))
        stop_all(procs)
        latency = _quantiles(before, after)
        latency["published"] = err.strip()
        latency["count"] = count
        latency["seconds"] = took
        latency["records"] = _record_latencies(bootstrap, topics["A"], starts, marks.highs(topics["A"]),
                                               os.path.join(work, "latency-records.csv"), int(t0 * 1000) - 1000)
        log("latency run: %s; %s" % (err.strip(), latency))

    # --- report ---
    print()
    print("readings per run: %d from %d devices, %d publisher(s); rounds: %d; ingress MQTT %s; "
          "load average at end: %s"
          % (args.readings, args.devices, args.publishers, args.rounds, args.ingress_protocol,
             open("/proc/loadavg").read().split()[:3]))
    print()
    print("| contender | run | readings/s | wall s | first record after s | readings/s after the first | CPU s | CPU s per million | mosquitto CPU s | dev Kafka CPU s |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    names = {"A": "A fluxgate ingress", "B": "B Python bridge", "C": "C mosquitto_sub \\| kcat"}
    for c in contenders:
        for i, r in enumerate(results[c]):
            print("| %s | %d | %.0f%s | %.2f | %.2f | %.0f | %.2f | %.1f | %.2f | %.2f |" % (
                names[c], i + 1, r["rate"], "" if r["complete"] else " (incomplete)", r["seconds"], r["startup"], r["sustained"], r["cpu"],
                r["cpu_per_m"], r["broker_cpu"], r["kafka_cpu"]))
    def med(c, key):
        v = sorted(r[key] for r in results[c])
        return v[len(v) // 2] if v else float("nan")
    print()
    for peer in ("B", "C"):
        if "A" in contenders and peer in contenders:
            print("A/%s: throughput %.2fx, CPU per reading %.2fx (median of rounds)"
                  % (peer, med("A", "rate") / med(peer, "rate"), med("A", "cpu_per_m") / med(peer, "cpu_per_m")))
    if latency:
        print()
        print("ingress ack latency at %d readings/s for %d s (%s): batches %d, p50 %.1f ms, p99 %.1f ms, mean %.1f ms"
              % (args.rate, args.rate_seconds, latency["published"], latency["batches"], latency["p50"] * 1e3,
                 latency["p99"] * 1e3, latency["mean"] * 1e3))
        rec = latency["records"]
        print()
        print("per record, %d records, whole milliseconds (ts and the header are truncated to ms):" % rec["records"])
        print()
        print("| interval | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for key, label in (("publish_produce", "publish -> produced (record timestamp - ts)"),
                           ("publish_receive", "publish -> ingress receipt (fluxgate-received-at - ts)"),
                           ("receive_produce", "ingress receipt -> produced (record timestamp - fluxgate-received-at)")):
            q = rec[key]
            print("| %s | %d | %d | %d | %d | %d |" % (label, q[0.5], q[0.9], q[0.99], q[0.999], q[1.0]))


def _record_latencies(bootstrap, topic, starts, ends, csv_path, since_ms):
    """Reads the records the ingress produced during the latency run (per partition from `starts`
    to `ends`) and returns quantiles (ms) of record timestamp - ts (publish -> handed to the
    producer; the paced publisher puts the wall clock in ts), fluxgate-received-at - ts and record
    timestamp - fluxgate-received-at."""
    import json
    # earliest: if the dev cluster already dropped the first offsets (5 MiB per partition), read
    # what is left; the record count is printed with the figures.
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-latency", "enable.auto.commit": False,
                  "auto.offset.reset": "earliest", "log_level": 0})
    c.assign([TopicPartition(topic, p, starts.get(p, 0)) for p in ends if ends[p] > starts.get(p, 0)])
    want = sum(ends[p] - starts.get(p, 0) for p in ends)
    pp, pr, rp = [], [], []
    rows = []
    deadline = time.time() + 60
    seen = 0
    while seen < want and time.time() < deadline:
        batch = c.consume(1000, timeout=1)
        if not batch and seen:
            break  # nothing more (the first offsets may have been dropped)
        seen += len(batch)
        for m in batch:
            if m.error():
                continue
            try:
                ts = json.loads(m.value())["ts"]
            except (ValueError, KeyError, TypeError):
                continue
            if ts < since_ms:
                continue  # an older (throughput-phase) record: its ts is synthetic
            created = m.timestamp()[1]
            received = int(dict(m.headers() or [])["fluxgate-received-at"])
            pp.append(created - ts)
            pr.append(received - ts)
            rp.append(created - received)
            rows.append((ts, received, created, m.partition()))
    c.close()
    with open(csv_path, "w") as f:  # kept with --keep: ts, fluxgate-received-at, record timestamp, partition
        f.write("ts,received_at,created,partition\n")
        for row in sorted(rows):
            f.write("%d,%d,%d,%d\n" % row)
    def qs(v):
        v = sorted(v) or [0]
        return {q: v[min(len(v) - 1, int(q * len(v)))] for q in (0.5, 0.9, 0.99, 0.999, 1.0)}
    return dict(records=len(pp), publish_produce=qs(pp), publish_receive=qs(pr), receive_produce=qs(rp))


def _connectable(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def _metrics(port):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=2) as r:
            return r.read().decode()
    except OSError:
        return None


def _histogram(text):
    name = "fluxgate_ingress_ack_latency_seconds"
    buckets, total, count = {}, 0.0, 0
    for line in text.splitlines():
        if line.startswith(name + "_bucket"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            buckets[float("inf") if le == "+Inf" else float(le)] = float(line.rsplit(" ", 1)[1])
        elif line.startswith(name + "_sum"):
            total = float(line.rsplit(" ", 1)[1])
        elif line.startswith(name + "_count"):
            count = int(float(line.rsplit(" ", 1)[1]))
    return buckets, total, count


def _quantiles(before, after):
    b0, s0, c0 = before
    b1, s1, c1 = after
    bounds = sorted(b1)
    cum = [(le, b1[le] - b0.get(le, 0)) for le in bounds]
    n = c1 - c0
    def q(p):
        rank = p * n
        prev_le, prev_c = 0.0, 0
        for le, c in cum:
            if c >= rank:
                if le == float("inf"):
                    return prev_le
                return prev_le + (le - prev_le) * ((rank - prev_c) / (c - prev_c) if c > prev_c else 1)
            prev_le, prev_c = le, c
        return float("nan")
    return dict(batches=n, p50=q(0.5), p99=q(0.99), mean=(s1 - s0) / n if n else float("nan"),
                buckets=[(le, c) for le, c in cum])


if __name__ == "__main__":
    main()
