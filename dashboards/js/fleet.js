// Fleet overview: every device with its status, latest values and open alerts, live.
// On open / resync: GET /api/devices (all pages) + GET /api/alerts?state=active,acknowledged,
// with subscribe ["*"] (no history, only these events) first; live: reading, device-status, alert.

import { Hub, apiGet } from "./hub.js";
import { AlertBook } from "./alerts-model.js";
import { el, setText, fmtValue, fmtAgo, fmtDateTime, frameBatcher, deviceHref } from "./util.js";

const MAX_METRICS_SHOWN = 6;
const MAX_CARDS = 500; // bounded DOM for big fleets; search narrows down

const devices = new Map(); // id -> {id, status, lastSeen, lastSeq, metrics, card}
const alerts = new AlertBook();
const dirty = new Set();
let openCounts = new Map();
let clockOffset = 0; // hub clock - local clock, from the API's `ts`
let orderKey = "";
let synced = false; // the first snapshot arrived (before that, "no device" would be a lie)

const ui = {
  fleet: document.getElementById("fleet"),
  empty: document.getElementById("empty"),
  q: document.getElementById("q"),
  filters: document.getElementById("filters"),
  sort: document.getElementById("sort"),
  n: {
    devices: document.getElementById("n-devices"),
    online: document.getElementById("n-online"),
    offline: document.getElementById("n-offline"),
    alerts: document.getElementById("n-alerts"),
  },
};

const view = {
  q: new URLSearchParams(location.search).get("q") || "",
  filter: new URLSearchParams(location.search).get("filter") || "all",
  sort: new URLSearchParams(location.search).get("sort") || "id",
};

const hubNow = () => Date.now() + clockOffset;

function device(id) {
  let d = devices.get(id);
  if (!d) {
    d = { id, status: "unknown", lastSeen: null, lastSeq: null, metrics: {}, card: null, visible: false };
    devices.set(id, d);
    orderKey = ""; // a new card must be placed
  }
  return d;
}

// ---- live events -------------------------------------------------------------------------

function onReading(r) {
  if (!r || typeof r.device !== "string") return;
  const d = device(r.device);
  if (d.lastSeen === null || r.ts >= d.lastSeen) {
    d.lastSeen = r.ts;
    d.lastSeq = r.seq ?? null;
    Object.assign(d.metrics, r.metrics);
    if (d.status === "unknown") d.status = "online";
    dirty.add(d.id);
    schedule();
  }
}

function onStatus(s) {
  if (!s || typeof s.device !== "string") return;
  const d = device(s.device);
  d.status = s.status;
  dirty.add(d.id);
  orderKey = "";
  schedule();
}

function onAlert(a) {
  if (alerts.apply(a)) {
    device(a.device);
    recount();
    schedule();
  }
}

function recount() {
  const next = alerts.openCounts();
  for (const id of new Set([...openCounts.keys(), ...next.keys()])) {
    if ((openCounts.get(id) || 0) !== (next.get(id) || 0)) dirty.add(id);
  }
  openCounts = next;
  orderKey = "";
}

// ---- loading -----------------------------------------------------------------------------

async function sync() {
  // Subscribe first so nothing between the snapshot and the subscription is missed; the
  // snapshot only ever moves values forward (onReading compares ts).
  await hub.subscribe(["*"], { history: false, events: ["reading", "device-status", "alert"] });
  let after = null;
  const seen = new Set();
  do {
    const page = await apiGet(`/api/devices?limit=1000${after ? `&after=${encodeURIComponent(after)}` : ""}`);
    clockOffset = page.ts - Date.now();
    for (const x of page.devices) {
      seen.add(x.id);
      const d = device(x.id);
      if (d.lastSeen === null || (x.lastSeen ?? -Infinity) >= d.lastSeen) {
        d.lastSeen = x.lastSeen;
        d.lastSeq = x.lastSeq;
        d.metrics = { ...x.metrics };
      }
      d.status = x.status;
      dirty.add(x.id);
    }
    after = page.next;
  } while (after);
  for (const [id, d] of devices) {
    if (!seen.has(id)) {
      d.card?.remove();
      devices.delete(id);
    }
  }
  const open = await apiGet("/api/alerts?state=active,acknowledged&limit=1000");
  alerts.replace(open.alerts);
  synced = true;
  recount();
  orderKey = "";
  schedule();
}

// ---- rendering ---------------------------------------------------------------------------

// Only cards on screen are updated; a card scrolling into view is brought up to date.
const visibility = new IntersectionObserver((entries) => {
  for (const e of entries) {
    const d = devices.get(e.target.dataset.id);
    if (!d) continue;
    d.visible = e.isIntersecting;
    if (d.visible) dirty.add(d.id);
  }
  schedule();
}, { rootMargin: "200px" });

function buildCard(d) {
  const c = {
    root: el("a", { class: "card", href: deviceHref(d.id), dataset: { id: d.id } }),
    status: el("span", { class: "status" }),
    seen: el("span", { class: "muted num" }),
    badge: el("span", { class: "badge num", title: "active alerts" }),
    metrics: el("dl", { class: "metrics" }),
    cells: new Map(),
  };
  c.root.append(
    el("div", { class: "card-head" }, el("span", { class: "card-id" }, d.id), c.badge),
    el("div", { class: "card-meta" }, c.status, c.seen),
    c.metrics,
  );
  d.card = c;
  visibility.observe(c.root);
  return c;
}

