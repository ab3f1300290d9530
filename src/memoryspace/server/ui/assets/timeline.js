// The op log: who changed what, newest first, live from the change feed; an admin key can undo
// (restore the state before a change) and take or restore checkpoints.

import { get, post } from "./api.js";
import { clear, colour, h, s, time } from "./draw.js";

const SHOWN = 200;

export class TimelinePanel {
  constructor(app) {
    this.app = app;
    this.list = document.getElementById("timeline");
    this.strip = document.getElementById("timeline-strip");
    this.changes = []; // oldest first
    document.getElementById("checkpoint-take").addEventListener("click", () => this.checkpoint());
  }

  async load(lsn) {
    const page = await this.app.attempt(() => get(`/changes?since=${Math.max(0, lsn - SHOWN)}&limit=${SHOWN}`));
    this.changes = page || [];
    this.redraw();
    if (this.app.isAdmin()) this.loadCheckpoints();
  }

  add(change) {
    if (this.changes.length && this.changes[this.changes.length - 1].lsn >= change.lsn) return;
    this.changes.push(change);
    if (this.changes.length > SHOWN) this.changes.shift();
    this.list.prepend(this.row(change));
    while (this.list.children.length > SHOWN) this.list.lastChild.remove();
    this.drawStrip();
  }

  redraw() {
    clear(this.list);
    for (const change of [...this.changes].reverse()) this.list.append(this.row(change));
    this.drawStrip();
  }

  row(change) {
    const state = change.after || change.before;
    const summary = state ? state.content : "";
    return h("li", { class: "change", "data-lsn": change.lsn, "data-id": change.id, "data-op": change.op },
      h("span", { class: "lsn", text: `#${change.lsn}` }),
      h("span", { class: "when", text: time(change.time) }),
      h("span", { class: "badge", style: `background:${colour(`op:${change.op}`)}`, text: change.op }),
      h("span", { class: "actor", text: change.actor || "local" }),
      h("code", { class: "id", text: change.id }),
      h("span", { class: "summary", text: summary.length > 120 ? `${summary.slice(0, 119)}…` : summary }),
      this.app.isAdmin() ? h("button", {
        type: "button", class: "undo", title: `restore the state as of LSN ${change.lsn - 1} (itself undoable)`,
        onclick: () => this.restore({ to_lsn: change.lsn - 1 }, `undo back to before #${change.lsn}`), text: "Undo to here",
      }) : null);
  }

  // Each change as a tick on a time axis, coloured by operation.
  drawStrip() {
    clear(this.strip);
    if (!this.changes.length) return;
    const width = this.strip.getBoundingClientRect().width || 800;
    const first = this.changes[0].time;
    const span = Math.max(1e-3, this.changes[this.changes.length - 1].time - first);
    for (const change of this.changes) {
      const x = 4 + (width - 8) * (change.time - first) / span;
      this.strip.append(s("line", { x1: x, x2: x, y1: 4, y2: 24, stroke: colour(`op:${change.op}`), "stroke-width": 2 },
        s("title", { text: `#${change.lsn} ${change.op} ${change.id} by ${change.actor || "local"}` })));
    }
    this.strip.append(s("text", { x: 4, y: 33, class: "axis", text: time(first) }),
      s("text", { x: width - 4, y: 33, class: "axis", "text-anchor": "end", text: time(first + span) }));
  }

  async restore(body, what) {
    const changes = await this.app.attempt(() => post("/restore", body));
    if (changes) this.app.notify(`${what}: ${changes.length} changes logged`, "ok");
  }

  async checkpoint() {
    const name = document.getElementById("checkpoint-name").value.trim();
    if (!name) return;
    const made = await this.app.attempt(() => post("/checkpoints", { name }));
    if (made) {
      this.app.notify(`checkpoint ${made.name} at LSN ${made.lsn}`, "ok");
      this.loadCheckpoints();
    }
  }

  async loadCheckpoints() {
    const node = document.getElementById("checkpoints");
    const list = await this.app.attempt(() => get("/checkpoints"), { quiet: true });
    clear(node);
    for (const checkpoint of list || []) {
      node.append(h("button", {
        type: "button", class: "checkpoint", title: `restore checkpoint ${checkpoint.name} (LSN ${checkpoint.lsn})`,
        onclick: () => this.restore({ name: checkpoint.name }, `restored ${checkpoint.name}`), text: `⟲ ${checkpoint.name} @${checkpoint.lsn}`,
      }));
    }
  }
}
