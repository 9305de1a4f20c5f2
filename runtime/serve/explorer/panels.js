// The live feed's lines, and the builds and triggers panels.
import { ago, clock, h, ms, replace } from "./dom.js";

const REPLICATION = new Set(["kv.sent", "kv.applied", "kv.conflict", "sql.synced"]);

export function group(kind) {
  if (kind === "request") return "requests";
  if (kind.startsWith("outbound.")) return "outbound";
  return REPLICATION.has(kind) ? "replication" : "other";
}

const ROUTES = { network: "sent", self: "a self request" };

function outboundHttp(e) {
  const where = e.route === "refuse" ? `refused: ${e.error}`
    : e.route === "chain" ? `chained to ${e.to}` : ROUTES[e.route] ?? e.route;
  const trip = e.delay_ms ? ` after a ${ms(e.delay_ms)} round trip` : "";
  return [h("b", {}, `${e.method} ${e.url}`), ` from ${e.component} in ${e.region} · ${where}${trip}`];
}

function outboundRedis(e) {
  const how = e.ok ? ms(e.ms) : `failed: ${e.error}`;
  return [h("b", {}, `redis ${e.op}`), e.key ? [" ", h("code", {}, e.key)] : "",
    ` at ${e.address} from ${e.component} in ${e.region} · ${how}`];
}

function summary(e) {
  switch (e.kind) {
    case "request":
      return [h("b", {}, `${e.method} ${e.path}`), ` → ${e.status} in ${e.region} · ${ms(e.ms)}`];
    case "kv.sent":
      return [h("code", {}, e.key), ` ${e.op} ${e.from} → ${e.to} (${e.store})`];
    case "kv.applied":
      return [h("code", {}, e.key), ` ${e.op} applied in ${e.to}, from ${e.from} (${e.store})`];
    case "kv.conflict": {
      const win = e.winner?.value?.text ?? e.winner?.value?.hex ?? "";
      return [h("code", {}, e.key), ` in ${e.region}: ${e.winner?.region} wins over ${e.loser?.region} (${win.slice(0, 32)})`];
    }
    case "sql.synced":
      return [`${e.database} replica in ${e.region} caught up: ${e.pages} pages, ${ms(e.ms)}`];
    case "network":
      return [`${e.action} ${e.region ?? "everything"}${e.other ? ` ↔ ${e.other}` : ""}`];
    case "build":
      return [`${e.component} build ${e.status}${e.ms != null ? ` · ${ms(e.ms)}` : ""}${e.error ? `: ${e.error}` : ""}`];
    case "trigger":
      return [`${e.trigger} ${e.component} in ${e.region} ${e.ok ? "ok" : "failed"} · ${ms(e.ms)}`];
    case "outbound.http":
      return outboundHttp(e);
    case "outbound.redis":
      return outboundRedis(e);
    default:
      return [JSON.stringify(e).slice(0, 160)];
  }
}

export function feedLine(e) {
  const bad = (e.kind === "request" && e.status >= 500) || e.ok === false || e.status === "failed"
    || e.route === "refuse";
  return h("li", { class: `event ${group(e.kind)}${bad ? " bad" : ""}`, dataset: { kind: e.kind, id: e.id } },
    h("time", {}, clock(e.at)), h("span", { class: "kind" }, e.kind), h("span", { class: "what" }, summary(e)),
  );
}

// `run(component, region, button)` runs a cron job now (the admin API's POST /_edge/cron/...).
export function renderTriggers(table, data, run) {
  const rows = [];
  for (const t of data.triggers || []) {
    for (const r of t.regions) {
      const last = r.last_run;
      const button = t.kind === "cron"
        ? h("button", {
          type: "button", class: "quiet", dataset: { component: t.component, region: r.region },
          title: `run every cron job of ${t.component} in ${r.region} now`,
        }, "run")
        : null;
      if (button) button.addEventListener("click", () => run(t.component, r.region, button));
      rows.push(h("tr", { dataset: { trigger: t.kind, component: t.component, region: r.region } },
        h("td", {}, t.kind === "cron" ? `cron ${t.job} (${t.schedule})` : `redis ${t.channel}`),
        h("td", {}, t.component), h("td", {}, r.region),
        h("td", { class: "num" }, String(r.runs)),
        h("td", { class: r.failures ? "num bad" : "num" }, String(r.failures)),
        h("td", {}, last ? `${ago(last.at)}${last.ok ? "" : " (failed)"}` : "never"),
        h("td", {}, button ?? ""),
      ));
    }
  }
  const head = h("tr", {}, ...["trigger", "component", "region", "runs", "failures", "last run", ""].map((t) => h("th", {}, t)));
  if (!rows.length) rows.push(h("tr", {}, h("td", { colspan: 7, class: "empty" }, "this app has no Redis or cron triggers")));
  replace(table, h("thead", {}, head), h("tbody", {}, rows));
}

// Watch mode's builds (GET /_edge/builds): per component the generation it
// serves and how its last build went.
export function renderBuilds(table, data) {
  const head = h("tr", {}, ...["component", "serving", "last build", "took", "error"].map((t) => h("th", {}, t)));
  const rows = Object.entries(data.components || {}).map(([component, b]) => {
    const status = b.status === "failed" ? "bad" : b.status === "ok" ? "ok" : b.status === "building" ? "warn" : "";
    const error = (b.error || "").trim();
    return h("tr", { dataset: { component, status: b.status } },
      h("td", { class: "key" }, component),
      h("td", {}, b.generation ? `generation ${b.generation}` : "as started"),
      h("td", {}, h("span", { class: `badge ${status}` }, b.status), b.finished ? ` ${ago(b.finished)}` : ""),
      h("td", {}, b.seconds != null ? ms(b.seconds * 1000) : ""),
      h("td", { class: "error-text", title: error }, error.split("\n")[0].slice(0, 120)),
    );
  });
  replace(table, h("thead", {}, head), h("tbody", {}, rows));
}
