// The SVG map: a node per region on a circle, a line per link, with its
// latency, lag, backlog and whether it is cut.
import { ms, s } from "./dom.js";

const W = 640;
const H = 380;
const R = 26;

function positions(names) {
  const cx = W / 2;
  const cy = H / 2 + 12;
  const rx = names.length <= 2 ? 200 : 230;
  const ry = names.length <= 2 ? 0 : 138;
  return Object.fromEntries(
    names.map((name, i) => {
      const angle = -Math.PI / 2 + (2 * Math.PI * i) / names.length;
      return [name, { x: cx + rx * Math.cos(angle), y: cy + ry * Math.sin(angle) }];
    }),
  );
}

// Changes waiting on a link, both ways, over every store.
function backlogs(replication) {
  const out = {};
  for (const store of replication.kv || []) {
    for (const l of store.links) {
      const key = [l.from, l.to].sort().join("|");
      out[key] = (out[key] || 0) + l.backlog;
    }
  }
  return out;
}

export function renderMap(svg, regions, replication, pick) {
  svg.replaceChildren();
  const names = regions.map((r) => r.name);
  const at = positions(names);
  const waiting = backlogs(replication);
  const links = s("g", { class: "links" });
  const labels = s("g", { class: "labels" });
  for (const link of replication.links || []) {
    const [a, b] = link.regions;
    if (!at[a] || !at[b]) continue;
    const key = `${a}|${b}`;
    const backlog = waiting[key] || 0;
    const states = [link.partitioned ? "cut" : "up", backlog ? "busy" : ""].join(" ");
    const choose = () => pick(a, b);
    links.append(
      s("line", {
        class: `link ${states}`,
        x1: at[a].x, y1: at[a].y, x2: at[b].x, y2: at[b].y,
        dataset: { link: key, partitioned: String(link.partitioned) },
        onclick: choose,
      }),
    );
    const mx = (at[a].x + at[b].x) / 2;
    const my = (at[a].y + at[b].y) / 2;
    const first = link.partitioned
      ? "partitioned"
      : `${ms(link.latency_ms)} · lag ${ms(link.lag_ms)}`;
    const second = backlog ? `${backlog} pending` : "in sync";
    labels.append(
      s("g", { class: `label ${states}`, transform: `translate(${mx} ${my})`, onclick: choose },
        s("rect", { x: -70, y: -19, width: 140, height: 38, rx: 7 }),
        s("text", { y: -3, "text-anchor": "middle" }, first),
        s("text", { y: 12, "text-anchor": "middle", class: "sub" }, second),
      ),
    );
  }
  const nodes = s("g", { class: "nodes" });
  for (const region of regions) {
    const p = at[region.name];
    const roles = [];
    if (region.default) roles.push("default");
    if (Object.values(region.sql || {}).some((d) => d.role === "primary")) roles.push("SQL primary");
    nodes.append(
      s("g", {
        class: `node${region.partitioned ? " cut" : ""}`,
        transform: `translate(${p.x} ${p.y})`,
        dataset: { region: region.name },
        onclick: () => pick(region.name, null),
      },
        s("circle", { r: R }),
        s("text", { y: 4, "text-anchor": "middle", class: "glyph" }, region.name.slice(0, 2).toUpperCase()),
        s("text", { y: R + 17, "text-anchor": "middle", class: "name" }, region.name),
        roles.length
          ? s("text", { y: R + 31, "text-anchor": "middle", class: "role" }, roles.join(" · "))
          : null,
      ),
    );
  }
  svg.append(links, labels, nodes);
}
