// Connection to the hub: Socket.IO (live events, requests with acks) and the HTTP API.
// Contract: docs/hub-api.md. The Socket.IO client is the global `io` from
// /socket.io/socket.io.min.js, loaded by every page before this module.

import { el, setText } from "./util.js";

const TOKEN_KEY = "fluxgate.token";
const NAME_KEY = "fluxgate.name";
const ACK_TIMEOUT_MS = 10000;

/** The access token: `?token=` (then remembered and removed from the address bar) or localStorage. */
export function readToken() {
  const url = new URL(location.href);
  const fromUrl = url.searchParams.get("token");
  if (fromUrl !== null) {
    if (fromUrl) localStorage.setItem(TOKEN_KEY, fromUrl);
    else localStorage.removeItem(TOKEN_KEY);
    url.searchParams.delete("token");
    history.replaceState(null, "", url);
  }
  return localStorage.getItem(TOKEN_KEY) || "";
}

export function operatorName() {
  return localStorage.getItem(NAME_KEY) || "";
}

export function setOperatorName(name) {
  if (name) localStorage.setItem(NAME_KEY, name);
  else localStorage.removeItem(NAME_KEY);
}

/** An error the hub answered with: `code` is the stable code from docs/hub-api.md. */
export class HubError extends Error {
  constructor(code, message) {
    super(message || code);
    this.code = code;
  }
}

/** GET a JSON document from the hub's HTTP API (with the token when there is one). */
export async function apiGet(path) {
  const token = localStorage.getItem(TOKEN_KEY);
  const res = await fetch(path, {
    headers: token ? { Authorization: `Bearer ${token}` } : {},
    cache: "no-store",
  });
  let body = null;
  try {
    body = await res.json();
  } catch {
    /* not JSON */
  }
  if (!res.ok) {
    const e = body && body.error;
    throw new HubError(e?.code || `http-${res.status}`, e?.message || `${path}: HTTP ${res.status}`);
  }
  return body;
}

/**
 * One Socket.IO connection per page, with the connection state shown in the header.
 *
 * `onSync(reason)` is the page's "load everything" step: called on the first connect
 * (reason "open"), on a reconnect the hub could not recover ("resync") and on `history-lost`
 * ("history-lost", with the event's payload as second argument).
 */
export class Hub {
  constructor({ onSync }) {
    if (typeof io !== "function") {
      const message = "The Socket.IO client did not load from /socket.io/socket.io.min.js; the hub must serve it.";
      document.body.prepend(el("div", { class: "banner", role: "alert" }, message));
      throw new Error(message);
    }
    this.onSync = onSync;
    this.token = readToken();
    this.state = "connecting";
    this.events = 0;
    this.rate = 0;
    this.connectedOnce = false;
    this.ui = mountConnectionUI(this);
    this.socket = io({
      // A function, so every (re)connect sends the current token and name.
      auth: (cb) => cb(this.authPayload()),
      reconnectionDelay: 1000,
      reconnectionDelayMax: 5000,
    });
    this.wire();
    setInterval(() => {
      this.rate = this.events;
      this.events = 0;
      this.render();
    }, 1000);
  }

  authPayload() {
    const auth = {};
    if (this.token) auth.token = this.token;
    const name = operatorName();
    if (name) auth.name = name;
    return auth;
  }

  wire() {
    const s = this.socket;
    s.on("connect", () => {
      const first = !this.connectedOnce;
      this.connectedOnce = true;
      // After a connect the hub could not recover it sends `history-lost` (docs/hub.md,
      // Recovery); the sync below already reloads, so that one only explains why.
      this.lostExpected = !s.recovered;
      this.setState("live", s.recovered ? "reconnected, nothing missed" : "");
      if (first) this.sync("open");
      else if (!s.recovered) this.sync("resync");
    });
    s.on("disconnect", (reason) => {
      if (reason === "io client disconnect") {
        this.setState("closed", reason);
      } else if (reason === "io server disconnect") {
        // The hub closed this socket on purpose (restart, eviction); the client does not
        // retry by itself in that case, so come back after a short, jittered pause.
        this.setState("reconnecting", "disconnected by the hub");
        setTimeout(() => {
          if (!s.connected && !s.active) s.connect();
        }, 1000 + Math.random() * 2000);
      } else {
        this.setState("reconnecting", reason); // the client reconnects by itself
      }
    });
    s.on("connect_error", (err) => {
      if (!s.active) {
        // Refused by the hub (bad token, origin, ...): the client will not retry by itself.
        const code = err?.data?.code || err?.message || "refused";
        const message = err?.data?.message || err?.message || "the hub refused the connection";
        this.setState("refused", message, code);
      } else {
        this.setState("reconnecting", err?.message || "cannot reach the hub");
      }
    });
    s.io.on("reconnect_attempt", (n) => this.setState("reconnecting", `attempt ${n}`));
    s.on("history-lost", (payload) => {
      if (this.lostExpected) {
        this.lostExpected = false;
        this.notice(`Some events could not be recovered (${payload?.reason || "other"}); history reloaded.`);
        return;
      }
      this.sync("history-lost", payload);
    });
    s.onAny((event) => {
      this.events++;
      // After any other event, a history-lost is news (for example a queue overflow): reload.
      if (event !== "history-lost") this.lostExpected = false;
    });
  }

