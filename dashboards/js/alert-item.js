// One alert as a list item, with an Acknowledge button for active alerts.

import { el, fmtValue, fmtAgo, fmtDateTime, deviceHref } from "./util.js";

/**
 * @param a the alert (latest transition)
 * @param opts.showDevice link to the device page
 * @param opts.onAck async (id) => alert; errors are shown next to the button
 * @param opts.now hub clock
 */
export function alertItem(a, { showDevice = false, onAck, now = Date.now() }) {
  const err = el("div", { class: "err", role: "alert" });
  const foot = el("div", { class: "alert-foot" },
    el("span", { class: "num", title: fmtDateTime(a.ts), dataset: { ago: a.ts } }, fmtAgo(a.ts, now)),
    a.value !== null && a.value !== undefined
      ? el("span", { class: "num" }, `value ${fmtValue(a.value)}${a.metric === null ? " s" : ""}`,
        a.threshold !== null && a.threshold !== undefined
          ? ` / ${a.state === "cleared" ? "cleared at" : "threshold"} ${fmtValue(a.threshold)}${a.metric === null ? " s" : ""}` : "")
      : null,
    a.ackedBy ? el("span", {}, `ack: ${a.ackedBy}`) : null,
  );
  if (a.state === "active" && onAck) {
    const button = el("button", { type: "button", class: "primary" }, "Acknowledge");
    button.addEventListener("click", async () => {
      button.disabled = true;
      button.textContent = "Acknowledging…";
      err.textContent = "";
      try {
        await onAck(a.id);
        // The hub has it; the alert turns "acknowledged" when the transition comes back.
        button.textContent = "Sent ✓";
        button.title = "acknowledgement recorded; waiting for the alert to change state";
      } catch (e) {
        button.disabled = false;
        button.textContent = "Acknowledge";
        err.textContent = `Not acknowledged: ${e.message}${e.code ? ` (${e.code})` : ""}`;
      }
    });
    foot.append(button);
  }
  return el("li", { class: "alert", dataset: { sev: a.severity, state: a.state, id: a.id } },
    el("div", { class: "alert-top" },
      el("span", { class: "sev", dataset: { sev: a.severity } }, a.severity),
      el("span", { class: "state", dataset: { state: a.state } }, a.state),
      showDevice ? el("a", { href: deviceHref(a.device), class: "alert-device" }, a.device) : null,
      el("span", { class: "alert-rule" }, a.rule),
      a.metric && a.metric !== a.rule ? el("span", { class: "muted" }, a.metric) : null,
    ),
    el("div", { class: "alert-msg" }, a.message || ""),
    foot,
    err,
  );
}

/**
 * Keeps a <ul> in sync with a list of alerts, rebuilding an item only when its alert changed
 * (so an Acknowledge in flight or its error message survives unrelated updates).
 */
export class AlertList {
  constructor(ul, opts) {
    this.ul = ul;
    this.opts = opts;
    this.items = new Map(); // id -> {node, key}
  }

  render(alerts, now) {
    const keep = new Set();
    const nodes = [];
    for (const a of alerts) {
      keep.add(a.id);
      const key = `${a.state}|${a.ts}|${a.ackedBy || ""}`;
      let item = this.items.get(a.id);
      if (!item || item.key !== key) {
        const node = alertItem(a, { ...this.opts, now });
        if (item && a.state === "active") node.classList.add("new");
        if (!item && this.rendered && a.state === "active") node.classList.add("new");
        item = { node, key };
        this.items.set(a.id, item);
      }
      nodes.push(item.node);
    }
    for (const id of [...this.items.keys()]) if (!keep.has(id)) this.items.delete(id);
    const current = [...this.ul.children];
    if (nodes.length !== current.length || nodes.some((n, i) => n !== current[i])) {
      this.ul.replaceChildren(...nodes);
    }
    this.rendered = true;
  }
}
