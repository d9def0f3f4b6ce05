// Device page: one live chart per metric (readings, rolling mean, min..max band), the device's
// alerts with Acknowledge, and its notes thread.
// On open / resync: subscribe [id] -> `history` (fallback GET /api/devices/{id} after 5 s).
// Live: reading, stats, alert, device-status, note. Sends alert:ack and note.

import { Hub, HubError, apiGet, operatorName, setOperatorName } from "./hub.js";
import { AlertBook } from "./alerts-model.js";
import { AlertList } from "./alert-item.js";
import { Series, StatsStore, windowMs } from "./series.js";
import { LineChart } from "./chart.js";
import { el, setText, fmtValue, fmtAgo, fmtDateTime, fmtClock, frameBatcher, param, refreshAgo } from "./util.js";

const SPAN_MS = 10 * 60 * 1000; // what the charts show and keep
const MAX_POINTS = 12000; // per metric, whatever the rate
const HISTORY_FALLBACK_MS = 5000;
const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

const id = param("id") || "";
const ui = {
  id: document.getElementById("device-id"),
  status: document.getElementById("status"),
  seen: document.getElementById("seen"),
  historyState: document.getElementById("history-state"),
  windows: document.getElementById("windows"),
  charts: document.getElementById("charts"),
  noData: document.getElementById("no-data"),
  alerts: document.getElementById("alerts"),
  alertCount: document.getElementById("alert-count"),
  noAlerts: document.getElementById("no-alerts"),
  notes: document.getElementById("notes"),
  noteForm: document.getElementById("note-form"),
  noteText: document.getElementById("note-text"),
  noteName: document.getElementById("note-name"),
  noteSend: document.getElementById("note-send"),
  noteError: document.getElementById("note-error"),
};

const state = {
  status: "unknown",
  lastSeen: null,
  lastSeq: null,
  window: null, // chosen stats window; null = shortest
  historyWaiter: null,
};
const charts = new Map(); // metric -> {series, stats, chart, node, value, statsLine}
const alerts = new AlertBook();
const notes = new Map(); // id -> note
let alertsVersion = -1;
let notesDirty = true;
let clockOffset = 0;
const hubNow = () => Date.now() + clockOffset;

// ---- charts ------------------------------------------------------------------------------

// Charts scrolled out of view are not drawn (a device may have up to 64 metrics).
const chartVisibility = new IntersectionObserver((entries) => {
  for (const e of entries) {
    const c = charts.get(e.target.dataset.metric);
    if (!c) continue;
    c.visible = e.isIntersecting;
    if (c.visible) c.chart.dirty = true;
  }
  schedule();
}, { rootMargin: "100px" });

function metricChart(metric) {
  let c = charts.get(metric);
  if (c) return c;
  const canvas = el("canvas", { role: "img", "aria-label": `${metric} over the last 10 minutes` });
  const value = el("span", { class: "value num" }, "–");
  const statsLine = el("div", { class: "chart-stats num" });
  const node = el("article", { class: "panel chart", dataset: { metric } },
    el("div", { class: "chart-head" }, el("span", { class: "name" }, metric), value),
    statsLine, canvas);
  const series = new Series(SPAN_MS, MAX_POINTS);
  const stats = new StatsStore(SPAN_MS);
  c = { series, stats, chart: new LineChart(canvas, series, stats, SPAN_MS), node, value, statsLine, visible: true };
  c.chart.window = state.window;
  chartVisibility.observe(node);
  charts.set(metric, c);
  // Keep charts in name order.
  const after = [...charts.keys()].sort().find((m) => m > metric);
  ui.charts.insertBefore(node, after ? charts.get(after).node : null);
  ui.noData.hidden = true;
  syncThresholds();
  return c;
}

function addReading(r) {
  for (const [metric, v] of Object.entries(r.metrics || {})) {
    if (typeof v !== "number") continue;
    const c = metricChart(metric);
    c.series.push(r.ts, v);
    c.chart.dirty = true;
  }
  if (state.lastSeen === null || r.ts >= state.lastSeen) {
    state.lastSeen = r.ts;
    state.lastSeq = r.seq ?? null;
  }
}

function addStats(s) {
  const c = metricChart(s.metric);
  c.stats.put(s);
  c.chart.dirty = true;
}

function syncThresholds() {
  const open = new Map();
  const cleared = new Map();
  for (const a of alerts.list(undefined, id)) {
    if (!a.metric || typeof a.threshold !== "number") continue;
    const by = a.state === "cleared" ? cleared : open;
    if (!by.has(a.metric)) by.set(a.metric, new Set());
    by.get(a.metric).add(a.threshold);
  }
  for (const [metric, c] of charts) {
    c.chart.thresholds = [...(open.get(metric) || [])];
    c.chart.clearLevels = [...(cleared.get(metric) || [])].filter((t) => !open.get(metric)?.has(t));
    c.chart.dirty = true;
  }
}

