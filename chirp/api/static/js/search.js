// The search form (tweets, users or hashtags) and the Search results view, which also
// shows a hashtag's timeline.

import { request, withQuery } from "./api.js";
import { el, hashtagHref, plural, profileHref } from "./dom.js";
import { showError } from "./messages.js";
import { TweetList } from "./tweet_list.js";
import { displayName } from "./tweets.js";

const PAGE = 20;
const TYPES = new Set(["tweets", "users", "hashtags"]);
let searching = 0; // a newer search makes older answers stale

export function setUpSearch() {
  const form = document.getElementById("search-form");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const q = document.getElementById("search-q").value.trim();
    if (!q) return;
    const type = document.getElementById("search-type").value;
    const target = `#/search?${new URLSearchParams({ q, type })}`;
    if (location.hash === target) showSearch({ q, type });
    else location.hash = target;
  });
}

function fillForm(q, type) {
  document.getElementById("search-q").value = q;
  document.getElementById("search-type").value = type;
}

/** ``#/search?q=…&type=…``: results of a search. */
export async function showSearch({ q, type }) {
  type = TYPES.has(type) ? type : "tweets";
  fillForm(q, type);
  document.getElementById("search-title").textContent = `Search results for “${q}”`;
  const results = document.getElementById("search-results");
  const search = ++searching;
  if (type === "tweets") {
    const list = new TweetList(results, {
      load: (cursor) =>
        request(withQuery("/search", { q, type, limit: PAGE, cursor })).then((answer) => ({
          tweets: answer.results,
          next_cursor: answer.next_cursor,
        })),
      emptyText: `No tweets match “${q}”.`,
    });
    await list.reset();
    return;
  }
  results.replaceChildren(el("p", { class: "empty", text: "Searching…" }));
  try {
    const answer = await request(withQuery("/search", { q, type, limit: PAGE }));
    if (search !== searching) return;
    const items = answer.results.map(type === "users" ? userItem : hashtagItem);
    results.replaceChildren(
      items.length
        ? el("ul", { class: type === "users" ? "user-list" : "hashtag-list" }, items)
        : el("p", { class: "empty", text: `No ${type} match “${q}”.` }),
    );
  } catch (error) {
    if (search !== searching) return;
    results.replaceChildren();
    showError(error);
  }
}

/** ``#/hashtag/<tag>``: the tag's tweets, newest first. */
export async function showHashtag(tag) {
  searching += 1;
  fillForm(`#${tag}`, "tweets");
  document.getElementById("search-title").textContent = `#${tag}`;
  const list = new TweetList(document.getElementById("search-results"), {
    load: (cursor) =>
      request(withQuery(`/hashtag/${encodeURIComponent(tag)}`, { limit: PAGE, max_id: cursor })),
    emptyText: `No tweets use #${tag} yet.`,
  });
  await list.reset();
}

export function clearSearch() {
  searching += 1;
  fillForm("", "tweets");
  document.getElementById("search-results").replaceChildren();
}

function userItem(user) {
  return el(
    "li",
    { class: "user" },
    el(
      "a",
      { href: profileHref(user.username) },
      el("strong", { text: displayName(user) }),
      " ",
      el("span", { class: "handle", text: `@${user.username}` }),
    ),
    user.bio ? el("p", { class: "bio", text: user.bio }) : null,
  );
}

function hashtagItem(found) {
  return el(
    "li",
    {},
    el("a", { href: hashtagHref(found.hashtag), text: `#${found.hashtag}` }),
    " ",
    el("span", { class: "meta", text: plural(found.tweet_count, "tweet") }),
  );
}
