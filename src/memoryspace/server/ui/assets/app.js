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
    setInterval(() => this.session && this.refreshStats(), STATS_EVERY_MS);
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
    await Promise.all([this.refreshStats(), this.timeline.load(session.lsn), this.graph.load()]);
    const since = Math.max(session.lsn, ...this.timeline.changes.map((c) => c.lsn));
    this.stopFeed = tailChanges(since, (change) => this.onChange(change), (state) => this.setLive(state));
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
    }, REFRESH_DELAY_MS);
  }

  async refreshStats() {
    const stats = await this.attempt(() => get("/stats"), { quiet: true });
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
