// The dashboard: reads the key, asks what it may do, draws every panel and keeps them live from
// the change feed (and a slow poll of /stats for counters that reads move, such as hit rates).

import { ApiError, get, saveKey, savedKey, tailChanges } from "./api.js";
import { GraphPanel } from "./graph.js";
import { GCPanel, HeapPanel, TiersPanel } from "./monitor.js";
import { SearchPanel } from "./search.js";
import { TimelinePanel } from "./timeline.js";

const STATS_EVERY_MS = 5000;
const REFRESH_DELAY_MS = 300;

class Dashboard {
  constructor() {
    this.session = null;
    this.stopFeed = null;
    this.refreshTimer = null;
    this.search = new SearchPanel(this);
    this.tiers = new TiersPanel(this);
    this.heap = new HeapPanel(this);
    this.gc = new GCPanel(this);
    this.timeline = new TimelinePanel(this);
    this.graph = new GraphPanel(this);
    const keyInput = document.getElementById("key");
    keyInput.value = savedKey();
    document.getElementById("key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      saveKey(keyInput.value.trim());
      this.start();
    });
    document.getElementById("key-clear").addEventListener("click", () => {
      keyInput.value = "";
      saveKey("");
      this.start();
    });
    document.getElementById("scope").addEventListener("change", () => {
      if (!this.session) return;
      this.refreshStats();
      this.graph.load();
      this.heap.load();
    });
    setInterval(() => {
      if (!this.session) return;
      this.refreshStats();
      this.heap.load();  // agents' context() calls move windows without a logged change
    }, STATS_EVERY_MS);
  }

  async start() {
    if (this.stopFeed) this.stopFeed();
    this.stopFeed = null;
    this.session = null;
    let session;
    try {
      session = await get("/ui/api/session");
    } catch (error) {
      this.setLive("off", "no access");
      this.notify(error instanceof ApiError && error.status === 401
        ? "this server needs an API key: paste one above (it is kept in this tab only)"
        : error.message);
      document.getElementById("who").textContent = "";
      return;
    }
    this.session = session;
    this.notify("");
    document.body.classList.toggle("admin", this.isAdmin());
    document.body.classList.toggle("writer", this.can("write"));
    document.getElementById("who").textContent = session.key_id
      ? `key ${session.key_id}: ${session.rights.join(", ")} on ${session.namespaces.join(", ")}`
      : "no keys configured (loopback): full access";
    this.showLsn(session.lsn);
    this.offerScopes(session);
    await Promise.all([this.refreshStats(), this.timeline.load(session.lsn), this.graph.load(), this.heap.load()]);
    const since = Math.max(session.lsn, ...this.timeline.changes.map((c) => c.lsn));
    this.stopFeed = tailChanges(since, (change) => this.onChange(change), (state) => this.setLive(state));
  }

  // The key's exact namespaces as choices; a key with several must name one, so the first is
  // chosen until the user picks another.
  offerScopes(session) {
    const exact = session.whole_space ? [] : session.namespaces.filter((n) => !n.endsWith("*"));
    const list = document.getElementById("scope-list");
    list.replaceChildren(...exact.map((n) => Object.assign(document.createElement("option"), { value: n })));
    const input = document.getElementById("scope");
    if (!session.whole_space && session.namespaces.length > 1 && !input.value && exact.length) input.value = exact[0];
  }

  // The chosen scope as filters: {user: "alice"}, {agent: "planner"} or {} (everything visible).
  scope() {
    const value = document.getElementById("scope").value.trim();
    const match = /^(user|agent):(.+)$/.exec(value);
    if (!value || !match) {
      if (value) this.notify("a scope is user:NAME or agent:NAME");
      return {};
    }
    return { [match[1]]: match[2] };
  }

  scopeQuery() {
    return new URLSearchParams(this.scope()).toString();
  }

  can(right) {
    const rights = this.session ? this.session.rights : [];
    return rights.includes(right) || rights.includes("admin");
  }

  isAdmin() {
    return Boolean(this.session && this.session.whole_space && this.session.rights.includes("admin"));
  }

  onChange(change) {
    this.timeline.add(change);
    this.showLsn(change.lsn);
    if (change.after) this.search.changed({ ...change.after, version: change.lsn });
    else this.search.removed(change.id);
    this.refreshSoon();
  }

  refreshSoon() {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => {
      this.refreshStats();
      this.graph.load();
      this.heap.load();
    }, REFRESH_DELAY_MS);
  }

  async refreshStats() {
    const query = this.scopeQuery();
    const stats = await this.attempt(() => get(`/stats${query ? `?${query}` : ""}`), { quiet: true });
    if (!stats) return;
    this.tiers.draw(stats, this.session);
    this.gc.draw(stats);
  }

  showLsn(lsn) {
    document.getElementById("lsn").textContent = `LSN ${lsn}`;
  }

  setLive(state, text) {
    const pill = document.getElementById("live");
    pill.className = `pill ${state === "live" ? "on" : "off"}`;
    pill.textContent = text || (state === "live" ? "live" : state === "refused" ? "feed refused" : "reconnecting…");
  }

  // Runs one API call; an error is shown (unless quiet) and answers null.
  async attempt(call, { quiet = false } = {}) {
    try {
      return await call();
    } catch (error) {
      if (!quiet) this.notify(error instanceof ApiError ? `${error.type}: ${error.message}` : String(error));
      return null;
    }
  }

  notify(message, tone = "error") {
    const notice = document.getElementById("notice");
    notice.textContent = message;
    notice.className = tone;
    notice.hidden = !message;
  }
}

new Dashboard().start();
