// Small helpers shared by the pages: DOM building, formatting, URL parameters.

// Wall displays: `?kiosk` hides the controls (search, filters, navigation) on every page.
if (typeof location !== "undefined" && new URLSearchParams(location.search).has("kiosk")) {
  document.documentElement.classList.add("kiosk");
}

/** Creates an element: el("div", {class: "x", onclick: f}, "text", childNode, ...). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Sets textContent only when it changed (avoids layout work on unchanged values). */
export function setText(node, text) {
  const s = String(text);
  if (node.textContent !== s) node.textContent = s;
}

/** Formats a metric value with about 4 significant digits, no exponent for usual ranges. */
export function fmtValue(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–";
  const a = Math.abs(v);
  if (a === 0) return "0";
  if (a >= 100000 || a < 0.001) return v.toExponential(2);
  const digits = a >= 1000 ? 0 : a >= 100 ? 1 : a >= 10 ? 2 : a >= 1 ? 2 : 3;
  return v.toFixed(digits);
}

/** "3 s ago", "4 min ago", "2 h ago"; `now` and `ts` in epoch ms. */
export function fmtAgo(ts, now = Date.now()) {
  if (ts === null || ts === undefined) return "never";
  const s = Math.max(0, Math.round((now - ts) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

const pad = (n) => String(n).padStart(2, "0");

/** Local HH:MM:SS. */
export function fmtClock(ts) {
  const d = new Date(ts);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Local "YYYY-MM-DD HH:MM:SS" for tooltips. */
export function fmtDateTime(ts) {
  const d = new Date(ts);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${fmtClock(ts)}`;
}

/** Query parameter of the current page, or null. */
export function param(name) {
  return new URLSearchParams(location.search).get(name);
}

/**
 * Calls `fn` in an animation frame, at most once per frame and at most once per `minIntervalMs`,
 * however often `schedule()` is called; a call during the pause runs once when it ends (so the
 * last change is always drawn).
 */
export function frameBatcher(fn, minIntervalMs = 0) {
  let pending = false;
  let last = -Infinity;
  const run = () => {
    requestAnimationFrame((t) => {
      pending = false;
      last = t;
      fn();
    });
  };
  return function schedule() {
    if (pending) return;
    pending = true;
    const wait = last + minIntervalMs - performance.now();
    if (wait > 4) setTimeout(run, wait);
    else run();
  };
}

/** Link to a device page, keeping nothing secret in the URL (the token lives in localStorage). */
export function deviceHref(id) {
  return `device.html?id=${encodeURIComponent(id)}`;
}

/** Updates every element carrying data-ago="<epoch ms>" under `root` to "… ago". */
export function refreshAgo(root, now = Date.now()) {
  for (const node of root.querySelectorAll("[data-ago]")) {
    setText(node, fmtAgo(Number(node.dataset.ago), now));
  }
}
