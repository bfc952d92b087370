// The signed-in person's tokens, kept in localStorage, and their renewal.
//
// One refresh at a time: requests that meet a 401 together share it, so a refresh
// token is spent once.

const KEY = "chirp.tokens";
const TOKEN_URL = "/api/v1/auth/token";

let tokens = load();
let refreshing = null;
const endListeners = new Set();

function load() {
  try {
    const held = JSON.parse(localStorage.getItem(KEY));
    return held && held.access_token && held.refresh_token ? held : null;
  } catch {
    return null;
  }
}

export function accessToken() {
  return tokens ? tokens.access_token : null;
}

export function signedIn() {
  return tokens !== null;
}

/** Keep ``{access_token, refresh_token}`` from a sign-up, log-in or refresh answer. */
export function keep(answer) {
  tokens = { access_token: answer.access_token, refresh_token: answer.refresh_token };
  localStorage.setItem(KEY, JSON.stringify(tokens));
}

/** Forget the tokens and tell whoever listens (the app goes back to the log-in screen)
 * with ``reason``, a sentence for the person or null for a deliberate log-out. */
export function end(reason = null) {
  const wasSignedIn = tokens !== null;
  tokens = null;
  refreshing = null;
  localStorage.removeItem(KEY);
  if (wasSignedIn) {
    for (const listener of endListeners) listener(reason);
  }
}

export function onEnd(listener) {
  endListeners.add(listener);
}

/** Renew the access token with the refresh token. Resolves true when renewed, false
 * when the refresh token is refused (the session is then over); never rejects. */
export function refresh() {
  if (!tokens) return Promise.resolve(false);
  if (refreshing) return refreshing;
  const spent = tokens.refresh_token;
  refreshing = (async () => {
    try {
      const response = await fetch(TOKEN_URL, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ grant_type: "refresh_token", refresh_token: spent }),
      });
      if (!response.ok) return false;
      keep(await response.json());
      return true;
    } catch {
      return false; // offline: the caller's own request fails and says so
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}
