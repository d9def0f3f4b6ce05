"""The Python peer of `fluxgate ingress`, written the usual way.

paho-mqtt (persistent session, QoS 1, on_message) -> decode + validate the reading per the
contract (docs/telemetry.md: ts, seq, metrics of 1..64 finite numbers) -> confluent-kafka
Producer (idempotent, acks=all, delivery callback, poll(0) per message, flush at the end).
Valid readings go to <prefix>readings as {"device","ts","seq","metrics"} keyed by device id;
rejected input goes to <prefix>deadletter with an fluxgate-error header.

    python bridge.py --mqtt-port P --bootstrap B --client-id ID --prefix bench-b.

SIGTERM / SIGINT: disconnect, flush, exit. Note: paho sends the PUBACK when on_message returns,
i.e. before Kafka confirmed the record (at-most-once across a crash) -- the usual way.
"""

import argparse
import json
import math
import re
import signal
import sys
from datetime import datetime

import paho.mqtt.client as mqtt
from confluent_kafka import Producer

NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}\Z")
DEVICE = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")
MAX_TS = 253402300799999


class Rejected(Exception):
    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason


def _reject_constant(name):
    raise ValueError("non-finite literal " + name)


def _no_duplicates(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise Rejected("duplicate-key", "duplicate key " + k)
        out[k] = v
    return out


def parse_ts(value):
    if isinstance(value, bool):
        raise Rejected("bad-ts", "ts must be an integer or RFC 3339 string")
    if isinstance(value, int):
        ms = value
    elif isinstance(value, str):
        try:
            ms = int(datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00")).timestamp() * 1000)
        except ValueError:
            raise Rejected("bad-ts", "ts is not RFC 3339")
    else:
        raise Rejected("bad-ts", "ts must be an integer or RFC 3339 string")
    if not 0 <= ms <= MAX_TS:
        raise Rejected("bad-ts", "ts out of range")
    return ms


def decode(device, payload):
    if len(payload) > 65536:
        raise Rejected("too-large", "payload over 64 KiB")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise Rejected("invalid-utf8", "payload is not UTF-8")
    try:
        doc = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_no_duplicates)
    except Rejected:
        raise
    except (ValueError, RecursionError):
        raise Rejected("invalid-json", "payload is not JSON")
    if not isinstance(doc, dict):
        raise Rejected("invalid-json", "top level is not an object")
    if "ts" not in doc:
        raise Rejected("missing-ts", "no ts")
    ts = parse_ts(doc["ts"])
    seq = doc.get("seq")
    if "seq" in doc and (isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq < 2**64):
        raise Rejected("bad-seq", "seq must be an integer 0..2^64-1")
    metrics = doc.get("metrics")
    if metrics is None or metrics == {}:
        raise Rejected("missing-metrics", "no metrics")
    if not isinstance(metrics, dict):
        raise Rejected("bad-metric", "metrics must be an object")
    if len(metrics) > 64:
        raise Rejected("too-many-metrics", "more than 64 metrics")
    for name, value in metrics.items():
        if not NAME.match(name):
            raise Rejected("bad-metric", "bad metric name")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise Rejected("bad-metric", "metric %s is not a finite number" % name)
    return {"device": device, "ts": ts, "seq": seq, "metrics": {k: float(v) for k, v in metrics.items()}}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mqtt-host", default="127.0.0.1")
    ap.add_argument("--mqtt-port", type=int, required=True)
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--client-id", required=True)
    ap.add_argument("--prefix", default="bench-b.")
    args = ap.parse_args()

    readings_topic = args.prefix + "readings"
    deadletter_topic = args.prefix + "deadletter"
    producer = Producer({
        "bootstrap.servers": args.bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "client.id": "python-bridge",
    })
    failures = [0]

    def on_delivery(err, msg):
        if err is not None:
            failures[0] += 1
            print("delivery failed: %s" % err, file=sys.stderr)

    def produce(topic, key, value, headers=None):
        while True:
            try:
                producer.produce(topic, value=value, key=key, headers=headers, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)

    def on_connect(client, userdata, flags, reason_code, properties):
        client.subscribe("devices/+/telemetry", qos=1)

    def on_message(client, userdata, msg):
        parts = msg.topic.split("/")
        if len(parts) != 3 or parts[0] != "devices" or parts[2] != "telemetry" or not DEVICE.match(parts[1]):
            produce(deadletter_topic, None, msg.payload, [("fluxgate-error", b"bad-topic")])
            return
        try:
            reading = decode(parts[1], msg.payload)
        except Rejected as r:
            produce(deadletter_topic, parts[1].encode(), msg.payload, [("fluxgate-error", r.reason.encode())])
            return
        produce(readings_topic, parts[1].encode(), json.dumps(reading, separators=(",", ":")).encode())

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=args.client_id, clean_session=False,
                         protocol=mqtt.MQTTv311)
    client.max_queued_messages_set(0)
    client.on_connect = on_connect
    client.on_message = on_message

    def stop(signum, frame):
        client.disconnect()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    client.connect(args.mqtt_host, args.mqtt_port, keepalive=60)
    print("bridge connected", file=sys.stderr, flush=True)
    client.loop_forever()
    left = producer.flush(30)
    print("bridge stopped; unflushed %d, failed %d" % (left, failures[0]), file=sys.stderr)


if __name__ == "__main__":
    main()
