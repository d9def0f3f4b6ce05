// The alert book: the latest transition of every alert, merged by the rules of
// docs/hub-api.md: per id the furthest state wins (active < acknowledged < cleared; one id's
// states only move forward), and among equal states the greatest ts. The ts of different
// transitions come from different clocks (device event time for active/cleared, the operator's
// acknowledgement time for acknowledged), so ts alone must not decide.

const RANK = { active: 0, acknowledged: 1, cleared: 2 };
const SEVERITY = { critical: 0, warning: 1, info: 2 };
const CLEARED_KEEP = 500;

export class AlertBook {
  constructor() {
    this.byId = new Map();
    this.version = 0;
  }

  /** Merges one transition. Returns true when it changed what the book holds. */
  apply(a) {
    if (!a || typeof a.id !== "string") return false;
    const old = this.byId.get(a.id);
    if (old) {
      const r = (RANK[a.state] ?? 0) - (RANK[old.state] ?? 0);
      if (r < 0 || (r === 0 && a.ts <= old.ts)) return false;
    }
    // A cleared transition may not carry who acknowledged it; keep what we knew.
    if (old && old.ackedBy && !a.ackedBy) a = { ...a, ackedBy: old.ackedBy };
    this.byId.set(a.id, a);
    this.version++;
    if (a.state === "cleared") this.trimCleared();
    return true;
  }

  /** Replaces the alerts of one device (history) or all (device === null) with `list`. */
  replace(list, device = null) {
    for (const [id, a] of this.byId) {
      if (device === null || a.device === device) this.byId.delete(id);
    }
    for (const a of list) this.apply(a);
    this.version++;
  }

  trimCleared() {
    const cleared = [...this.byId.values()].filter((a) => a.state === "cleared");
    if (cleared.length <= CLEARED_KEEP) return;
    cleared.sort((x, y) => x.ts - y.ts);
    for (const a of cleared.slice(0, cleared.length - CLEARED_KEEP)) this.byId.delete(a.id);
  }

  /** Alerts in the given states, most severe first, then newest first. */
  list(states = ["active", "acknowledged", "cleared"], device = null) {
    const out = [];
    for (const a of this.byId.values()) {
      if (states.includes(a.state) && (device === null || a.device === device)) out.push(a);
    }
    return out.sort((x, y) => {
      if (x.state !== "cleared" || y.state !== "cleared") {
        const s = (SEVERITY[x.severity] ?? 3) - (SEVERITY[y.severity] ?? 3);
        if (s) return s;
      }
      return y.ts - x.ts;
    });
  }

  /** Number of active or acknowledged alerts, per device. */
  openCounts() {
    const counts = new Map();
    for (const a of this.byId.values()) {
      if (a.state !== "cleared") counts.set(a.device, (counts.get(a.device) || 0) + 1);
    }
    return counts;
  }
}
