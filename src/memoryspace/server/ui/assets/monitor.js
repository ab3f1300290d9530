// What the space is doing: sizes, tiers and hit rates (/stats), the context heap's layout and
// fragmentation (/context), and garbage collections with their pauses (/stats, /gc).

import { get, post } from "./api.js";
import { bars, clear, colour, h, meter, percent, s, sparkline, time } from "./draw.js";

const HISTORY = 60;

export class TiersPanel {
  constructor(app) {
    this.app = app;
    this.node = document.getElementById("tiers");
    this.hitRates = [];
  }

  draw(stats, session) {
    clear(this.node);
    const generations = stats.generations || {};
    this.node.append(
      h("div", { class: "cards" },
        card("memories", stats.memories, "memories"),
        card("pinned", stats.pinned, "pinned"),
        card("archived", stats.archived, "archived"),
        stats.generations ? card("young / old", `${generations.young ?? 0} / ${generations.old ?? 0}`, "generations") : null,
        stats.database_bytes != null ? card("database", `${(stats.database_bytes / 1048576).toFixed(2)} MiB`, "database") : null),
      h("h3", { text: "by kind" }),
      bars(stats.by_kind || {}));
    const hot = stats.hot_tier;
    const config = session && session.hot_tier;
    if (hot) {
      this.hitRates.push(hot.hit_rate);
      if (this.hitRates.length > HISTORY) this.hitRates.shift();
      this.node.append(h("h3", { text: `hot tier (${config ? `${config.policy}, ${config.write_policy}` : "configured"})` }));
      if (config && config.capacity_records) this.node.append(meter("records", hot.records, config.capacity_records, `${hot.records} / ${config.capacity_records}`));
      if (config && config.capacity_tokens) this.node.append(meter("tokens", hot.tokens, config.capacity_tokens, `${hot.tokens} / ${config.capacity_tokens}`));
      this.node.append(
        meter("hit rate", hot.hit_rate, 1),
        h("div", { class: "row" }, h("span", { class: "meter-label", text: "hit rate over time" }), sparkline(this.hitRates)),
        h("p", { class: "small", text: `hits ${hot.hits}, faults ${hot.misses}, evictions ${hot.evictions}, promotions ${hot.promotions}, dirty ${hot.dirty}` }));
    } else if (stats.store || stats.index) {
      this.node.append(h("p", { class: "small", text: "no hot tier configured: every read goes to the database (set hot_tier_records or hot_tier_tokens)" }));
    }
    const cache = stats.embedding_cache;
    if (cache && typeof cache.hits === "number") {
      const lookups = cache.hits + (cache.misses || 0);
      this.node.append(meter("embedding cache", lookups ? cache.hits / lookups : 0, 1));
    }
    if (stats.index) {
      this.node.append(h("p", { class: "small", text: `vector index: ${stats.index.kind}, ${stats.index.vectors} vectors; searches ${stats.counters?.searches ?? 0}, rows read ${stats.store?.rows_read ?? 0}, written ${stats.store?.rows_written ?? 0}` }));
    }
    if (!stats.index) this.node.append(h("p", { class: "small", text: "counts of this key's namespaces only (tier counters need a key with namespace *)" }));
  }
}

function card(label, value, testid) {
  return h("div", { class: "card", "data-testid": `card-${testid}` },
    h("span", { class: "card-value", text: String(value) }), h("span", { class: "card-label", text: label }));
}

export class HeapPanel {
  constructor(app) {
    this.app = app;
    this.node = document.getElementById("heap");
    document.getElementById("heap-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.assemble();
    });
  }

  // The live windows, as agents' context() calls left them (reading them moves nothing).
  async load() {
    const heaps = await this.app.attempt(() => get("/ui/api/windows"), { quiet: true });
    if (!heaps) return;
    const scope = this.app.scope();
    const shown = heaps.filter((heap) => Object.entries(scope).every(([field, value]) => heap[field] === value));
    clear(this.node);
    if (!shown.length) {
      this.node.append(h("p", { class: "small", text: "no context assembled yet for this scope: agents' context() calls lay one out, or assemble one above" }));
      return;
    }
    for (const heap of shown) this.node.append(drawHeap(heap));
  }

  // Runs context() for the query in the chosen scope, as an agent would: it uses (and moves)
  // that scope's window, then the view is redrawn.
  async assemble() {
    const query = document.getElementById("heap-query").value.trim();
    const budget = Number(document.getElementById("heap-budget").value) || 400;
    if (!query) return;
    const context = await this.app.attempt(() => post("/context", { query, budget, ...this.app.scope() }));
    if (context) await this.load();
  }
}

