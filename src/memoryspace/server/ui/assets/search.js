// Search with score parts, and the controls that change memories: pin, edit, forget, insert.

import { ApiError, del, patch, post } from "./api.js";
import { clear, colour, h, s } from "./draw.js";

const PART_NAMES = [
  ["dense_relevance", "dense"],
  ["sparse_relevance", "BM25"],
  ["speaker_boost", "speaker"],
  ["session_boost", "session"],
  ["phrase_boost", "phrase"],
  ["entity_boost", "entity"],
  ["session_lift", "lift"],
];

export class SearchPanel {
  constructor(app) {
    this.app = app;
    this.list = document.getElementById("results");
    this.rows = new Map(); // id -> {memory, node}
    document.getElementById("search-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.search();
    });
    document.getElementById("forget-preview").addEventListener("click", () => this.previewForget());
    document.getElementById("insert-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.insert();
    });
    const kinds = document.getElementById("insert-kind");
    for (const kind of ["fact", "note", "turn", "summary", "persona", "procedure", "plan", "working"]) {
      kinds.append(h("option", { text: kind }));
    }
  }

  async search() {
    const query = document.getElementById("query").value.trim();
    if (!query) return;
    const k = Number(document.getElementById("k").value) || 10;
    const hits = await this.app.attempt(() => post("/search", { query, k, ...this.app.scope() }));
    if (!hits) return;
    clear(this.list);
    this.rows.clear();
    if (!hits.length) this.list.append(h("li", { class: "empty", text: "no memory matches" }));
    for (const hit of hits) this.show(hit.memory, hit);
  }

  show(memory, hit) {
    const node = h("li", { class: "hit", "data-id": memory.id });
    this.rows.set(memory.id, { memory, hit, node });
    this.fill(memory.id);
    this.list.append(node);
  }

  // (Re)draws one result row from its current memory.
  fill(id) {
    const row = this.rows.get(id);
    const { memory, hit, node } = row;
    clear(node);
    node.classList.toggle("pinned", memory.pinned);
    const canWrite = this.app.can("write");
    node.append(
      h("div", { class: "hit-head" },
        h("span", { class: "score", title: "calibrated score in [0, 1]", text: hit ? hit.score.toFixed(3) : "" }),
        h("span", { class: "badge", style: `background:${colour(memory.kind)}`, text: memory.kind }),
        memory.pinned ? h("span", { class: "badge pin", text: "pinned" }) : null,
        h("span", { class: "scope", text: [memory.user && `user:${memory.user}`, memory.agent && `agent:${memory.agent}`].filter(Boolean).join(" ") }),
        h("code", { class: "id", text: memory.id })),
      h("p", { class: "content", text: memory.content }),
      hit ? scoreParts(hit) : null,
      canWrite ? h("div", { class: "actions" },
        h("button", { type: "button", class: "pin-toggle", onclick: () => this.togglePin(id), text: memory.pinned ? "Unpin" : "Pin" }),
        h("button", { type: "button", class: "edit", onclick: () => this.edit(id), text: "Edit" }),
        h("button", { type: "button", class: "forget", onclick: () => this.forget(id), text: "Forget" })) : null);
  }

  async togglePin(id) {
    const { memory } = this.rows.get(id);
    const updated = await this.app.attempt(() => post(`/memories/${encodeURIComponent(id)}/${memory.pinned ? "unpin" : "pin"}`));
    if (updated) this.changed(updated);
  }

  // An inline editor; changes arriving meanwhile do not redraw the row (they would throw the
  // text away): the save is conditional on the version the edit started from instead.
  edit(id) {
    const row = this.rows.get(id);
    const area = h("textarea", { rows: 3, class: "edit-content" });
    area.value = row.memory.content;
    row.editingFrom = row.memory.version;
    const close = () => {
      row.editingFrom = undefined;
      this.fill(id);
    };
    const save = async () => {
      const content = area.value.trim();
      if (!content) return;
      try {
        const updated = await post_patch(id, { content, if_version: row.editingFrom });
        row.memory = { ...row.memory, ...updated };
        close();
      } catch (error) {
        if (error instanceof ApiError && error.status === 409) {
          this.app.notify("someone changed this memory meanwhile: its new text is shown, edit again");
          close();
          return;
        }
        this.app.notify(error.message);
      }
    };
    const content = row.node.querySelector(".content");
    content.replaceWith(h("div", { class: "editor" }, area,
      h("button", { type: "button", class: "save", onclick: save, text: "Save" }),
      h("button", { type: "button", onclick: close, text: "Cancel" })));
    area.focus();
  }

  // forget(query, k) in two steps: a dry run lists what would go (marked in the results), then
  // the user confirms. The query is run again on confirm, so the list is a preview, not a lock.
  async previewForget() {
    const query = document.getElementById("query").value.trim();
    if (!query) return;
    const k = Number(document.getElementById("k").value) || 10;
    const body = { query, k, ...this.app.scope() };
    const plan = await this.app.attempt(() => post("/forget", { ...body, dry_run: true }));
    if (!plan) return;
    const box = clear(document.getElementById("forget-plan"));
    box.hidden = false;
    for (const row of this.rows.values()) row.node.classList.toggle("doomed", plan.would_delete.includes(row.memory.id));
    if (!plan.would_delete.length) {
      box.append("forget would delete nothing for this query");
      return;
    }
    box.append(`forget would delete ${plan.would_delete.length}: ${plan.would_delete.join(", ")} `,
      h("button", { type: "button", class: "forget confirm", text: `Forget ${plan.would_delete.length}`, onclick: async () => {
        const done = await this.app.attempt(() => post("/forget", body));
        box.hidden = true;
        if (done) {
          for (const id of done.deleted) this.removed(id);
          this.app.notify(`forgot ${done.deleted.length}`, "ok");
        }
      } }),
      h("button", { type: "button", text: "Cancel", onclick: () => {
        box.hidden = true;
        for (const row of this.rows.values()) row.node.classList.remove("doomed");
      } }));
  }

  async forget(id) {
    const done = await this.app.attempt(() => del(`/memories/${encodeURIComponent(id)}`));
    if (done) this.removed(id);
  }

  async insert() {
    const text = (name) => document.getElementById(name).value.trim();
    const body = { content: text("insert-content"), kind: text("insert-kind") };
    if (!body.content) return;
    if (text("insert-user")) body.user = text("insert-user");
    if (text("insert-agent")) body.agent = text("insert-agent");
    if (!body.user && !body.agent) Object.assign(body, this.app.scope());
    const tags = text("insert-tags").split(",").map((t) => t.trim()).filter(Boolean);
    if (tags.length) body.tags = tags;
    if (document.getElementById("insert-pinned").checked) body.pinned = true;
    const added = await this.app.attempt(() => post("/memories", body));
    if (added) {
      document.getElementById("insert-content").value = "";
      this.app.notify(`stored ${added.id}`, "ok");
    }
  }

  // A change seen here or on the feed: redraw the row if the memory is shown.
  changed(memory) {
    const row = this.rows.get(memory.id);
    if (!row) return;
    row.memory = { ...row.memory, ...memory };
    if (row.editingFrom === undefined) this.fill(memory.id);
  }

  removed(id) {
    const row = this.rows.get(id);
    if (!row) return;
    row.node.remove();
    this.rows.delete(id);
  }
}

