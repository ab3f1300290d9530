// Small DOM and SVG helpers: elements are built with textContent, never from HTML strings, so
// memory content is shown as text whatever it contains.

const SVG_NS = "http://www.w3.org/2000/svg";

export function h(tag, attrs = {}, ...children) {
  return build(document.createElement(tag), attrs, children);
}

export function s(tag, attrs = {}, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

function build(node, attrs, children) {
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

const PALETTE = ["#2f5d8a", "#d9822b", "#3c9d5d", "#b23b3b", "#7b5ea7", "#8c6d31", "#c2549d", "#5f7a8c"];
const assigned = new Map(); // name -> colour
const used = new Map(); // family -> how many colours it took

// A stable colour per name; each family ("region:", "link:", "op:", "part:"; kinds have none)
// starts at the palette's first colour, so names side by side in one legend differ.
export function colour(name) {
  if (!assigned.has(name)) {
    const family = name.includes(":") ? name.slice(0, name.indexOf(":")) : "";
    const n = used.get(family) || 0;
    used.set(family, n + 1);
    assigned.set(name, PALETTE[n % PALETTE.length]);
  }
  return assigned.get(name);
}

export const percent = (x) => `${(100 * x).toFixed(1)}%`;

export function time(seconds) {
  return new Date(seconds * 1000).toLocaleTimeString();
}

// A labelled horizontal bar, value/max filled.
export function meter(label, value, max, detail) {
  const share = max > 0 ? Math.min(1, value / max) : 0;
  return h("div", { class: "meter" },
    h("span", { class: "meter-label", text: label }),
    s("svg", { width: 160, height: 12, role: "img", "aria-label": `${label} ${percent(share)}` },
      s("rect", { width: 160, height: 12, class: "meter-back" }),
      s("rect", { width: (160 * share).toFixed(1), height: 12, class: "meter-fill" })),
    h("span", { class: "meter-value", text: detail ?? percent(share) }));
}

// Horizontal bars for a {name: count} map.
export function bars(counts) {
  const entries = Object.entries(counts).sort((a, b) => b[1] - a[1]);
  const top = Math.max(1, ...entries.map(([, n]) => n));
  const row = 18;
  return s("svg", { width: 300, height: Math.max(row, entries.length * row), class: "bars" },
    entries.map(([name, n], i) => [
      s("text", { x: 0, y: i * row + 13, text: name }),
      s("rect", { x: 90, y: i * row + 3, height: 12, width: (160 * n / top).toFixed(1), fill: colour(name) }),
      s("text", { x: 96 + 160 * n / top, y: i * row + 13, text: String(n) }),
    ]));
}

// A sparkline of values in [0, max] (e.g. a hit rate over time).
export function sparkline(values, { width = 160, height = 28, max = 1 } = {}) {
  if (values.length < 2) return s("svg", { width, height });
  const step = width / (values.length - 1);
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${(height - (height - 2) * Math.min(v, max) / max - 1).toFixed(1)}`);
  return s("svg", { width, height, class: "sparkline" }, s("polyline", { points: points.join(" ") }));
}
