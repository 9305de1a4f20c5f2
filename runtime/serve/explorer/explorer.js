// The regions explorer: loads the state once, then follows the live feed
// (GET /_edge/events) and refreshes only what each event concerns.
import { ApiError, get, post, setToken, throttle, ticket, token } from "./api.js";
import { byId, fillSelect, h, replace } from "./dom.js";
import { renderKeys, renderPending, renderValue } from "./kv.js";
import { renderMap } from "./map.js";
import { feedLine, group, renderBuilds, renderTriggers } from "./panels.js";
import { renderRegions, renderResult, renderTables } from "./sql.js";
import { follow } from "./stream.js";

const FEED_MAX = 200;
const POLL_MS = 2000; // only while there is no live feed
const state = { regions: [], replication: { links: [], kv: [], sql: [] }, lastId: 0 };

function message(text, bad = false) {
  const box = byId("net-message");
  box.textContent = text;
  box.classList.toggle("bad", bad);
}

// --- regions, links and the network controls ------------------------------------

function drawMap() {
  // A region is partitioned when every one of its links is cut.
  for (const region of state.regions) {
    const own = state.replication.links.filter((l) => l.regions.includes(region.name));
    region.partitioned = own.length > 0 && own.every((l) => l.partitioned);
  }
  renderMap(byId("map"), state.regions, state.replication, (a, b) => {
    byId("net-region").value = a;
    byId("net-other").value = b ?? "";
  });
}

async function loadRegions() {
  state.regions = (await get("regions")).regions;
  const names = state.regions.map((r) => r.name);
  fillSelect(byId("net-region"), names);
  fillSelect(byId("net-other"), names);
  fillSelect(byId("sql-region"), names);
  byId("app-name").textContent = `${location.host} · ${names.length} regions`;
}

async function loadReplication() {
  const latest = ticket("replication");
  const replication = await get("replication");
  if (!latest()) return;
  state.replication = replication;
  drawMap();
  fillSelect(byId("kv-store"), state.replication.kv.map((s) => s.store));
  fillSelect(byId("sql-db"), state.replication.sql.map((d) => d.database));
  byId("kv-card").hidden = state.replication.kv.length === 0;
  byId("sql-card").hidden = state.replication.sql.length === 0;
  drawSqlRegions();
}

function target() {
  const region = byId("net-region").value;
  const other = byId("net-other").value;
  return other && other !== region ? { region, other } : { region };
}

async function network(path, body, done) {
  try {
    const answer = await post(path, body);
    ticket("replication"); // a load begun before this answer is older than it
    state.replication.links = answer.links;
    drawMap();
    message(done);
    refreshReplication();
  } catch (err) {
    message(err.message, true);
  }
}

function describe(t) {
  return t.other ? `${t.region} ↔ ${t.other}` : t.region;
}

function wireNetwork() {
  byId("btn-partition").addEventListener("click", () => {
    const t = target();
    network("partition", t, `partitioned ${describe(t)}`);
  });
  byId("btn-heal").addEventListener("click", () => {
    const t = target();
    network("heal", t, `healed ${describe(t)}`);
  });
  byId("btn-heal-all").addEventListener("click", () => network("heal", {}, "healed every link"));
  byId("btn-lag").addEventListener("click", () => {
    const t = target();
    const lag = byId("net-lag").value.trim();
    network("lag", { lag, ...t }, `lag ${lag} on ${describe(t)}`);
  });
}

// --- key-value -------------------------------------------------------------------

async function loadKeys() {
  const store = byId("kv-store").value;
  if (!store) return;
  const latest = ticket("keys");
  const data = await get("kv/keys", {
    store,
    prefix: byId("kv-prefix").value,
    contains: byId("kv-contains").value,
    limit: "200",
  });
  if (!latest()) return;
  renderKeys(byId("kv-table"), data, byId("kv-only-differs").checked, openValue);
  const differing = data.keys.filter((k) => k.differs).length;
  byId("kv-summary").textContent =
    `${data.keys.length}${data.truncated ? "+" : ""} keys · ${differing} differ between regions`;
}

