// Calls to chirp's HTTP API (/api/v1). Errors arrive as application/problem+json and
// are thrown as ApiError, whose message is the problem's detail (or title).

import * as session from "./session.js";

const BASE = "/api/v1";

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `chirp answered ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.problem = problem;
  }
}

/** The JSON answer of ``method path`` (null for 204). With ``auth`` the access token is
 * sent; a 401 is retried once after a refresh, and ends the session when that fails.
 * Public reads may pass ``auth: false`` (they then do not count against the person's
 * calls). */
export async function request(path, { method = "GET", body, auth = true, signal } = {}) {
  let response = await send(path, method, body, auth, signal);
  if (response.status === 401 && auth && session.signedIn()) {
    if (await session.refresh()) {
      response = await send(path, method, body, auth, signal);
    }
    if (response.status === 401) {
      const error = await problemOf(response);
      error.sessionEnded = true; // the log-in screen says so; nothing more to show
      session.end("Your session has ended. Log in again.");
      throw error;
    }
  }
  if (!response.ok) throw await problemOf(response);
  return response.status === 204 ? null : response.json();
}

function send(path, method, body, auth, signal) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const token = auth ? session.accessToken() : null;
  if (token) headers.Authorization = `Bearer ${token}`;
  return fetch(BASE + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
  });
}

async function problemOf(response) {
  let problem = {};
  try {
    problem = await response.json();
  } catch {
    // Not JSON (a proxy's page, say): the status alone must do.
  }
  return new ApiError(response.status, problem || {});
}

/** ``path?key=value…`` leaving out null and undefined values. */
export function withQuery(path, params) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined) query.set(key, String(value));
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}
