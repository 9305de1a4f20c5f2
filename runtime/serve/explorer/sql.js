// The SQL view: the primary and each replica, tables per region, and the
// result of a read-only query on one region's copy.
import { ago, h, ms, replace } from "./dom.js";

export function renderRegions(table, db) {
  const head = h("tr", {}, ...["region", "role", "state", "last sync", "lag"].map((t) => h("th", {}, t)));
  const rows = db.regions.map((r) => {
    const state = r.role === "primary"
      ? h("span", { class: "badge ok" }, "primary")
      : r.partitioned
        ? h("span", { class: "badge bad" }, "partitioned")
        : r.current
          ? h("span", { class: "badge ok" }, "current")
          : h("span", { class: "badge warn" }, "behind");
    return h("tr", { dataset: { region: r.region, current: String(r.current) } },
      h("td", {}, r.region), h("td", {}, r.role), h("td", {}, state),
      h("td", {}, r.role === "primary" ? "—" : ago(r.synced_at)),
      h("td", {}, r.role === "primary" ? "—" : ms(r.lag_ms)),
    );
  });
  replace(table, h("thead", {}, head), h("tbody", {}, rows));
}

export function renderTables(table, data, regions) {
  const head = h("tr", {}, h("th", {}, "table"), ...regions.map((r) => h("th", {}, r)));
  const rows = data.tables.map((t) => {
    const counts = regions.map((r) => t.rows[r]);
    const differ = new Set(counts).size > 1;
    return h("tr", { class: differ ? "differs" : "" },
      h("td", { class: "key" }, t.name),
      ...counts.map((c) => h("td", { class: "num" }, c === null || c === undefined ? "—" : String(c))),
    );
  });
  if (!rows.length) rows.push(h("tr", {}, h("td", { colspan: regions.length + 1, class: "empty" }, "no tables yet")));
  replace(table, h("thead", {}, head), h("tbody", {}, rows));
}

function shown(value) {
  if (value === null) return h("span", { class: "muted" }, "NULL");
  if (typeof value === "object") return h("code", {}, `x'${value.blob}${value.size > value.blob.length / 2 ? "…" : ""}'`);
  return String(value);
}

export function renderResult(box, result) {
  if (result.error) {
    replace(box, h("div", { class: "error", role: "alert" }, result.code ? `${result.code}: ` : "", result.error));
    return;
  }
  const table = h("table", { class: "grid result" },
    h("thead", {}, h("tr", {}, result.columns.map((c) => h("th", {}, c)))),
    h("tbody", {}, result.rows.map((row) => h("tr", {}, row.map((v) => h("td", {}, shown(v)))))),
  );
  const note = `${result.rows.length} row${result.rows.length === 1 ? "" : "s"} from ${result.region}` +
    (result.truncated ? " (cut: more rows exist)" : "");
  replace(box, h("div", { class: "muted result-note" }, note), table);
}