async function loadPending() {
  const store = byId("kv-store").value;
  if (!store) return;
  const latest = ticket("pending");
  const data = await get("kv/pending", { store });
  if (latest()) renderPending(byId("kv-pending"), data);
}

async function openValue(key, region) {
  const box = byId("kv-value");
  try {
    const value = await get("kv/value", { store: byId("kv-store").value, key, region });
    renderValue(box, value, () => { box.hidden = true; });
  } catch (err) {
    box.hidden = false;
    replace(box, h("div", { class: "error" }, err.message));
  }
}

function wireKv() {
  const again = throttle(loadKeys, 250);
  for (const id of ["kv-prefix", "kv-contains"]) byId(id).addEventListener("input", again);
  byId("kv-only-differs").addEventListener("change", again);
  byId("kv-store").addEventListener("change", () => { loadKeys(); loadPending(); });
  byId("kv-controls").addEventListener("submit", (e) => e.preventDefault());
}

// --- SQL -------------------------------------------------------------------------

function drawSqlRegions() {
  const db = state.replication.sql.find((d) => d.database === byId("sql-db").value);
  if (db) renderRegions(byId("sql-regions"), db);
}

async function loadTables() {
  const database = byId("sql-db").value;
  if (!database) return;
  const latest = ticket("tables");
  const data = await get("sql/tables", { database });
  if (latest()) renderTables(byId("sql-tables"), data, state.regions.map((r) => r.name));
}

function wireSql() {
  byId("sql-db").addEventListener("change", () => { drawSqlRegions(); loadTables(); });
  byId("sql-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { database: byId("sql-db").value, region: byId("sql-region").value, sql: byId("sql-text").value };
    const box = byId("sql-result");
    replace(box, h("div", { class: "muted result-note" }, `running on ${body.region}…`));
    try {
      renderResult(box, await post("sql/query", body));
    } catch (err) {
      renderResult(box, { error: err.message, code: null });
    }
  });
}

// --- builds and triggers ---------------------------------------------------------

async function loadBuilds() {
  try {
    const builds = await get("builds");
    renderBuilds(byId("builds"), builds);
    byId("builds-panel").hidden = !builds.watching;
  } catch (err) {
    // No watch mode here (404): no panel.
    byId("builds-panel").hidden = true;
    if (!(err instanceof ApiError && err.status === 404)) console.warn(err);
  }
}

async function loadTriggers() {
  renderTriggers(byId("triggers"), await get("triggers"), runCron);
}

// The run button of a cron job: POST /_edge/cron/{component} in that region.
async function runCron(component, region, button) {
  const box = byId("trigger-message");
  button.disabled = true;
  try {
    const answer = await post(`cron/${encodeURIComponent(component)}`, { region });
    const failed = answer.runs.filter((r) => !r.ok);
    box.textContent = failed.length
      ? `${component} in ${region} failed: ${failed[0].error ?? "see the worker's log"}`
      : `${component} ran in ${region}`;
    box.classList.toggle("bad", failed.length > 0);
  } catch (err) {
    box.textContent = err.message;
    box.classList.add("bad");
  } finally {
    button.disabled = false;
    refreshTriggers();
  }
}

// --- the live feed ---------------------------------------------------------------

const refreshReplication = throttle(loadReplication, 500);
const refreshKeys = throttle(loadKeys, 400);
const refreshPending = throttle(loadPending, 400);
const refreshTables = throttle(loadTables, 1000);
const refreshBuilds = throttle(loadBuilds, 1000);
const refreshTriggers = throttle(loadTriggers, 1000);

function visible(kind) {
  return byId(`feed-${group(kind)}`).checked;
}

function show(e) {
  // The explorer's own calls are not the app's traffic.
  if (e.kind === "request" && String(e.path).startsWith("/_edge/")) return;
  const feed = byId("feed");
  const line = feedLine(e);
  line.hidden = !visible(e.kind);
  feed.prepend(line);
  byId("feed-empty").hidden = true;
  while (feed.children.length > FEED_MAX) feed.lastChild.remove();
}

