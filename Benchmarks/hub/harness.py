"""Hub end-to-end latency benchmark: MQTT publish -> ingress -> Kafka -> hub -> Socket.IO receipt.

Started by run.sh. Loopback only, one machine (one wall clock): mosquitto, `fluxgate dev-kafka`,
`fluxgate ingress`, `fluxgate hub` (release builds), CLIENTS Socket.IO connections (clients.js,
raw Engine.IO over WebSocket, spread over PROCESSES Node processes), and the paced C publisher
(publish.c): RATE readings/s over DEVICES devices for WARMUP + SECONDS seconds, each payload's
`ts` = wall clock at publish. Connection k subscribes to device k mod DEVICES, every
FLEET_EVERY-th connection to "*" (fleet overview). Receivers record receipt time - ts for every
`reading` during the measured SECONDS (after WARMUP). Reports p50/p99/max, deliveries/s at the
clients, and the hub's emitted-events counters from /metrics over the same interval. With
--windowing, `fluxgate windowing` runs too, with a rule that fires on about 5 % of readings, and
the receivers also report reading-to-alert latency (alert receipt - the causing reading's ts).

Every process started here is stopped by its pid.
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from benchlib import log, free_port, spawn, stop, cpu_seconds, loadavg, started  # noqa: E402
# With --windowing: the publisher's temperature is uniform in 15..35, so about 5 % of readings
# cross 34 (active) and most of the following ones are at or below 30 (cleared).
ALERT_RULES = """windows: [10s, 1m]
rules:
  - name: bench-hot
    devices: "*"
    metric: temperature
    above: 34
    clear: 30
    severity: warning
