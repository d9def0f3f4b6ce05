// Alerts page: active, acknowledged and recently cleared alerts of the whole fleet, live.
// On open / resync: GET /api/alerts (open ones, and the last 200 cleared), subscribe ["*"]
// without history. Live: alert. Sends alert:ack.

import { Hub, apiGet } from "./hub.js";
import { AlertBook } from "./alerts-model.js";
import { AlertList } from "./alert-item.js";
import { setText, frameBatcher, refreshAgo, param } from "./util.js";

const STATES = ["active", "acknowledged", "cleared"];
const CLEARED_SHOWN = 200;

const book = new AlertBook();
let clockOffset = 0;
const hubNow = () => Date.now() + clockOffset;
const view = { q: param("q") || "", sev: param("severity") || "all" };

const q = document.getElementById("q");
const sevChips = document.getElementById("severity");
const columns = Object.fromEntries(STATES.map((s) => [s, {
  list: new AlertList(document.getElementById(`col-${s}`), {
    showDevice: true,
    onAck: async (id) => {
      const ack = await hub.request("alert:ack", { id });
      if (ack.alert && book.apply(ack.alert)) schedule();
      return ack.alert;
    },
  }),
  count: document.getElementById(`c-${s}`),
  total: document.getElementById(`n-${s}`),
  empty: document.getElementById(`e-${s}`),
}]));

function matches(a) {
  if (view.sev !== "all" && a.severity !== view.sev) return false;
  if (!view.q) return true;
  const needle = view.q.toLowerCase();
  return [a.device, a.rule, a.metric, a.message, a.severity].some((x) => typeof x === "string" && x.toLowerCase().includes(needle));
}

let renderedVersion = -1;
function render() {
  const key = `${book.version}|${view.q}|${view.sev}`;
  if (key === renderedVersion) return;
  renderedVersion = key;
  const now = hubNow();
  for (const s of STATES) {
    const all = book.list([s]);
    const shown = all.filter(matches).slice(0, s === "cleared" ? CLEARED_SHOWN : Infinity);
    const col = columns[s];
    col.list.render(shown, now);
    setText(col.total, all.length);
    setText(col.count, shown.length === all.length ? all.length : `${shown.length} / ${all.length}`);
    col.empty.hidden = shown.length > 0;
  }
  document.title = `${book.list(["active"]).length ? `(${book.list(["active"]).length}) ` : ""}Alerts · Fluxgate`;
}
const schedule = frameBatcher(render);
setInterval(() => refreshAgo(document.body, hubNow()), 1000);

async function sync() {
  await hub.subscribe(["*"], { history: false, events: ["alert"] });
  const [open, cleared] = await Promise.all([
    apiGet("/api/alerts?state=active,acknowledged&limit=1000"),
    apiGet(`/api/alerts?state=cleared&limit=${CLEARED_SHOWN}`),
  ]);
  clockOffset = open.ts - Date.now();
  book.replace([...open.alerts, ...cleared.alerts]);
  schedule();
}

function saveView() {
  const url = new URL(location.href);
  if (view.q) url.searchParams.set("q", view.q);
  else url.searchParams.delete("q");
  if (view.sev !== "all") url.searchParams.set("severity", view.sev);
  else url.searchParams.delete("severity");
  history.replaceState(null, "", url);
  schedule();
}

q.value = view.q;
q.addEventListener("input", () => {
  view.q = q.value.trim();
  saveView();
});
for (const b of sevChips.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b.dataset.sev === view.sev));
sevChips.addEventListener("click", (e) => {
  const b = e.target.closest("button[data-sev]");
  if (!b) return;
  view.sev = b.dataset.sev;
  for (const x of sevChips.querySelectorAll("button")) x.setAttribute("aria-pressed", String(x === b));
  saveView();
});

const hub = new Hub({ onSync: sync });
hub.on("alert", (a) => {
  if (book.apply(a)) schedule();
});
