"""The quixstreams peer of the windowing benchmark (started by harness.py, pinned to one core).

Reads the readings topic from the beginning (its own consumer group), event time from the
record's `ts` (as Fluxgate does), and computes per device (the Kafka key) two tumbling windows,
10 s and 1 min, grace 2 s (Fluxgate's allowed lateness), closing per key (Fluxgate's
watermark is per device). For every metric of a window: count, min, max, mean, population
standard deviation (Welford, numerically stable), last (by ts) and p50/p95/p99 from a DDSketch
with the same relative accuracy (1 %) as Fluxgate's QuantileSketch. Closed windows
(`.final()`) are expanded into one record per device, window and metric and produced to the
output topic, as Fluxgate produces to fluxgate.stats.

Configuration (see docs/benchmarks.md): the dev cluster does not answer DescribeConfigs, so
TopicAdmin.inspect_topics is replaced by a metadata-only version; `use_changelog_topics=False` and
`auto_create_topics=False` (the dev cluster has no CreateTopics API; the output topic is
auto-created by the harness beforehand); window state in quixstreams' standard RocksDB store in a
fresh temporary state directory; processing guarantee at-least-once (the default).

Prints one JSON line when it has consumed --expect records: wall time from the first to the
last record, CPU seconds (user + system, all threads) at that moment, windows emitted so far.
"""

import argparse
import json
import math
import os
import sys
import time
from datetime import timedelta

from quixstreams import Application
from quixstreams.dataframe.windows.aggregations import Aggregator
from quixstreams.models.topics.admin import TopicAdmin
from quixstreams.models.topics.topic import TopicConfig

ALPHA = 0.01
GAMMA = (1 + ALPHA) / (1 - ALPHA)
LOG_GAMMA = math.log(GAMMA)
MIN_INDEXABLE = 1e-9


def sketch_index(magnitude):
    return math.ceil(math.log(magnitude) / LOG_GAMMA)


def sketch_value(index):
    return 2 * GAMMA**index / (GAMMA + 1)


def quantile(pos, neg, zeros, count, lo, hi, q):
    """The DDSketch estimate of rank floor(q*(n-1)), clamped to [lo, hi] (as Fluxgate)."""
    rank = int(q * (count - 1))
    seen = 0
    for k in sorted((int(k) for k in neg), reverse=True):
        seen += neg[str(k)]
        if seen > rank:
            return min(max(-sketch_value(k), lo), hi)
    seen += zeros
    if seen > rank:
        return min(max(0.0, lo), hi)
    for k in sorted(int(k) for k in pos):
        seen += pos[str(k)]
        if seen > rank:
            return min(max(sketch_value(k), lo), hi)
    return hi


def inspect_topics_from_metadata(self, topic_names, timeout=30):
    """TopicAdmin.inspect_topics without DescribeConfigs, which the dev cluster (librdkafka's mock)
    does not answer: partitions and replicas from the metadata, no extra topic configuration."""
    cluster_topics = self.list_topics(timeout=timeout)
    return {
        name: TopicConfig(
            num_partitions=len(cluster_topics[name].partitions),
            replication_factor=len(cluster_topics[name].partitions[0].replicas),
            extra_config={"retention.ms": "-1", "retention.bytes": "-1"},  # the mock keeps all
        ) if name in cluster_topics else None
        for name in topic_names
    }


TopicAdmin.inspect_topics = inspect_topics_from_metadata


class ReadingStats(Aggregator):
    """All metrics of a reading: per metric [count, mean, m2, min, max, last, last_ts, pos, neg, zeros]."""

    def initialize(self):
        return {}

    def agg(self, old, new, timestamp):
        for name, x in new["metrics"].items():
            s = old.get(name)
            if s is None:
                s = old[name] = [0, 0.0, 0.0, x, x, x, timestamp, {}, {}, 0]
            n = s[0] + 1
            delta = x - s[1]
            mean = s[1] + delta / n
            s[0], s[1], s[2] = n, mean, s[2] + delta * (x - mean)
            if x < s[3]:
                s[3] = x
            if x > s[4]:
                s[4] = x
            if timestamp >= s[6]:
                s[5], s[6] = x, timestamp
            if abs(x) < MIN_INDEXABLE:
                s[9] += 1
            else:
                buckets = s[7] if x > 0 else s[8]
                k = str(sketch_index(abs(x)))
                buckets[k] = buckets.get(k, 0) + 1
        return old

    def result(self, value):
        out = {}
        for name, s in value.items():
            n, mean, m2, lo, hi, last, _, pos, neg, zeros = s
            out[name] = {
                "count": n, "min": lo, "max": hi, "mean": mean, "stddev": math.sqrt(max(m2, 0.0) / n), "last": last,
                "p50": quantile(pos, neg, zeros, n, lo, hi, 0.5),
                "p95": quantile(pos, neg, zeros, n, lo, hi, 0.95),
                "p99": quantile(pos, neg, zeros, n, lo, hi, 0.99),
            }
        return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--output", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--state-dir", required=True)
    ap.add_argument("--expect", type=int, required=True)
    ap.add_argument("--fetch-wait-ms", type=int, help="consumer fetch.wait.max.ms (librdkafka default 500)")
    args = ap.parse_args()

    app = Application(
        broker_address=args.bootstrap,
        consumer_group=args.group,
        auto_offset_reset="earliest",
        state_dir=args.state_dir,
        use_changelog_topics=False,
        auto_create_topics=False,
        loglevel="WARNING",
        consumer_extra_config={"fetch.wait.max.ms": args.fetch_wait_ms} if args.fetch_wait_ms else None,
    )
    readings = app.topic(
        args.topic, value_deserializer="json", key_deserializer="str",
        timestamp_extractor=lambda value, headers, timestamp, kind: value["ts"],
    )
    output = app.topic(args.output, value_serializer="json", key_serializer="str")

    progress = {"n": 0, "first": None, "windows": 0, "reported": False}

    def consumed(value):
        n = progress["n"] = progress["n"] + 1
        if n == 1:
            progress["first"] = time.perf_counter()
        if n == args.expect and not progress["reported"]:
            progress["reported"] = True
            elapsed = time.perf_counter() - progress["first"]
            t = os.times()
            print(json.dumps({
                "records": n, "seconds": round(elapsed, 3), "events_per_s": round(n / elapsed),
                "cpu_s": round(t.user + t.system, 2), "windows_emitted": progress["windows"],
            }), flush=True)

    def emitted(rows):
        progress["windows"] += len(rows)

    sdf = app.dataframe(readings)
    sdf = sdf.update(consumed)
    for size, name in ((10, "10s"), (60, "1m")):
        window = sdf.tumbling_window(timedelta(seconds=size), grace_ms=2000, name="stats-" + name)
        closed = window.agg(stats=ReadingStats()).final(closing_strategy="key")
        rows = closed.apply(lambda w, key, ts, headers, name=name: [
            {"device": key, "metric": metric, "window": name, "start": w["start"], "end": w["end"], **stats}
            for metric, stats in w["stats"].items()
        ], metadata=True)
        rows = rows.update(emitted)
        rows.apply(lambda r: r, expand=True).to_topic(output)
    app.run()


if __name__ == "__main__":
    sys.exit(main())
