// chirp's web client: wires the modules under js/ together. Signed out, it shows the
// "Log in" and "Sign up" forms; signed in, the view the hash route names, the live
// stream, the unread badge and the trending box.

import { request } from "./js/api.js";
import { setUpAuthForms } from "./js/auth.js";
import { setUpComposer } from "./js/composer.js";
import { el, profileHref } from "./js/dom.js";
import { catchUp, clearFeed, feedEvent, setUpFeed, showFeed } from "./js/feed.js";
import { me, setMe } from "./js/me.js";
import { announce, clearMessages, showAlert, showError } from "./js/messages.js";
import {
  clearNotifications,
  hideNotifications,
  notificationEvent,
  refreshUnread,
  setUpNotifications,
  showNotifications,
} from "./js/notifications.js";
import { clearProfile, setUpProfile, showProfile } from "./js/profile.js";
import { parseRoute } from "./js/router.js";
import { clearSearch, setUpSearch, showHashtag, showSearch } from "./js/search.js";
import * as session from "./js/session.js";
import { openStream } from "./js/stream.js";
import { refreshTimes } from "./js/text.js";
import { refreshTrending, setUpTrending, startTrending, stopTrending } from "./js/trending.js";

const VIEWS = {
  home: "view-home",
  notifications: "view-notifications",
  search: "view-search",
  hashtag: "view-search",
  profile: "view-profile",
};
const LIVE_TEXT = { connecting: "Connecting…", live: "Live", off: "Offline" };

let stream = null;
let composer = null;

function byId(id) {
  return document.getElementById(id);
}

/** Show the app to ``user``. ``focus``: move focus to the view (after a form, whose
 * controls are now gone), not on a page load. */
async function signedIn(user, { focus = true } = {}) {
  setMe(user);
  byId("signed-out").hidden = true;
  byId("signed-in").hidden = false;
  byId("sidebar").hidden = false;
  byId("nav").hidden = false;
  byId("logout").hidden = false;
  byId("live").hidden = false;
  const profile = byId("nav-profile");
  profile.href = profileHref(user.username);
  profile.replaceChildren("Profile ", el("span", { class: "handle", text: `@${user.username}` }));
  startTrending(user.region);
  refreshUnread();
  stream = openStream({ onEvent: streamEvent, onState: liveState });
  await route({ focus });
}

function signedOut(reason) {
  stream?.stop();
  stream = null;
  stopTrending();
  setMe(null);
  clearFeed();
  clearNotifications();
  clearSearch();
  clearProfile();
  composer.reset();
  byId("signed-in").hidden = true;
  byId("sidebar").hidden = true;
  byId("nav").hidden = true;
  byId("logout").hidden = true;
  byId("live").hidden = true;
  byId("signed-out").hidden = false;
  if (reason) showAlert(reason);
  else announce("You are logged out.");
  byId("login-username").focus();
}

function streamEvent(type, data) {
  if (type === "feed") feedEvent(data.tweet_id);
  else if (type === "notification") notificationEvent(data);
}

function liveState(state, seconds) {
  const live = byId("live");
  live.dataset.state = state;
  live.textContent = state === "waiting" ? `Offline, retrying in ${seconds} s` : LIVE_TEXT[state];
  if (state === "live") {
    // Whatever happened while the stream was away.
    catchUp();
    refreshUnread();
  }
}

/** Show the view the hash names; ``focus`` moves focus to its heading, where a screen
 * reader (and Tab) carries on from. */
async function route({ focus = true } = {}) {
  if (!me()) return;
  const target = parseRoute(location.hash);
  const viewId = VIEWS[target.name];
  for (const id of new Set(Object.values(VIEWS))) byId(id).hidden = id !== viewId;
  for (const link of byId("nav").querySelectorAll("a")) {
    const current =
      link.dataset.route === target.name &&
      (target.name !== "profile" || target.username === me().username);
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (focus) byId(viewId).querySelector(".view-title").focus();
  if (target.name !== "notifications") hideNotifications();
  refreshTrending();
  switch (target.name) {
    case "notifications":
      return showNotifications();
    case "search":
      return showSearch(target);
    case "hashtag":
      return showHashtag(target.tag);
    case "profile":
      return showProfile(target.username);
    default:
      return showFeed();
  }
}

async function start() {
  setUpFeed();
  composer = setUpComposer();
  setUpNotifications();
  setUpSearch();
  setUpTrending();
  setUpProfile();
  setUpAuthForms(signedIn);
  session.onEnd(signedOut);
  byId("logout").addEventListener("click", () => session.end());
  window.addEventListener("hashchange", () => {
    clearMessages();
    route();
  });
  setInterval(() => refreshTimes(), 30_000);
  if (session.signedIn()) {
    try {
      await signedIn(await request("/users/me"), { focus: false });
    } catch (error) {
      showError(error); // a refused token has already ended the session
    }
  }
}

start();
