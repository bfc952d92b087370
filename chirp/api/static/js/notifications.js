// The unread badge in the nav, and the Notifications view (opening it marks all read).

import { request, withQuery } from "./api.js";
import { el, profileHref } from "./dom.js";
import { showError } from "./messages.js";
import { timeElement } from "./text.js";
import { displayName } from "./tweets.js";

const PAGE = 20;
const WHAT = {
  like: "liked your tweet",
  retweet: "retweeted your tweet",
  reply: "replied to your tweet",
  mention: "mentioned you",
  follow: "followed you",
};

let unread = 0;
let viewOpen = false;
let cursor = null;
let loading = 0; // a reload makes pages of the list still on their way obsolete
// Counts asked before the read mark moved (or before a log-out) are stale.
let countEpoch = 0;
let counting = null; // the count being asked for, if any
let countAgain = false;

function setUnread(count) {
  unread = Math.max(0, count);
  document.getElementById("unread-count").textContent = String(unread);
  document.getElementById("unread-badge").hidden = unread === 0;
}

/** Ask chirp for the unread count: at sign-in, when the stream (re)connects and after
 * each notification event. Asks that come while one is out make one more ask after it,
 * so the last answer shown was asked after the last event. */
export function refreshUnread() {
  if (counting) {
    countAgain = true;
    return counting;
  }
  counting = (async () => {
    try {
      do {
        countAgain = false;
        const epoch = countEpoch;
        const answer = await request(withQuery("/notifications", { limit: 1 }));
        if (!countAgain && epoch === countEpoch && !viewOpen) setUnread(answer.unread_count);
      } while (countAgain);
    } catch (error) {
      showError(error);
    } finally {
      counting = null;
    }
  })();
  return counting;
}

/** A "notification" event from the stream. */
export function notificationEvent() {
  if (viewOpen) {
    loadNotifications();
  } else {
    setUnread(unread + 1); // at once; the count asked now confirms it
    refreshUnread();
  }
}

export function setUpNotifications() {
  document
    .getElementById("notifications-more")
    .addEventListener("click", () => loadPage(cursor, loading));
}

export function showNotifications() {
  viewOpen = true;
  return loadNotifications();
}

export function hideNotifications() {
  viewOpen = false;
}

export function clearNotifications() {
  viewOpen = false;
  cursor = null;
  countEpoch += 1;
  countAgain = false;
  loading += 1;
  setUnread(0);
  document.getElementById("notification-list").replaceChildren();
}

/** The first page, shown, then everything up to its newest marked read. */
async function loadNotifications() {
  const load = ++loading;
  const answer = await loadPage(null, load);
  if (!answer) return;
  const newest = answer.notifications[0];
  countEpoch += 1;
  if (!newest) {
    setUnread(0);
    return;
  }
  try {
    const marked = await request("/notifications/read", {
      method: "POST",
      body: { up_to_id: newest.notification_id },
    });
    countEpoch += 1;
    setUnread(marked.unread_count);
  } catch (error) {
    showError(error);
  }
}

/** The page after ``from`` (null: the first, replacing the list), unless a newer load
 * started meanwhile. */
async function loadPage(from, load) {
  const list = document.getElementById("notification-list");
  const more = document.getElementById("notifications-more");
  more.disabled = true;
  try {
    const answer = await request(withQuery("/notifications", { limit: PAGE, cursor: from }));
    if (load !== loading) return null;
    const items = answer.notifications.map(renderNotification);
    if (from === null) list.replaceChildren(...items);
    else list.append(...items);
    cursor = answer.next_cursor;
    more.hidden = cursor === null;
    document.getElementById("notifications-empty").hidden = list.childElementCount > 0;
    return answer;
  } catch (error) {
    showError(error);
    return null;
  } finally {
    more.disabled = false;
  }
}

function renderNotification(item) {
  const actor = item.actor
    ? el("a", { href: profileHref(item.actor.username), class: "actor", text: displayName(item.actor) })
    : el("span", { text: "Someone" });
  const others = item.count - 1;
  return el(
    "li",
    { class: item.read ? "notification" : "notification unread", "data-kind": item.type },
    item.read ? null : el("span", { class: "visually-hidden", text: "New: " }),
    actor,
    others > 0 ? ` and ${others} ${others === 1 ? "other" : "others"}` : "",
    ` ${WHAT[item.type] || item.type}`,
    " ",
    timeElement(item.created_at),
  );
}
