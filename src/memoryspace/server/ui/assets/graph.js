// The typed links between memories as a graph: a small force layout drawn in SVG.

import { get } from "./api.js";
import { clear, colour, h, s } from "./draw.js";

const LINK_TYPES = ["related", "supports", "contradicts", "follows", "derived_from", "supersedes"];
const STEPS = 300;
const GRAVITY = 0.3;

export class GraphPanel {
  constructor(app) {
    this.app = app;
    this.svg = document.getElementById("graph");
    this.kind = document.getElementById("graph-kind");
    for (const kind of ["note", "fact", "turn", "summary", "persona", "procedure", "plan", "working"]) {
      this.kind.append(h("option", { value: kind, text: kind }));
    }
    this.kind.addEventListener("change", () => this.load());
    document.getElementById("graph-refresh").addEventListener("click", () => this.load());
    const legend = document.getElementById("graph-legend");
    for (const type of LINK_TYPES) legend.append(h("span", {}, h("i", { style: `background:${colour(`link:${type}`)}` }), type));
  }

  async load() {
    const kind = this.kind.value;
    const params = new URLSearchParams({ limit: "200", ...this.app.scope() });
    if (kind) params.set("kind", kind);
    const graph = await this.app.attempt(() => get(`/ui/api/graph?${params}`), { quiet: true });
    if (graph) this.draw(graph);
  }

  draw(graph) {
    clear(this.svg);
    const width = this.svg.getBoundingClientRect().width || 900;
    const height = 360;
    // Memories with links first; unlinked ones (most turns) are kept few so the links stay readable.
    const linked = new Set(graph.edges.flatMap((e) => [e.source, e.target]));
    const nodes = graph.nodes.filter((n) => linked.has(n.id)).concat(graph.nodes.filter((n) => !linked.has(n.id)).slice(0, 40));
    const positions = layout(nodes, graph.edges, width, height);
    this.svg.append(s("defs", {}, s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 16, refY: 5, markerWidth: 6, markerHeight: 6, orient: "auto-start-reverse" },
      s("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#888" }))));
    for (const edge of graph.edges) {
      const a = positions.get(edge.source);
      const b = positions.get(edge.target);
      if (!a || !b) continue;
      this.svg.append(s("line", {
        x1: a.x, y1: a.y, x2: b.x, y2: b.y, stroke: colour(`link:${edge.type}`), "stroke-width": edge.strong ? 2.5 : 1.2,
        "stroke-dasharray": edge.strong ? null : "4 3", "marker-end": "url(#arrow)", class: "edge", "data-type": edge.type,
      }, s("title", { text: `${edge.source} —${edge.type}${edge.strong ? " (strong)" : ""}→ ${edge.target}` })));
    }
    for (const node of nodes) {
      const p = positions.get(node.id);
      this.svg.append(s("g", { class: "node", "data-id": node.id, transform: `translate(${p.x.toFixed(1)},${p.y.toFixed(1)})` },
        s("circle", { r: node.pinned ? 8 : 6, fill: colour(node.kind), stroke: node.pinned ? "#222" : "#fff", "stroke-width": 1.5 }),
        s("title", { text: `${node.kind} ${node.id}: ${node.label}` }),
        linked.has(node.id) ? s("text", { x: 9, y: 4, text: node.label.slice(0, 28) }) : null));
    }
    if (!nodes.length) this.svg.append(s("text", { x: 12, y: 24, text: "no memories to show" }));
    else if (graph.truncated) this.svg.append(s("text", { x: 12, y: height - 8, class: "axis", text: "newest 200 memories shown" }));
  }
}

// A deterministic force layout (Fruchterman-Reingold): nodes start on a circle, edges pull,
// every pair pushes, a weak pull to the centre keeps unlinked nodes in view, and the largest
// step shrinks as the layout cools.
function layout(nodes, edges, width, height) {
  const positions = new Map();
  const n = nodes.length;
  nodes.forEach((node, i) => {
    const angle = (2 * Math.PI * i) / Math.max(1, n);
    positions.set(node.id, { x: width / 2 + 0.3 * width * Math.cos(angle), y: height / 2 + 0.3 * height * Math.sin(angle), dx: 0, dy: 0 });
  });
  const points = [...positions.values()];
  const springs = edges.filter((e) => positions.has(e.source) && positions.has(e.target) && e.source !== e.target);
  const k = 0.4 * Math.sqrt((width * height) / Math.max(1, n));
  for (let step = 0; step < STEPS; step++) {
    const temperature = (width / 10) * (1 - step / STEPS) + 0.5;
    for (const p of points) {
      p.dx = (width / 2 - p.x) * GRAVITY;
      p.dy = (height / 2 - p.y) * GRAVITY * (width / height);
    }
    for (let i = 0; i < points.length; i++) {
      for (let j = i + 1; j < points.length; j++) {
        const a = points[i];
        const b = points[j];
        const dx = a.x - b.x;
        const dy = a.y - b.y;
        const d = Math.max(0.5, Math.hypot(dx, dy));
        const push = (k * k) / d / d;
        a.dx += dx * push; a.dy += dy * push;
        b.dx -= dx * push; b.dy -= dy * push;
      }
    }
    for (const e of springs) {
      const a = positions.get(e.source);
      const b = positions.get(e.target);
      const dx = b.x - a.x;
      const dy = b.y - a.y;
      const pull = Math.hypot(dx, dy) / k;
      a.dx += dx * pull; a.dy += dy * pull;
      b.dx -= dx * pull; b.dy -= dy * pull;
    }
    for (const p of points) {
      const move = Math.hypot(p.dx, p.dy) || 1;
      const scale = Math.min(move, temperature) / move;
      p.x = Math.min(width - 20, Math.max(20, p.x + p.dx * scale));
      p.y = Math.min(height - 20, Math.max(20, p.y + p.dy * scale));
    }
  }
  return positions;
}