function renderWindowChips() {
  const all = new Set();
  for (const c of charts.values()) for (const w of c.stats.windows()) all.add(w);
  const names = [...all].sort((a, b) => windowMs(a) - windowMs(b));
  const key = names.join(",");
  if (ui.windows.dataset.key === key) return;
  ui.windows.dataset.key = key;
  ui.windows.replaceChildren(
    ...(names.length ? [el("span", { class: "muted" }, "window")] : []),
    ...names.map((w) => el("button", { type: "button", dataset: { window: w }, "aria-pressed": "false" }, w)),
  );
  markWindowChips();
}

function markWindowChips() {
  const first = charts.values().next().value;
  const shown = state.window || (first ? first.chart.shownWindow() : null);
  for (const b of ui.windows.querySelectorAll("button")) {
    b.setAttribute("aria-pressed", String(b.dataset.window === shown));
  }
}

ui.windows.addEventListener("click", (e) => {
  const b = e.target.closest("button[data-window]");
  if (!b) return;
  state.window = b.dataset.window;
  for (const c of charts.values()) {
    c.chart.window = state.window;
    c.chart.dirty = true;
  }
  markWindowChips();
  schedule();
});

// ---- rendering (one animation frame for everything that changed) ---------------------------

function render() {
  const now = hubNow();
  for (const c of charts.values()) {
    if (!c.chart.dirty || !c.visible) continue;
    c.chart.draw(now);
    setText(c.value, fmtValue(c.series.lastV));
    const w = c.chart.shownWindow();
    const s = w ? c.stats.current(w, c.series.lastT) : null;
    setText(c.statsLine, s
      ? `${w} @ ${fmtClock(s.start)}: mean ${fmtValue(s.mean)} · min ${fmtValue(s.min)} · max ${fmtValue(s.max)} · σ ${fmtValue(s.stddev)}`
        + (typeof s.p95 === "number" ? ` · p95 ${fmtValue(s.p95)}` : "") + ` · n ${s.count}`
      : "no statistics yet");
  }
  renderWindowChips();
  ui.status.dataset.status = state.status;
  setText(ui.status, state.status);
  setText(ui.seen, state.lastSeen === null ? "no reading yet" : `last reading ${fmtAgo(state.lastSeen, now)}`);
  ui.seen.title = state.lastSeen === null ? "" : `${fmtDateTime(state.lastSeen)}${state.lastSeq !== null ? `, seq ${state.lastSeq}` : ""}`;
  if (alerts.version !== alertsVersion) {
    alertsVersion = alerts.version;
    const open = alerts.list(["active", "acknowledged"], id);
    const cleared = alerts.list(["cleared"], id).slice(0, 10);
    alertList.render([...open, ...cleared], now);
    ui.noAlerts.hidden = open.length + cleared.length > 0;
    ui.alertCount.hidden = open.length === 0;
    setText(ui.alertCount, open.length);
    syncThresholds();
  }
  if (notesDirty) renderNotes();
}

// 4 redraws a second at most: a 10-minute chart moves about a pixel in between, and redraws
// (canvas rasterisation) are what costs at high rates.
const schedule = frameBatcher(render, 250);

// The time axis slides: redraw everything once a second even when the device is quiet.
setInterval(() => {
  for (const c of charts.values()) c.chart.dirty = true;
  refreshAgo(document.body, hubNow());
  schedule();
}, 1000);

const alertList = new AlertList(ui.alerts, {
  onAck: async (alertId) => {
    const ack = await hub.request("alert:ack", { id: alertId });
    if (ack.alert) onAlert(ack.alert);
    return ack.alert;
  },
});

// ---- notes -------------------------------------------------------------------------------

function addNote(n) {
  if (!n || n.device !== id) return;
  const key = n.id || `${n.ts}|${n.author || ""}|${n.text}`;
  if (notes.has(key)) return;
  notes.set(key, n);
  notesDirty = true;
  schedule();
}

function renderNotes() {
  notesDirty = false;
  const list = [...notes.values()].sort((a, b) => a.ts - b.ts).slice(-200);
  const atBottom = ui.notes.scrollTop + ui.notes.clientHeight >= ui.notes.scrollHeight - 8;
  ui.notes.replaceChildren(...list.map((n) => el("li", { class: "note" },
    el("div", { class: "note-meta" }, `${n.author || "someone"} · `,
      el("span", { title: fmtDateTime(n.ts), dataset: { ago: n.ts } }, fmtAgo(n.ts, hubNow()))),
    el("div", { class: "note-text" }, n.text))));
  if (!list.length) ui.notes.append(el("li", { class: "muted" }, "No notes yet."));
  if (atBottom) ui.notes.scrollTop = ui.notes.scrollHeight;
}

