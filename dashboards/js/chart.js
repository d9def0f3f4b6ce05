// A small live line chart on <canvas>: readings as a line, the rolling mean of the selected
// stats window as a stepped line, its min..max as a band, alert thresholds as dashed lines.
// Drawing is explicit (`draw(now)`), so a page can batch all charts into one animation frame.

import { fmtValue } from "./util.js";
import { hopMs } from "./series.js";

// Margins and label size in CSS pixels at a 16 px root font; scaled with the root font size,
// so labels grow on wall displays (app.css scales the root font with the viewport).
const MARGIN = { left: 52, right: 10, top: 8, bottom: 20 };
const LABEL_PX = 11;

function cssVar(name, fallback) {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

/** 1-2-5 tick step for a range split into about `count` parts. */
function niceStep(range, count) {
  const raw = range / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

/** A tick value with as many decimals as the step needs (step 0.05 -> "3.15", step 200 -> "800"). */
function tickLabel(v, step) {
  if (Math.abs(v) < step / 1e6) return "0";
  if (Math.abs(v) >= 1e5 || Math.abs(v) < 1e-4) return fmtValue(v);
  const decimals = Math.min(6, Math.max(0, -Math.floor(Math.log10(step) + 1e-9)));
  return v.toFixed(decimals);
}

export class LineChart {
  /**
   * @param canvas the <canvas>; its CSS box decides the size
   * @param series a Series (readings of one metric)
   * @param stats a StatsStore (stats windows of the same metric)
   * @param spanMs visible time span, ending at `now`
   */
  constructor(canvas, series, stats, spanMs) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.series = series;
    this.stats = stats;
    this.spanMs = spanMs;
    this.window = null; // stats window shown; null: the shortest seen
    this.thresholds = []; // of active / acknowledged alerts on this metric
    this.clearLevels = []; // `threshold` of cleared transitions is the level they cleared at
    this.colors = {
      line: cssVar("--chart-line", "#4cc9f0"),
      mean: cssVar("--chart-mean", "#ffd166"),
      band: cssVar("--chart-band", "rgba(255,209,102,0.16)"),
      grid: cssVar("--chart-grid", "rgba(255,255,255,0.08)"),
      text: cssVar("--muted", "#9fb0c3"),
      threshold: cssVar("--crit", "#ff4d5e"),
    };
    this.size = { w: 0, h: 0, dpr: 1 };
    this.k = 1;
    this.dirty = true;
    new ResizeObserver(() => {
      this.dirty = true;
    }).observe(canvas);
  }

  /** The stats window drawn (explicit choice, else the shortest one available). */
  shownWindow() {
    const all = this.stats.windows();
    return this.window && all.includes(this.window) ? this.window : all[0] || null;
  }

  resize() {
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(this.canvas.clientWidth));
    const h = Math.max(1, Math.round(this.canvas.clientHeight));
    if (w !== this.size.w || h !== this.size.h || dpr !== this.size.dpr) {
      this.canvas.width = Math.round(w * dpr);
      this.canvas.height = Math.round(h * dpr);
      this.size = { w, h, dpr };
      this.k = Math.max(0.85, (parseFloat(getComputedStyle(document.documentElement).fontSize) || 16) / 16);
    }
  }

  draw(now) {
    this.dirty = false;
    this.resize();
    const { w, h, dpr } = this.size;
    const ctx = this.ctx;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    const s = this.series;
    const x0 = now - this.spanMs;
    const k = this.k;
    const M = { left: MARGIN.left * k, right: MARGIN.right * k, top: MARGIN.top * k, bottom: MARGIN.bottom * k };
    const font = `${Math.round(LABEL_PX * k)}px system-ui, sans-serif`;
    const plotW = w - M.left - M.right;
    const plotH = h - M.top - M.bottom;
    if (plotW < 20 || plotH < 20) return;

    const first = s.lowerBound(x0);
    const end = s.t.length;
    const win = this.shownWindow();
    // Windows with numbers (the windowing stage writes non-finite values as null).
    const band = win
      ? this.stats.list(win).filter((r) => r.end > x0 && Number.isFinite(r.min) && Number.isFinite(r.max) && Number.isFinite(r.mean))
      : [];
    // Each window is drawn over its last hop, [end - hop, end): for tumbling windows that is
    // the whole window, for hopping ones ("1m/10s") the rolling value as of each hop.
    const hop = win ? hopMs(win) : Infinity;
    const segStart = (r) => (Number.isFinite(hop) ? Math.max(r.start, r.end - hop) : r.start);

    // Y range from what is visible.
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = first; i < end; i++) {
      const v = s.v[i];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    for (const r of band) {
      if (r.min < lo) lo = r.min;
      if (r.max > hi) hi = r.max;
    }
    for (const t of [...this.thresholds, ...this.clearLevels]) {
      if (t < lo) lo = t;
      if (t > hi) hi = t;
    }
    if (!Number.isFinite(lo)) {
      ctx.fillStyle = this.colors.text;
      ctx.font = font;
      ctx.textAlign = "center";
      ctx.fillText("waiting for data…", w / 2, h / 2);
      return;
    }
    if (hi - lo < 1e-9) {
      const pad = Math.abs(hi) * 0.05 || 1;
      lo -= pad;
      hi += pad;
    }
    const pad = (hi - lo) * 0.08;
    lo -= pad;
    hi += pad;

    const X = (t) => M.left + ((t - x0) / this.spanMs) * plotW;
    const Y = (v) => M.top + (1 - (v - lo) / (hi - lo)) * plotH;

    // Grid and axis labels.
    ctx.font = font;
    ctx.fillStyle = this.colors.text;
    ctx.strokeStyle = this.colors.grid;
    ctx.lineWidth = 1;
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    const step = niceStep(hi - lo, Math.max(2, Math.floor(plotH / 40)));
    ctx.beginPath();
    for (let v = Math.ceil(lo / step) * step; v <= hi; v += step) {
      const y = Math.round(Y(v)) + 0.5;
      ctx.moveTo(M.left, y);
      ctx.lineTo(w - M.right, y);
      ctx.fillText(tickLabel(v, step), M.left - 6, y);
    }
    const minutes = this.spanMs / 60000;
    const tStep = 60000 * (plotW / minutes < 45 ? (plotW / minutes < 22 ? 5 : 2) : 1);
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (let t = Math.ceil(x0 / tStep) * tStep; t <= now; t += tStep) {
      const x = Math.round(X(t)) + 0.5;
      ctx.moveTo(x, M.top);
      ctx.lineTo(x, M.top + plotH);
      const d = new Date(t);
      ctx.fillText(`${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`, x, M.top + plotH + 5);
    }
    ctx.stroke();

    ctx.save();
    ctx.beginPath();
    ctx.rect(M.left, M.top, plotW, plotH);
    ctx.clip();

    // Min..max band and stepped mean of the selected window; the open window ends at the
    // newest reading.
    const lastT = Math.min(now, Number.isFinite(s.lastT) ? s.lastT : now);
    if (band.length) {
      ctx.fillStyle = this.colors.band;
      ctx.beginPath();
      for (const r of band) {
        const a = segStart(r);
        const xa = X(Math.max(a, x0));
        const xb = X(Math.max(a, Math.min(r.end, lastT)));
        ctx.rect(xa, Y(r.max), Math.max(1, xb - xa), Y(r.min) - Y(r.max));
      }
      ctx.fill();
      ctx.strokeStyle = this.colors.mean;
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      let prevEnd = null;
      for (const r of band) {
        const a = segStart(r);
        const xa = X(Math.max(a, x0));
        const xb = X(Math.max(a, Math.min(r.end, lastT)));
        const y = Y(r.mean);
        if (prevEnd === a) ctx.lineTo(xa, y);
        else ctx.moveTo(xa, y);
        ctx.lineTo(xb, y);
        prevEnd = r.end;
      }
      ctx.stroke();
    }

    // Thresholds of open alerts (red dashes) and clear levels of cleared ones (grey dots).
    for (const [levels, color, dash] of [[this.clearLevels, this.colors.text, [2, 4]], [this.thresholds, this.colors.threshold, [6, 4]]]) {
      if (!levels.length) continue;
      ctx.strokeStyle = color;
      ctx.lineWidth = 1;
      ctx.setLineDash(dash);
      ctx.beginPath();
      for (const t of levels) {
        const y = Math.round(Y(t)) + 0.5;
        ctx.moveTo(M.left, y);
        ctx.lineTo(w - M.right, y);
      }
      ctx.stroke();
      ctx.setLineDash([]);
    }

    // Readings. Many points per pixel column: draw each column's min..max (same picture, far
    // fewer path segments). Long gaps (device silent) break the line.
    const n = end - first;
    if (n > 0) {
      ctx.strokeStyle = this.colors.line;
      ctx.lineWidth = 1.75;
      ctx.lineJoin = "round";
      ctx.beginPath();
      const span = n > 1 ? s.t[end - 1] - s.t[first] : 0;
      const gap = Math.max(5000, n > 1 ? (5 * span) / (n - 1) : 0);
      let prevT = -Infinity;
      if (n > plotW * 2) {
        let col = -1;
        let cmin = 0;
        let cmax = 0;
        const flush = () => {
          if (col >= 0) {
            ctx.lineTo(col + 0.5, Y(cmax));
            ctx.lineTo(col + 0.5, Y(cmin));
          }
        };
        for (let i = first; i < end; i++) {
          const c = Math.floor(X(s.t[i]));
          const v = s.v[i];
          if (s.t[i] - prevT > gap) {
            flush();
            col = c;
            cmin = cmax = v;
            ctx.moveTo(c + 0.5, Y(v));
          } else if (c !== col) {
            flush();
            col = c;
            cmin = cmax = v;
          } else {
            if (v < cmin) cmin = v;
            if (v > cmax) cmax = v;
          }
          prevT = s.t[i];
        }
        flush();
      } else {
        for (let i = first; i < end; i++) {
          const x = X(s.t[i]);
          const y = Y(s.v[i]);
          if (s.t[i] - prevT > gap) ctx.moveTo(x, y);
          else ctx.lineTo(x, y);
          prevT = s.t[i];
        }
      }
      ctx.stroke();
      // The newest point.
      const lx = X(s.t[end - 1]);
      const ly = Y(s.v[end - 1]);
      ctx.fillStyle = this.colors.line;
      ctx.beginPath();
      ctx.arc(lx, ly, 3, 0, Math.PI * 2);
      ctx.fill();
    }
    ctx.restore();
  }
}
