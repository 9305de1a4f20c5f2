// Small DOM helpers: elements are built, never parsed from strings, so a key
// or a value from the stores can never become markup.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";

export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

export function byId(id) {
  return document.getElementById(id);
}

export function fillSelect(select, values, keep = true) {
  const previous = select.value;
  const fixed = [...select.querySelectorAll("option[data-fixed]")];
  select.replaceChildren(...fixed);
  for (const value of values) select.append(h("option", { value }, value));
  if (keep && [...select.options].some((o) => o.value === previous)) select.value = previous;
}

export function ago(seconds) {
  if (seconds === null || seconds === undefined) return "never";
  const d = Date.now() / 1000 - seconds;
  if (d < 1) return "just now";
  if (d < 90) return `${Math.round(d)} s ago`;
  if (d < 5400) return `${Math.round(d / 60)} min ago`;
  return new Date(seconds * 1000).toLocaleTimeString();
}

export function clock(seconds) {
  return new Date(seconds * 1000).toLocaleTimeString([], { hour12: false });
}

export function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export function ms(value) {
  if (value >= 1000) return `${(value / 1000).toFixed(value % 1000 ? 1 : 0)} s`;
  return `${Math.round(value)} ms`;
}