function handle(e) {
  if (typeof e.id === "number") state.lastId = Math.max(state.lastId, e.id);
  show(e);
  switch (e.kind) {
    case "kv.sent":
    case "kv.applied":
    case "kv.conflict":
      if (e.store === byId("kv-store").value) {
        refreshKeys();
        refreshPending();
      }
      refreshReplication();
      break;
    case "sql.synced":
      refreshReplication();
      refreshTables();
      break;
    case "network":
      if (Array.isArray(e.links)) {
        ticket("replication");
        state.replication.links = e.links;
        drawMap();
      }
      refreshReplication();
      break;
    case "build":
      refreshBuilds();
      break;
    case "trigger":
      refreshTriggers();
      break;
    case "request":
      // A write changes the writer's copy now (the others follow with kv and
      // sql events), and leaves SQL replicas behind.
      if (e.method !== "GET" && e.method !== "HEAD") {
        refreshKeys();
        refreshPending();
        refreshTables();
        refreshReplication();
      }
      break;
    default:
      break;
  }
}

function status(name, text) {
  const el = byId("feed-status");
  el.dataset.state = name;
  el.textContent = text;
}

let poller = null;

function poll() {
  if (poller !== null) return;
  status("polling", "no live feed · polling");
  byId("feed-empty").textContent = "this edge up has no event feed: the views refresh every 2 s";
  poller = setInterval(() => {
    refreshReplication();
    refreshKeys();
    refreshPending();
    refreshTables();
  }, POLL_MS);
}

function stopPolling() {
  if (poller !== null) clearInterval(poller);
  poller = null;
}

let retry = 1000;

function received(data) {
  try {
    handle(JSON.parse(data));
  } catch (err) {
    console.warn("bad event", err);
  }
}

function connect() {
  if (token()) {
    follow({
      after: () => state.lastId,
      onOpen: () => {
        stopPolling();
        status("live", "live");
      },
      onData: received,
      onDrop: () => status("reconnecting", "reconnecting"),
    });
    return;
  }
  // EventSource reconnects by itself after a dropped stream, sending
  // Last-Event-ID; an HTTP error closes it, and we start again from lastId.
  const source = new EventSource(`events?after=${state.lastId}`);
  source.onopen = () => {
    retry = 1000;
    stopPolling();
    status("live", "live");
  };
  source.onmessage = (m) => received(m.data);
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) {
      poll();
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 30000);
    } else {
      status("reconnecting", "reconnecting");
    }
  };
}

async function startFeed() {
  try {
    const recent = await get("events/recent", { limit: String(FEED_MAX) });
    for (const e of recent.events) show(e);
    state.lastId = recent.last ?? state.lastId;
    connect();
  } catch (err) {
    poll(); // no event log on this edge up (yet): keep the views fresh by polling
    if (!(err instanceof ApiError && err.status === 404)) setTimeout(startFeed, 5000);
  }
}

function wireFeed() {
  for (const name of ["requests", "replication", "outbound", "other"]) {
    byId(`feed-${name}`).addEventListener("change", () => {
      for (const line of byId("feed").children) line.hidden = !visible(line.dataset.kind);
    });
  }
}

// `#token=...` in the URL, or the form shown after a 401: kept for this tab.
function takeToken() {
  const given = new URLSearchParams(location.hash.slice(1)).get("token");
  if (given) {
    setToken(given);
    history.replaceState(null, "", location.pathname + location.search);
  }
  byId("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    setToken(byId("token-input").value.trim());
    location.reload();
  });
}

function askToken(err) {
  if (!(err instanceof ApiError && err.status === 401)) return false;
  setToken(null);
  byId("token-form").hidden = false;
  byId("token-input").focus();
  return true;
}

async function main() {
  takeToken();
  wireNetwork();
  wireKv();
  wireSql();
  wireFeed();
  await loadRegions();
  await loadReplication();
  await Promise.allSettled([loadKeys(), loadPending(), loadTables(), loadTriggers(), loadBuilds()]);
  document.body.dataset.ready = "true";
  startFeed();
}

main().catch((err) => {
  if (!askToken(err)) message(`the explorer could not load: ${err.message}`, true);
});