  sync(reason, payload) {
    Promise.resolve()
      .then(() => this.onSync(reason, payload))
      .catch((e) => this.notice(`Could not load data: ${e.message}`, "error"));
  }

  /** Registers a handler for a hub -> client event. */
  on(event, handler) {
    this.socket.on(event, handler);
  }

  /**
   * Sends a client -> hub event and waits for its ack. Resolves with the ack object when it has
   * `ok: true`; rejects with a HubError otherwise (including "not connected" and "timeout").
   */
  async request(event, payload) {
    if (!this.socket.connected) {
      throw new HubError("disconnected", "not connected to the hub; try again when the connection is back");
    }
    let ack;
    try {
      ack = await this.socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, payload);
    } catch {
      throw new HubError("timeout", `the hub did not answer within ${ACK_TIMEOUT_MS / 1000} s`);
    }
    if (!ack || ack.ok !== true) {
      const e = ack && ack.error;
      throw new HubError(e?.code || "bad-response", e?.message || "the hub rejected the request");
    }
    return ack;
  }

  /**
   * subscribe (docs/hub-api.md 1.3): `devices` ids or ["*"]; `history` false for none;
   * `events` (with ["*"] only) to receive only those fleet-wide events.
   */
  subscribe(devices, { history = true, events } = {}) {
    const payload = { devices };
    if (!history) payload.history = false;
    if (events) payload.events = events;
    return this.request("subscribe", payload);
  }

  /** Reconnects with new credentials (token or operator name changed). */
  reconnect() {
    this.token = localStorage.getItem(TOKEN_KEY) || "";
    this.connectedOnce = false;
    this.socket.disconnect();
    this.setState("connecting");
    this.socket.connect();
  }

  setState(state, detail = "", code = "") {
    this.state = state;
    this.detail = detail;
    this.code = code;
    this.render();
  }

  render() {
    const { pill, label, rate, banner } = this.ui;
    pill.dataset.state = this.state;
    const labels = {
      connecting: "connecting…",
      live: "live",
      reconnecting: "reconnecting…",
      refused: "not connected",
      closed: "disconnected",
    };
    setText(label, labels[this.state] || this.state);
    pill.title = this.detail || "";
    setText(rate, this.state === "live" ? `${this.rate}/s` : "");
    banner.hidden = this.state !== "refused";
    if (this.state === "refused") {
      setText(this.ui.bannerText,
        this.code === "unauthorized"
          ? `The hub needs an access token: ${this.detail}`
          : `The hub refused the connection (${this.code}): ${this.detail}`);
    }
  }

  /** A short message at the bottom of the screen (kind: "info" | "error"). */
  notice(text, kind = "info") {
    const n = el("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
    this.ui.toasts.append(n);
    setTimeout(() => n.remove(), kind === "error" ? 8000 : 4000);
  }
}

function mountConnectionUI(hub) {
  const label = el("span", { class: "conn-label" }, "connecting…");
  const rate = el("span", { class: "conn-rate", title: "events per second" });
  const pill = el("span", { class: "conn", "data-state": "connecting", "aria-live": "polite" },
    el("span", { class: "dot" }), label, rate);
  document.querySelector("[data-conn]")?.append(pill);

  const input = el("input", { type: "password", placeholder: "access token", "aria-label": "access token", autocomplete: "off" });
  const bannerText = el("span");
  const banner = el("form", {
    class: "banner", hidden: true,
    onsubmit: (e) => {
      e.preventDefault();
      if (input.value) localStorage.setItem(TOKEN_KEY, input.value.trim());
      else localStorage.removeItem(TOKEN_KEY);
      hub.reconnect();
    },
  }, bannerText, el("span", { class: "banner-form" }, input, el("button", { type: "submit" }, "Connect")));
  document.body.prepend(banner);

  const toasts = el("div", { class: "toasts" });
  document.body.append(toasts);
  return { pill, label, rate, banner, bannerText, toasts };
}

// Re-exported for pages that show the status of a subscribe.
export { TOKEN_KEY, NAME_KEY };