function drawHeap(heap) {
  const width = 520;
  const scale = width / heap.budget;
  const strip = s("svg", { width: "100%", height: 26, viewBox: `0 0 ${width} 26`, preserveAspectRatio: "none", class: "heap-strip", role: "img", "aria-label": "context layout" },
    s("rect", { width, height: 26, class: "heap-free" }));
  let holes = 0;
  for (const slot of heap.slots) {
    const x = slot.offset * scale;
    const w = Math.max(1, slot.size * scale - (slot.id ? 1 : 0));
    if (slot.id === null) {
      holes += slot.size;
      strip.append(s("rect", { x, y: 0, width: w, height: 26, class: "heap-hole" }, s("title", { text: `hole @${slot.offset}: ${slot.size} tokens (${slot.region})` })));
    } else {
      strip.append(s("rect", { x, y: 0, width: w, height: 26, fill: colour(`region:${slot.region}`), class: "heap-slot", "data-id": slot.id },
        s("title", { text: `${slot.region} @${slot.offset}: ${slot.size} tokens, ${slot.id}` })));
    }
  }
  const regions = [...new Set(heap.slots.filter((slot) => slot.id).map((slot) => slot.region))];
  const scope = [heap.user && `user:${heap.user}`, heap.agent && `agent:${heap.agent}`, heap.session && `session:${heap.session}`].filter(Boolean).join(" ") || "no scope";
  return h("div", { class: "heap", "data-testid": "heap-window" },
    h("h3", { text: scope }),
    strip,
    h("div", { class: "legend" },
      regions.map((r) => h("span", {}, h("i", { style: `background:${colour(`region:${r}`)}` }), r)),
      h("span", {}, h("i", { class: "hole" }), "hole"), h("span", {}, h("i", { class: "free" }), "free")),
    h("p", { class: "small", "data-testid": "heap-summary", text: `${heap.used} of ${heap.budget} tokens in ${heap.slots.filter((slot) => slot.id).length} records; holes ${holes} tokens, tail ${heap.tail}; fragmentation ${percent(heap.fragmentation)}` }));
}

export class GCPanel {
  constructor(app) {
    this.app = app;
    this.node = document.getElementById("gc");
    this.events = []; // collections seen while the page is open, oldest first
    document.getElementById("gc-dry").addEventListener("click", () => this.collect(true));
    document.getElementById("gc-run").addEventListener("click", () => this.collect(false));
  }

  async collect(dryRun) {
    const collector = document.getElementById("gc-collector").value;
    const event = await this.app.attempt(() => post("/gc", { collector, dry_run: dryRun }));
    if (event) {
      this.remember(event);
      this.app.refreshSoon();
    }
  }

  remember(event) {
    if (!event || this.events.some((e) => e.started_at === event.started_at)) return;
    this.events.push(event);
    if (this.events.length > HISTORY) this.events.shift();
  }

  draw(stats) {
    clear(this.node);
    const gc = stats.gc;
    if (!gc) {
      this.node.append(h("p", { class: "small", text: "GC totals need a key with namespace *" }));
      return;
    }
    this.remember(gc.last);
    this.node.append(h("div", { class: "cards" },
      card("collections", gc.events, "gc-events"),
      card("total pause", `${(1000 * gc.pause_duration).toFixed(1)} ms`, "gc-pause"),
      card("collected", gc.collected, "gc-collected"),
      card("promoted", gc.promoted, "gc-promoted")));
    if (this.events.length) {
      const width = 300;
      const height = 60;
      const top = Math.max(...this.events.map((e) => e.pause_duration), 1e-6);
      const step = width / HISTORY;
      this.node.append(h("h3", { text: "pause per collection (this session)" }),
        s("svg", { width, height, class: "pauses" },
          this.events.map((e, i) => s("rect", {
            x: i * step, y: height - (height - 4) * e.pause_duration / top, width: Math.max(2, step - 2),
            height: (height - 4) * e.pause_duration / top, fill: colour(`gc:${e.collector}`),
          }, s("title", { text: `${e.collector}${e.dry_run ? " (dry run)" : ""} at ${time(e.started_at)}: ${(1000 * e.pause_duration).toFixed(2)} ms, scanned ${e.scanned}, collected ${e.collected}` })))));
      const last = this.events[this.events.length - 1];
      this.node.append(h("p", { class: "small", "data-testid": "gc-last", text: `last: ${last.collector}${last.dry_run ? " (dry run)" : ""} at ${time(last.started_at)}, pause ${(1000 * last.pause_duration).toFixed(2)} ms, scanned ${last.scanned}, collected ${last.collected}, LSN ${last.lsn_before}→${last.lsn_after}` }));
    }
  }
}
