// Bounded time series for charts: readings of one metric and the stats windows of one metric.

/**
 * Points (ts, value) in ascending ts, bounded by age (`spanMs` behind the newest point) and by
 * count (`cap`). Appends are O(1) amortised; an out-of-order point is inserted in place; a point
 * with an existing ts replaces the old value (history and live events may overlap).
 */
export class Series {
  constructor(spanMs, cap) {
    this.spanMs = spanMs;
    this.cap = cap;
    this.t = [];
    this.v = [];
    this.head = 0; // index of the first live point; [0, head) is garbage, compacted lazily
  }

  get length() {
    return this.t.length - this.head;
  }

  clear() {
    this.t = [];
    this.v = [];
    this.head = 0;
  }

  /** Newest timestamp, or -Infinity when empty. */
  get lastT() {
    return this.length ? this.t[this.t.length - 1] : -Infinity;
  }

  get lastV() {
    return this.length ? this.v[this.v.length - 1] : null;
  }

  push(ts, value) {
    const n = this.t.length;
    if (this.length === 0 || ts > this.t[n - 1]) {
      this.t.push(ts);
      this.v.push(value);
    } else {
      const i = this.lowerBound(ts);
      if (i < n && this.t[i] === ts) {
        this.v[i] = value;
        return;
      }
      if (i === this.head && ts < this.lastT - this.spanMs) return; // too old to keep
      this.t.splice(i, 0, ts);
      this.v.splice(i, 0, value);
    }
    this.trim();
  }

  trim() {
    const cutoff = this.lastT - this.spanMs;
    while (this.head < this.t.length && (this.t[this.head] < cutoff || this.length > this.cap)) {
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.t.length) {
      this.t = this.t.slice(this.head);
      this.v = this.v.slice(this.head);
      this.head = 0;
    }
  }

  /** First index (absolute) with t >= ts. */
  lowerBound(ts) {
    let lo = this.head;
    let hi = this.t.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.t[mid] < ts) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/**
 * Stats windows of one metric, by window name ("10s", "1m"), keeping the latest version of each
 * (window, start) and only windows that end within `spanMs` of the newest.
 */
export class StatsStore {
  constructor(spanMs) {
    this.spanMs = spanMs;
    this.byWindow = new Map(); // name -> Map(start -> record)
    this.sorted = new Map(); // name -> cached ascending array, dropped on change
  }

  clear() {
    this.byWindow.clear();
    this.sorted.clear();
  }

  put(rec) {
    let m = this.byWindow.get(rec.window);
    if (!m) {
      m = new Map();
      this.byWindow.set(rec.window, m);
    }
    m.set(rec.start, rec);
    this.sorted.delete(rec.window);
    if (m.size > 64 && m.size % 16 === 0) this.prune(rec.window, m);
  }

  prune(name, m) {
    let newest = -Infinity;
    for (const r of m.values()) newest = Math.max(newest, r.end);
    for (const [start, r] of m) if (r.end < newest - this.spanMs) m.delete(start);
    this.sorted.delete(name);
  }

  /** Window names seen, shortest first ("10s" before "1m"). */
  windows() {
    return [...this.byWindow.keys()].sort((a, b) => windowMs(a) - windowMs(b));
  }

  /** Records of one window in ascending start. */
  list(name) {
    let arr = this.sorted.get(name);
    if (!arr) {
      arr = [...(this.byWindow.get(name)?.values() || [])].sort((a, b) => a.start - b.start);
      this.sorted.set(name, arr);
    }
    return arr;
  }

  latest(name) {
    const arr = this.list(name);
    return arr.length ? arr[arr.length - 1] : null;
  }

  /**
   * The window that describes time `t`: the one whose last hop [end - hop, end) holds `t`
   * (for tumbling windows: the window holding `t`; for hopping ones the window that closes
   * next, not the one that just opened), else the newest that ended before `t`.
   */
  current(name, t) {
    const arr = this.list(name);
    const hop = hopMs(name);
    let best = null;
    for (let i = arr.length - 1; i >= 0; i--) {
      const r = arr[i];
      if (r.end <= t) return best || r;
      if (r.end - hop <= t) best = r;
    }
    return best;
  }
}

function spanMs(text) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text);
  if (!m) return Infinity;
  return Number(m[1]) * { ms: 1, s: 1000, m: 60000, h: 3600000, d: 86400000 }[m[2]];
}

/**
 * Window length of a `window` name: "10s" -> 10000, "1m/10s" (size/hop, hopping) -> 60000;
 * unknown -> Infinity (sorts last).
 */
export function windowMs(name) {
  return spanMs(String(name).split("/")[0]);
}

/** Distance between window starts: the hop of "1m/10s" (10000), the length of "10s". */
export function hopMs(name) {
  const parts = String(name).split("/");
  return spanMs(parts.length > 1 ? parts[1] : parts[0]);
}
