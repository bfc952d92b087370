// The live stream, GET /api/v1/stream, read with fetch (EventSource cannot send the
// Authorization header). Reconnects with a growing delay; stop() ends it for good.

import * as session from "./session.js";
import { SseParser } from "./sse.js";

const FIRST_DELAY_MS = 1000;
const MAX_DELAY_MS = 30_000;

/** Connect and keep connected. ``onEvent(type, data)`` for each event (data parsed from
 * JSON); ``onState(state, detail)`` with "connecting", "live" (subscribed: nothing after
 * this is missed) or "waiting" (detail: seconds until the next try). Returns
 * ``{stop()}``. */
export function openStream({ onEvent, onState }) {
  const controller = new AbortController();
  const { signal } = controller;

  const run = async () => {
    let delay = FIRST_DELAY_MS;
    while (!signal.aborted) {
      onState("connecting");
      const live = () => {
        delay = FIRST_DELAY_MS; // a connection that worked starts the backoff afresh
        onState("live");
      };
      try {
        await readOnce(signal, onEvent, live);
      } catch (error) {
        if (signal.aborted) return;
        if (error.name === "Unauthorized") {
          if (!(await session.refresh())) {
            session.end("Your session has ended. Log in again.");
            return;
          }
          continue; // at once, with the new token
        }
      }
      if (signal.aborted) return;
      // Jitter spreads the reconnects of many clients after a restart.
      const wait = Math.round(delay * (0.75 + Math.random() * 0.5));
      onState("waiting", Math.ceil(wait / 1000));
      await sleep(wait, signal);
      delay = Math.min(delay * 2, MAX_DELAY_MS);
    }
  };
  run();
  return { stop: () => controller.abort() };
}

/** One connection, until it ends (resolves) or fails (rejects). */
async function readOnce(signal, onEvent, onLive) {
  const token = session.accessToken();
  if (!token) throw Object.assign(new Error("signed out"), { name: "Unauthorized" });
  const response = await fetch("/api/v1/stream", {
    headers: { Authorization: `Bearer ${token}`, Accept: "text/event-stream" },
    cache: "no-store",
    signal,
  });
  if (response.status === 401) {
    throw Object.assign(new Error("token refused"), { name: "Unauthorized" });
  }
  if (!response.ok || !response.body) return;
  let live = false;
  const parser = new SseParser({
    onComment: (text) => {
      if (!live && text === "connected") {
        live = true;
        onLive();
      }
    },
    onEvent: ({ event, data }) => {
      let parsed;
      try {
        parsed = JSON.parse(data);
      } catch {
        return; // not ours to understand
      }
      onEvent(event, parsed);
    },
  });
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      parser.push(value);
    }
  } finally {
    reader.releaseLock();
  }
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