"""


def wait_for(cond, timeout, step=0.1, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(step)
    raise TimeoutError("timed out waiting for " + what)


def connectable(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def metrics(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def percentile(sorted_values, q):
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fluxgate", required=True)
    ap.add_argument("--publisher", required=True)
    ap.add_argument("--rate", type=int, default=5000)
    ap.add_argument("--devices", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--fleet-every", type=int, default=500, help="every N-th connection subscribes to '*' (0: none)")
    ap.add_argument("--processes", type=int, default=2, help="Node processes the connections are spread over")
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--partitions", type=int, default=1,
                    help="partitions per topic of the dev cluster; its mock scans a partition's record batches "
                         "from the oldest on every fetch, a cost that grows with the square of the batch rate "
                         "per partition (docs/benchmarks.md, Hub); 6 is `fluxgate dev-kafka`'s default")
    ap.add_argument("--fetch-wait-ms", type=int, default=10,
                    help="--kafka-fetch-wait of the hub and windowing (the dev cluster holds an empty fetch this long); 500 = the default")
    ap.add_argument("--windowing", action="store_true",
                    help="also run fluxgate windowing with a rule that fires often; report reading-to-alert latency")
    ap.add_argument("--breakdown", action="store_true",
                    help="also tail the readings topic with kcat (fetch.wait.max.ms as the hub): ingress latency "
                         "(record timestamp - ts) and a plain C consumer's latency (line receipt - ts)")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="fluxgate-hub-bench.")
    log("work directory", work)
    try:
        result = run(args, work)
    finally:
        for p in reversed(started):
            stop(p, grace=10)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result))


def run(args, work):
    # --- mosquitto, dev Kafka, ingress, hub ---
    mport = free_port()
    conf = os.path.join(work, "mosquitto.conf")
    with open(conf, "w") as f:
        f.write("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 100000\n"
                "max_inflight_messages 0\n" % mport)
    spawn(["mosquitto", "-c", conf], stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "mosquitto.log"), "w"))
    wait_for(lambda: connectable(mport), 10, what="mosquitto")
    kafka = spawn([args.fluxgate, "dev-kafka", "--partitions", str(args.partitions), "--log-level", "warning"],
                  stdout=subprocess.PIPE, stderr=open(os.path.join(work, "dev-kafka.log"), "w"), text=True)
    bootstrap = kafka.stdout.readline().strip()
    if not bootstrap:
        raise RuntimeError("dev-kafka printed no bootstrap line")
    iport, hport = free_port(), free_port()
    ingress = spawn([args.fluxgate, "ingress", "--kafka-brokers", bootstrap, "--mqtt-url", "mqtt://127.0.0.1:%d" % mport,
                     "--mqtt-client-id", "bench-hub-ingress", "--share-group", "none", "--http-port", str(iport),
                     "--log-level", "warning"],
                    stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "ingress.log"), "w"))
    hub_env = dict(os.environ, FLUXGATE_KAFKA_FETCH_WAIT="%dms" % args.fetch_wait_ms)
    hub = spawn([args.fluxgate, "hub", "--kafka-brokers", bootstrap, "--http-port", str(hport), "--instance-id", "bench-hub",
                 "--log-level", "warning"],
                cwd=os.path.dirname(os.path.dirname(HERE)), env=hub_env,
                stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "hub.log"), "w"))
    if args.windowing:
        rules = os.path.join(work, "rules.yaml")
        with open(rules, "w") as f:
            f.write(ALERT_RULES)
        wport = free_port()
        windowing = spawn([args.fluxgate, "windowing", "--kafka-brokers", bootstrap, "--rules", rules, "--http-port", str(wport),
                           "--log-level", "warning"], env=hub_env,
                          stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "windowing.log"), "w"))
        wait_for(lambda: _ready(wport), 60, 0.2, what="windowing /readyz")
    wait_for(lambda: _ready(hport), 60, 0.2, what="hub /readyz")
    wait_for(lambda: _ready(iport), 60, 0.2, what="ingress /readyz")
    log("mosquitto 127.0.0.1:%d, dev Kafka %s, ingress :%d, hub :%d ready" % (mport, bootstrap, iport, hport))

    # --- clients ---
    env = dict(os.environ, NODE_PATH="/usr/share/nodejs")
    per = [args.clients // args.processes + (1 if i < args.clients % args.processes else 0) for i in range(args.processes)]
    loads, first = [], 0
    for i, n in enumerate(per):
        loads.append(spawn(["node", os.path.join(HERE, "clients.js"), "http://127.0.0.1:%d" % hport, str(first), str(n),
                            str(args.devices), str(args.fleet_every)],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=open(os.path.join(work, "clients-%d.log" % i), "w"),
                           text=True, env=env))
        first += n
    for p in loads:
        line = p.stdout.readline().strip()
        if line != "ready":
            raise RuntimeError("a load process did not get ready (see %s)" % work)
    fleet = sum(1 for k in range(args.clients) if args.fleet_every > 0 and k % args.fleet_every == args.fleet_every - 1)
    log("%d connections subscribed (%d to '*'), in %d processes" % (args.clients, fleet, args.processes))

    # --- publish: warm-up, then the measured interval ---
    pub = spawn([args.publisher, "127.0.0.1", str(mport), str(args.rate), str(args.warmup + args.seconds), str(args.devices)],
                stdout=subprocess.PIPE, stderr=open(os.path.join(work, "publisher.log"), "w"), text=True)
    time.sleep(args.warmup)
    m0, t0 = metrics(hport), time.time()
    stages = [("hub", hub), ("ingress", ingress), ("dev-kafka", kafka), ("publisher", pub)] + \
        [("clients-%d" % i, p) for i, p in enumerate(loads)] + ([("windowing", windowing)] if args.windowing else [])
    cpu0 = {name: cpu_seconds(p.pid) for name, p in stages}
    load0 = loadavg()
    tail = None
    if args.breakdown:
        tail = Tail(["kcat", "-C", "-b", bootstrap, "-t", "fluxgate.readings", "-o", "end", "-u", "-q", "-f", "%T\t%h\t%s\n",
                     "-X", "fetch.wait.max.ms=%d" % args.fetch_wait_ms])
    for p in loads:
        p.stdin.write("measure\n")
        p.stdin.flush()
    time.sleep(args.seconds)
    for p in loads:
        p.stdin.write("report\n")
        p.stdin.flush()
    m1, t1 = metrics(hport), time.time()
    cpu1 = {name: cpu_seconds(p.pid) for name, p in stages}
    load1 = loadavg()
    reports = [json.loads(p.stdout.readline()) for p in loads]
    breakdown = tail.finish() if tail else None
    out, _ = pub.communicate(timeout=120)
    latencies = sorted(x for r in reports for x in r["latencies_ms"])
    alerts = sorted(x for r in reports for x in r["alert_latencies_ms"])
    deliveries = sum(r["deliveries"] for r in reports)
    others = sum(r["other_events"] for r in reports)
    seconds = max(r["seconds"] for r in reports)
    emitted = {k.split('event="')[1].split('"')[0]: round((m1.get(k, 0) - m0.get(k, 0)) / (t1 - t0))
               for k in m1 if k.startswith("fluxgate_hub_events_emitted_total")}
    dropped = sum(m1[k] - m0.get(k, 0) for k in m1 if k.startswith("fluxgate_hub_events_dropped_total"))
    return {
        "fetch_wait_ms": args.fetch_wait_ms, "partitions": args.partitions,
        "rate": args.rate, "devices": args.devices, "clients": args.clients, "fleet_clients": fleet,
        "seconds": round(seconds, 1), "publisher": out.strip(),
        "latency_ms": {"p50": percentile(latencies, 0.50), "p99": percentile(latencies, 0.99),
                       "p999": percentile(latencies, 0.999), "max": latencies[-1] if latencies else None,
                       "samples": len(latencies)},
        "alert_latency_ms": {"p50": percentile(alerts, 0.50), "p99": percentile(alerts, 0.99), "max": alerts[-1] if alerts else None,
                             "samples": len(alerts)} if args.windowing else None,
        "breakdown_ms": breakdown,
        "reading_deliveries_per_s": round(deliveries / seconds),
        "all_deliveries_per_s": round((deliveries + others) / seconds),
        "hub_emitted_per_s": emitted, "hub_dropped": dropped,
        "hub_consumer_lag_at_end": m1.get("fluxgate_hub_kafka_consumer_lag"),
        "cpu_share": {k: round((cpu1[k] - cpu0[k]) / (t1 - t0), 2) for k in cpu0},
        "load_before": load0, "load_after": load1,
    }


class Tail:
    """kcat reading the readings topic; per record: the ingress's `fluxgate-received-at` header - ts
    (mosquitto and the MQTT client's reading), record timestamp - ts (up to the ingress handing it
    to librdkafka) and line receipt here - ts (a plain C consumer's end-to-end latency)."""

    def __init__(self, args):
        self.p = spawn(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)
        self.received, self.ingress, self.consumer = [], [], []
        self.thread = threading.Thread(target=self.read, daemon=True)
        self.thread.start()

    def read(self):
        for line in self.p.stdout:
            now = time.time() * 1000
            try:
                t, headers, value = line.split("\t", 2)
                ts = json.loads(value)["ts"]
                received = dict(h.split("=", 1) for h in headers.split(",") if "=" in h).get("fluxgate-received-at")
            except ValueError:
                continue
            if received is not None:
                self.received.append(int(received) - ts)
            self.ingress.append(int(t) - ts)
            self.consumer.append(now - ts)

    def finish(self):
        stop(self.p)
        self.thread.join(5)
        out = {}
        for name, values in (("mqtt_read", self.received), ("ingress", self.ingress), ("kcat_consumer", self.consumer)):
            values.sort()
            out[name] = {"p50": percentile(values, 0.5), "p99": percentile(values, 0.99), "samples": len(values)}
        return out


def _ready(port):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/readyz" % port, timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


if __name__ == "__main__":
    main()