function post_patch(id, body) {
  return patch(`/memories/${encodeURIComponent(id)}`, body);
}

// The parts of a hit's score: each relevance as a bar segment, boosts as chips.
function scoreParts(hit) {
  const parts = hit.parts || {};
  const shown = PART_NAMES.filter(([name]) => typeof parts[name] === "number" && parts[name] !== 0);
  const width = 200;
  const total = shown.reduce((sum, [name]) => sum + Math.max(0, parts[name]), 0) || 1;
  let x = 0;
  const segments = shown.map(([name, label]) => {
    const w = width * Math.max(0, parts[name]) / total;
    const rect = s("rect", { x: x.toFixed(1), y: 0, width: w.toFixed(1), height: 10, fill: colour(`part:${label}`) },
      s("title", { text: `${label} ${parts[name].toFixed(3)}` }));
    x += w;
    return rect;
  });
  return h("div", { class: "parts" },
    s("svg", { width, height: 10 }, segments),
    shown.map(([name, label]) => h("span", { class: "part", "data-part": label },
      h("i", { style: `background:${colour(`part:${label}`)}` }), `${label} ${parts[name].toFixed(3)}`)),
    parts.dense_rank != null ? h("span", { class: "part", text: `dense rank ${parts.dense_rank}` }) : null,
    parts.sparse_rank != null ? h("span", { class: "part", text: `BM25 rank ${parts.sparse_rank}` }) : null,
    parts.via ? h("span", { class: "part", text: `via ${parts.via_link} link from ${parts.via}` }) : null,
    h("span", { class: "part", text: `fused (RRF) ${(parts.fused ?? 0).toFixed(4)}` }));
}