ui.noteName.value = operatorName();
ui.noteName.addEventListener("change", () => {
  const name = ui.noteName.value.trim();
  if (name === operatorName()) return;
  setOperatorName(name);
  hub.notice(name ? `Reconnecting as ${name}…` : "Reconnecting without a name…");
  hub.reconnect(); // the name travels in the handshake
});

async function sendNote() {
  const text = ui.noteText.value.trim();
  setText(ui.noteError, "");
  if (!text) {
    setText(ui.noteError, "Write something first.");
    return;
  }
  ui.noteSend.disabled = true;
  try {
    const ack = await hub.request("note", { device: id, text });
    ui.noteText.value = "";
    addNote(ack.note);
  } catch (e) {
    setText(ui.noteError, `Not sent: ${e.message}${e.code ? ` (${e.code})` : ""}`);
  } finally {
    ui.noteSend.disabled = false;
  }
}

ui.noteForm.addEventListener("submit", (e) => {
  e.preventDefault();
  sendNote();
});
ui.noteText.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
    e.preventDefault();
    sendNote();
  }
});

// ---- live events -------------------------------------------------------------------------

function onReading(r) {
  if (r?.device !== id) return;
  addReading(r);
  if (state.status !== "online") state.status = "online";
  schedule();
}

function onStats(s) {
  if (s?.device !== id) return;
  addStats(s);
  schedule();
}

function onAlert(a) {
  if (a?.device !== id) return;
  if (alerts.apply(a)) schedule();
}

function onStatus(s) {
  if (s?.device !== id) return;
  state.status = s.status;
  schedule();
}

/** Replaces what the page holds with a `history` object, keeping newer live data. */
function applyHistory(h) {
  if (!h || h.device !== id) return;
  state.historyWaiter?.();
  const readings = h.readings || [];
  const lastTs = readings.length ? readings[readings.length - 1].ts : -Infinity;
  for (const c of charts.values()) {
    const keepT = [];
    const keepV = [];
    for (let i = c.series.lowerBound(lastTs + 1); i < c.series.t.length; i++) {
      keepT.push(c.series.t[i]);
      keepV.push(c.series.v[i]);
    }
    c.series.clear();
    c.stats.clear();
    c.keep = [keepT, keepV];
  }
  for (const r of readings) addReading(r);
  for (const c of charts.values()) {
    if (c.keep) {
      c.keep[0].forEach((t, i) => c.series.push(t, c.keep[1][i]));
      c.keep = null;
    }
  }
  for (const s of h.stats || []) addStats(s);
  alerts.replace(h.alerts || [], id);
  notes.clear();
  for (const n of h.notes || []) addNote(n);
  notesDirty = true;
  if (h.status) state.status = h.status.status;
  for (const c of charts.values()) c.chart.dirty = true;
  setText(ui.historyState, readings.length
    ? `history since ${fmtClock(h.since ?? readings[0].ts)} (${readings.length} readings)`
    : "no readings in the last 10 minutes");
  if (!charts.size) {
    ui.noData.hidden = false;
    setText(ui.noData, "No readings in the last 10 minutes. Charts appear with the first reading.");
  }
  schedule();
}

async function sync(reason) {
  setText(ui.historyState, reason === "open" ? "loading history…" : "reloading history…");
  const gotHistory = new Promise((resolve) => {
    state.historyWaiter = () => {
      state.historyWaiter = null;
      resolve(true);
    };
    setTimeout(() => resolve(false), HISTORY_FALLBACK_MS);
  });
  await hub.subscribe([id]);
  if (!(await gotHistory)) {
    // The hub did not send `history` (older hub?): read it over HTTP.
    state.historyWaiter = null;
    try {
      const d = await apiGet(`/api/devices/${encodeURIComponent(id)}`);
      applyHistory(d.history);
    } catch (e) {
      if (e instanceof HubError && e.code === "not-found") {
        setText(ui.historyState, "the hub does not know this device (yet)");
      } else throw e;
    }
  }
  if (reason !== "open") hub.notice(reason === "history-lost" ? "Some events were lost; history reloaded." : "Reconnected; history reloaded.");
}

// ---- start -------------------------------------------------------------------------------

let hub;
if (!ID_PATTERN.test(id)) {
  setText(ui.id, "No device");
  for (const node of [ui.historyState, ui.status, ui.seen, document.querySelector(".legend"), document.querySelector(".side")]) {
    node.hidden = true;
  }
  setText(ui.noData, "Open this page as device.html?id=<device id> (from the fleet overview).");
} else {
  setText(ui.id, id);
  document.title = `${id} · Fluxgate`;
  hub = new Hub({ onSync: sync });
  hub.on("history", applyHistory);
  hub.on("reading", onReading);
  hub.on("stats", onStats);
  hub.on("alert", onAlert);
  hub.on("device-status", onStatus);
  hub.on("note", addNote);
  // Hub clock for "… ago" (best effort; the page works without it).
  apiGet("/api/devices?limit=1").then((r) => { clockOffset = r.ts - Date.now(); }).catch(() => {});
}