function renderCard(d, now) {
  const c = d.card || buildCard(d);
  const n = openCounts.get(d.id) || 0;
  c.root.dataset.status = d.status;
  c.root.dataset.alerting = String(n > 0);
  c.status.dataset.status = d.status;
  setText(c.status, d.status);
  setText(c.seen, d.lastSeen === null ? "never seen" : fmtAgo(d.lastSeen, now));
  c.seen.title = d.lastSeen === null ? "" : `last reading ${fmtDateTime(d.lastSeen)}${d.lastSeq !== null ? `, seq ${d.lastSeq}` : ""}`;
  c.badge.hidden = n === 0;
  setText(c.badge, n);
  const names = Object.keys(d.metrics).slice(0, MAX_METRICS_SHOWN);
  for (const name of names) {
    let cell = c.cells.get(name);
    if (!cell) {
      cell = el("dd", { class: "num" });
      c.metrics.append(el("div", {}, el("dt", { title: name }, name), cell));
      c.cells.set(name, cell);
    }
    setText(cell, fmtValue(d.metrics[name]));
  }
}

function matches(d) {
  const n = openCounts.get(d.id) || 0;
  if (view.filter === "online" && d.status !== "online") return false;
  if (view.filter === "offline" && d.status === "online") return false;
  if (view.filter === "alerting" && n === 0) return false;
  if (!view.q) return true;
  const q = view.q.toLowerCase();
  return d.id.toLowerCase().includes(q) || Object.keys(d.metrics).some((m) => m.toLowerCase().includes(q));
}

function ordered() {
  const list = [...devices.values()].filter(matches);
  const byId = (a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  if (view.sort === "alerts") {
    list.sort((a, b) => (openCounts.get(b.id) || 0) - (openCounts.get(a.id) || 0)
      || (a.status === "online") - (b.status === "online") || byId(a, b));
  } else if (view.sort === "seen") {
    list.sort((a, b) => (b.lastSeen ?? -Infinity) - (a.lastSeen ?? -Infinity) || byId(a, b));
  } else {
    list.sort(byId);
  }
  return list;
}

function render() {
  const now = hubNow();
  for (const id of dirty) {
    const d = devices.get(id);
    if (d && (d.visible || !d.card)) renderCard(d, now);
  }
  dirty.clear(); // hidden cards are updated when they come into view
  // Re-place cards only when membership or order may have changed ("seen" sort: every second).
  const key = `${view.q}|${view.filter}|${view.sort}|${devices.size}`;
  if (key !== orderKey) {
    orderKey = key;
    const all = ordered();
    const list = all.slice(0, MAX_CARDS);
    const wanted = list.map((d) => (d.card || buildCard(d)).root);
    const current = [...ui.fleet.children];
    if (wanted.length !== current.length || wanted.some((n, i) => n !== current[i])) {
      for (const d of list) renderCard(d, now); // placed cards are current, seen or not
      ui.fleet.replaceChildren(...wanted);
    }
    ui.empty.hidden = (wanted.length > 0 && all.length <= MAX_CARDS) || !synced;
    setText(ui.empty, devices.size === 0 ? "No device has reported yet."
      : all.length > MAX_CARDS ? `Showing ${MAX_CARDS} of ${all.length} devices; search or filter to see the others.`
        : "No device matches.");
  }
  let online = 0;
  for (const d of devices.values()) if (d.status === "online") online++;
  setText(ui.n.devices, devices.size);
  setText(ui.n.online, online);
  setText(ui.n.offline, devices.size - online);
  let open = 0;
  for (const n of openCounts.values()) open += n;
  setText(ui.n.alerts, open);
}

// 4 updates a second at most: enough to read, cheap with thousands of events a second.
const schedule = frameBatcher(render, 250);

// Refresh "seen … ago" once a second.
setInterval(() => {
  for (const d of devices.values()) if (d.visible) dirty.add(d.id);
  if (view.sort === "seen") orderKey = "";
  schedule();
}, 1000);

// ---- controls ----------------------------------------------------------------------------

function saveView() {
  const url = new URL(location.href);
  for (const [k, v, dflt] of [["q", view.q, ""], ["filter", view.filter, "all"], ["sort", view.sort, "id"]]) {
    if (v && v !== dflt) url.searchParams.set(k, v);
    else url.searchParams.delete(k);
  }
  history.replaceState(null, "", url);
  orderKey = "";
  schedule();
}

ui.q.value = view.q;
ui.sort.value = view.sort;
for (const b of ui.filters.querySelectorAll("button")) {
  b.setAttribute("aria-pressed", String(b.dataset.filter === view.filter));
}
ui.q.addEventListener("input", () => {
  view.q = ui.q.value.trim();
  saveView();
});
ui.sort.addEventListener("change", () => {
  view.sort = ui.sort.value;
  saveView();
});
ui.filters.addEventListener("click", (e) => {
  const b = e.target.closest("button[data-filter]");
  if (!b) return;
  view.filter = b.dataset.filter;
  for (const x of ui.filters.querySelectorAll("button")) x.setAttribute("aria-pressed", String(x === b));
  saveView();
});

// ---- connection --------------------------------------------------------------------------

const hub = new Hub({ onSync: sync });
hub.on("reading", onReading);
hub.on("device-status", onStatus);
hub.on("alert", onAlert);
