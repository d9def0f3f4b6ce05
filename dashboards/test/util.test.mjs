// Unit tests of the formatting helpers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { fmtValue, fmtAgo } from "../js/util.js";

test("fmtValue: about four significant digits, a dash for no value", () => {
  assert.equal(fmtValue(21.4321), "21.43");
  assert.equal(fmtValue(-19.4), "-19.40");
  assert.equal(fmtValue(865.66), "865.7");
  assert.equal(fmtValue(12345.6), "12346");
  assert.equal(fmtValue(0.4041), "0.404");
  assert.equal(fmtValue(0), "0");
  assert.equal(fmtValue(1234567), "1.23e+6");
  assert.equal(fmtValue(null), "–");
  assert.equal(fmtValue(NaN), "–");
});

test("fmtAgo: seconds, minutes, hours, days; never negative", () => {
  assert.equal(fmtAgo(1000, 4000), "3 s ago");
  assert.equal(fmtAgo(0, 125000), "2 min ago");
  assert.equal(fmtAgo(0, 7300000), "2 h ago");
  assert.equal(fmtAgo(0, 3 * 86400000), "3 d ago");
  assert.equal(fmtAgo(5000, 1000), "0 s ago");
  assert.equal(fmtAgo(null), "never");
});
