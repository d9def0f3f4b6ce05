// Unit tests of the alert book's merge rules (docs/hub-api.md, `alert`).
import { test } from "node:test";
import assert from "node:assert/strict";
import { AlertBook } from "../js/alerts-model.js";

const alert = (id, state, ts, extra = {}) => ({ id, device: "d1", rule: "r", severity: "warning", state, ts, ...extra });

test("states only move forward, whatever the arrival order", () => {
  const b = new AlertBook();
  assert.ok(b.apply(alert("a", "cleared", 30)));
  assert.ok(!b.apply(alert("a", "active", 10)));
  assert.ok(!b.apply(alert("a", "acknowledged", 20)));
  assert.equal(b.byId.get("a").state, "cleared");
});

test("a cleared transition wins even with an older ts (acknowledged on the hub clock, cleared on a late device clock)", () => {
  const b = new AlertBook();
  b.apply(alert("a", "active", 1000));
  assert.ok(b.apply(alert("a", "acknowledged", 9000)));
  assert.ok(b.apply(alert("a", "cleared", 5000)));
  assert.equal(b.byId.get("a").state, "cleared");
});

test("within one state the greatest ts wins", () => {
  const b = new AlertBook();
  b.apply(alert("a", "active", 10, { value: 1 }));
  assert.ok(b.apply(alert("a", "active", 20, { value: 2 })));
  assert.ok(!b.apply(alert("a", "active", 15, { value: 3 })));
  assert.equal(b.byId.get("a").value, 2);
});

test("a duplicate does not count as a change", () => {
  const b = new AlertBook();
  assert.ok(b.apply(alert("a", "active", 10)));
  const v = b.version;
  assert.ok(!b.apply(alert("a", "active", 10)));
  assert.equal(b.version, v);
});

test("who acknowledged survives the clear", () => {
  const b = new AlertBook();
  b.apply(alert("a", "acknowledged", 10, { ackedBy: "alice" }));
  b.apply(alert("a", "cleared", 20));
  assert.equal(b.byId.get("a").ackedBy, "alice");
});

test("open counts per device and ordering by severity then time", () => {
  const b = new AlertBook();
  b.apply(alert("a", "active", 10, { severity: "info" }));
  b.apply(alert("b", "acknowledged", 5, { severity: "critical" }));
  b.apply(alert("c", "cleared", 50));
  b.apply(alert("d", "active", 20, { device: "d2" }));
  assert.deepEqual([...b.openCounts()].sort(), [["d1", 2], ["d2", 1]]);
  assert.deepEqual(b.list(["active", "acknowledged"]).map((a) => a.id), ["b", "d", "a"]);
  assert.deepEqual(b.list(["active"], "d1").map((a) => a.id), ["a"]);
});

test("replace swaps one device's alerts (history) and leaves the others", () => {
  const b = new AlertBook();
  b.apply(alert("a", "active", 10));
  b.apply(alert("x", "active", 10, { device: "d2" }));
  b.replace([alert("b", "active", 30)], "d1");
  assert.deepEqual([...b.byId.keys()].sort(), ["b", "x"]);
  b.replace([]);
  assert.equal(b.byId.size, 0);
});

test("cleared alerts are bounded", () => {
  const b = new AlertBook();
  for (let i = 0; i < 700; i++) b.apply(alert(`c${i}`, "cleared", i));
  b.apply(alert("open", "active", 1));
  assert.equal(b.list(["cleared"]).length, 500);
  assert.equal(b.list(["cleared"])[0].id, "c699");
  assert.ok(b.byId.has("open"));
});
