// Unit tests of the bounded chart buffers (run: node --test dashboards/test/).
import { test } from "node:test";
import assert from "node:assert/strict";
import { Series, StatsStore, windowMs, hopMs } from "../js/series.js";

const points = (s) => s.t.slice(s.head).map((t, i) => [t, s.v[s.head + i]]);

test("Series keeps points in time order and drops those older than the span", () => {
  const s = new Series(1000, 100);
  for (let t = 0; t <= 3000; t += 100) s.push(t, t / 100);
  assert.equal(s.lastT, 3000);
  assert.equal(s.lastV, 30);
  assert.deepEqual(points(s)[0], [2000, 20]);
  assert.equal(s.length, 11);
});

test("Series is bounded by count whatever the rate", () => {
  const s = new Series(1e9, 50);
  for (let t = 0; t < 5000; t++) s.push(t, t);
  assert.equal(s.length, 50);
  assert.equal(points(s)[0][0], 4950);
  assert.ok(s.t.length < 2000, "garbage before head is compacted");
});

test("Series inserts late points in place and replaces a duplicate timestamp", () => {
  const s = new Series(10000, 100);
  s.push(100, 1);
  s.push(300, 3);
  s.push(200, 2);
  s.push(300, 33);
  assert.deepEqual(points(s), [[100, 1], [200, 2], [300, 33]]);
  s.push(-20000, 9); // older than the span: ignored
  assert.deepEqual(points(s)[0], [100, 1]);
  assert.equal(s.lowerBound(150), s.head + 1);
});

test("StatsStore keeps the latest version of each window and sorts windows by length", () => {
  const st = new StatsStore(60000);
  st.put({ window: "1m", start: 0, end: 60000, mean: 1 });
  st.put({ window: "10s", start: 10000, end: 20000, mean: 2 });
  st.put({ window: "10s", start: 0, end: 10000, mean: 3 });
  st.put({ window: "10s", start: 10000, end: 20000, mean: 4 }); // updated window
  assert.deepEqual(st.windows(), ["10s", "1m"]);
  assert.deepEqual(st.list("10s").map((r) => r.mean), [3, 4]);
  assert.equal(st.latest("10s").mean, 4);
  assert.equal(st.latest("5m"), null);
});

test("StatsStore drops windows that ended more than the span ago", () => {
  const st = new StatsStore(100000);
  for (let i = 0; i < 200; i++) st.put({ window: "10s", start: i * 10000, end: (i + 1) * 10000 });
  const starts = st.list("10s").map((r) => r.start);
  // Pruned in batches (every 16 windows past 64): bounded, not exact.
  assert.ok(starts.length <= 80, `kept ${starts.length}`);
  assert.equal(starts[starts.length - 1], 1990000);
});

test("windowMs understands the configured window names", () => {
  assert.equal(windowMs("10s"), 10000);
  assert.equal(windowMs("1m"), 60000);
  assert.equal(windowMs("500ms"), 500);
  assert.equal(windowMs("1h"), 3600000);
  assert.equal(windowMs("weird"), Infinity);
  assert.equal(windowMs("5m/1m"), 300000);
  assert.equal(hopMs("5m/1m"), 60000);
  assert.equal(hopMs("10s"), 10000);
});

test("StatsStore.current picks the window describing a time, for tumbling and hopping windows", () => {
  const st = new StatsStore(3600000);
  for (const start of [0, 10000, 20000]) st.put({ window: "10s", start, end: start + 10000 });
  assert.equal(st.current("10s", 15000).start, 10000);
  assert.equal(st.current("10s", 99000).start, 20000); // after the last: the newest ended
  // 5m/1m at t = 6.5 min: open windows start at 2, 3, 4, 5, 6 min; the one closing next (2 min) describes now
  for (const m of [1, 2, 3, 4, 5, 6]) st.put({ window: "5m/1m", start: m * 60000, end: (m + 5) * 60000 });
  assert.equal(st.current("5m/1m", 6.5 * 60000).start, 2 * 60000);
});
