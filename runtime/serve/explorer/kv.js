// The key-value view: keys side by side across regions, one value in full,
// and the outboxes that have not been delivered yet.
import { ago, bytes, clock, h, replace } from "./dom.js";

function shortText(preview, max = 48) {
  if (preview.text === null) return `0x${preview.hex.slice(0, 24)}${preview.hex.length > 24 ? "…" : ""}`;
  const text = preview.text.replace(/\s+/g, " ");
  return text.length > max || preview.cut ? `${text.slice(0, max)}…` : text;
}

function cell(copy, open) {
  if (copy.state === "absent") return h("td", { class: "absent" }, "—");
  const when = `written ${ago(copy.written_at)} in ${copy.origin}`;
  if (copy.state === "deleted") return h("td", { class: "deleted", title: when }, "deleted");
  return h("td", { class: "present", title: when },
    h("button", { type: "button", class: "link-button", onclick: open }, shortText(copy.preview)),
    h("span", { class: "size" }, bytes(copy.size)),
  );
}

export function renderKeys(table, data, onlyDiffers, open) {
  const head = h("tr", {}, h("th", {}, "key"), ...data.regions.map((r) => h("th", {}, r)), h("th", {}, ""));
  const rows = data.keys
    .filter((k) => !onlyDiffers || k.differs)
    .map((k) =>
      h("tr", { class: k.differs ? "differs" : "same", dataset: { key: k.key, differs: String(k.differs) } },
        h("td", { class: "key" }, k.key),
        ...data.regions.map((r) => cell(k.regions[r], () => open(k.key, r))),
        h("td", {}, k.differs ? h("span", { class: "badge warn" }, "differs") : h("span", { class: "badge ok" }, "same")),
      ),
    );
  if (!rows.length) {
    rows.push(h("tr", {}, h("td", { colspan: data.regions.length + 2, class: "empty" }, "no keys")));
  }
  replace(table, h("thead", {}, head), h("tbody", {}, rows));
}

function decode(base64) {
  const raw = atob(base64);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

function hexDump(data) {
  const lines = [];
  for (let i = 0; i < data.length && i < 65536; i += 16) {
    const chunk = [...data.slice(i, i + 16)];
    const hex = chunk.map((b) => b.toString(16).padStart(2, "0")).join(" ");
    const text = chunk.map((b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : ".")).join("");
    lines.push(`${i.toString(16).padStart(8, "0")}  ${hex.padEnd(47)}  ${text}`);
  }
  if (data.length > 65536) lines.push(`… ${data.length - 65536} more bytes`);
  return lines.join("\n");
}

export function renderValue(box, value, close) {
  box.hidden = false;
  const title = h("div", { class: "value-head" },
    h("strong", {}, value.key), ` in ${value.region} · `,
    value.state === "present" ? `${bytes(value.size)} · written ${ago(value.written_at)} in ${value.origin}` : value.state,
    h("button", { type: "button", class: "quiet close", onclick: close }, "close"),
  );
  if (value.state !== "present") {
    replace(box, title);
    return;
  }
  const data = decode(value.base64);
  let text = null;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(data);
  } catch {
    text = null;
  }
  let json = null;
  if (text !== null) {
    try {
      json = JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      json = null;
    }
  }
  const views = { text, json, hex: hexDump(data) };
  const pre = h("pre", { class: "value-body" });
  const tabs = h("div", { class: "tabs" });
  const show = (name) => {
    pre.textContent = views[name];
    for (const b of tabs.children) b.classList.toggle("active", b.dataset.view === name);
  };
  for (const name of ["text", "json", "hex"]) {
    tabs.append(h("button", { type: "button", dataset: { view: name }, disabled: views[name] === null, onclick: () => show(name) }, name));
  }
  replace(box, title, tabs, pre);
  show(json !== null ? "json" : text !== null ? "text" : "hex");
}

export function renderPending(box, data) {
  const waiting = data.links.filter((l) => l.backlog > 0);
  if (!waiting.length) {
    replace(box, h("p", { class: "muted" }, "every change has been delivered"));
    return;
  }
  const now = Date.now() / 1000;
  replace(box, ...waiting.map((l) =>
    h("div", { class: `outbox${l.partitioned ? " cut" : ""}`, dataset: { from: l.from, to: l.to } },
      h("div", { class: "outbox-head" }, `${l.from} → ${l.to}`,
        h("span", { class: "badge" }, `${l.backlog} pending`),
        l.partitioned ? h("span", { class: "badge bad" }, "partitioned") : null),
      h("ul", {}, l.changes.map((c) =>
        h("li", {},
          h("code", {}, c.key), ` ${c.op}`,
          c.preview ? h("span", { class: "muted" }, ` ${shortText(c.preview, 32)}`) : null,
          h("span", { class: "when" },
            c.due_at === null ? "waits for heal" : c.due_at > now ? `due ${clock(c.due_at)}` : "due now"),
        ),
      )),
    ),
  ));
}
