// The REST API as the dashboard uses it: every call carries the key the user typed in (kept in
// sessionStorage, never sent anywhere but this server), so the page sees what the key sees.

const KEY_SLOT = "memoryspace.api_key";
// The server's root: the page is served at <root>/ui.
export const ROOT = location.pathname.replace(/\/ui\/?$/, "");

export class ApiError extends Error {
  constructor(status, type, message) {
    super(message);
    this.status = status;
    this.type = type;
  }
}

export function savedKey() {
  return sessionStorage.getItem(KEY_SLOT) || "";
}

export function saveKey(key) {
  if (key) sessionStorage.setItem(KEY_SLOT, key);
  else sessionStorage.removeItem(KEY_SLOT);
}

function headers(extra) {
  const out = { Accept: "application/json", ...extra };
  const key = savedKey();
  if (key) out.Authorization = `Bearer ${key}`;
  return out;
}

// One JSON request; an error answer becomes an ApiError with the server's type and message.
export async function call(method, path, body) {
  const init = { method, headers: headers(body === undefined ? {} : { "Content-Type": "application/json" }) };
  if (body !== undefined) init.body = JSON.stringify(body);
  const response = await fetch(ROOT + path, init);
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const error = (data && data.error) || {};
    throw new ApiError(response.status, error.type || "HTTPError", error.message || response.statusText);
  }
  return data;
}

export const get = (path) => call("GET", path);
export const post = (path, body) => call("POST", path, body ?? {});
export const patch = (path, body) => call("PATCH", path, body);
export const del = (path) => call("DELETE", path);

// Tails the change feed (server-sent events) with fetch, since EventSource cannot send the
// key's header. Calls onChange(change) per event, onState("live"|"offline"); reconnects from
// the last LSN seen. Returns a function that stops it.
export function tailChanges(since, onChange, onState) {
  let position = since;
  let stopped = false;
  let controller = null;

  async function once() {
    controller = new AbortController();
    const response = await fetch(`${ROOT}/changes/stream?since=${position}`, {
      headers: headers({ Accept: "text/event-stream" }),
      signal: controller.signal,
    });
    if (!response.ok) throw new ApiError(response.status, "HTTPError", "the change feed refused");
    onState("live");
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const event = parseEvent(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        if (event && event.type === "change") {
          const change = JSON.parse(event.data);
          position = Math.max(position, change.lsn);
          onChange(change);
        }
      }
    }
  }

  (async () => {
    while (!stopped) {
      try {
        await once();
      } catch (error) {
        if (stopped) return;
        if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
          onState("refused");
          return;
        }
      }
      if (stopped) return;
      onState("offline");
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  })();
  return () => {
    stopped = true;
    if (controller) controller.abort();
  };
}

function parseEvent(block) {
  const event = { type: "message", data: "" };
  let any = false;
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") event.type = value;
    else if (field === "data") event.data += (event.data ? "\n" : "") + value;
    any = true;
  }
  return any ? event : null;
}
