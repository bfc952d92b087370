// The Trending box: the top hashtags of a region or topic, refreshed every 10 seconds.

import { request, withQuery } from "./api.js";
import { el, hashtagHref, plural } from "./dom.js";

const REFRESH_MS = 10_000;
const KEY = "chirp.trend-region";
let timer = null;
let asked = 0;
let showing = null; // what the list shows, so an unchanged answer leaves focus alone

// Names for the tables chirp ships with; another server's own show as they are.
const LABELS = {
  global: "Global",
  us: "United States",
  uk: "United Kingdom",
  tech: "Tech",
  sports: "Sports",
};

export function setUpTrending() {
  const select = document.getElementById("trend-region");
  listTables(select);
  const kept = localStorage.getItem(KEY);
  if (kept && [...select.options].some((option) => option.value === kept)) select.value = kept;
  select.addEventListener("change", () => {
    localStorage.setItem(KEY, select.value);
    refreshTrending();
  });
}

/** Start refreshing (at sign-in); ``region`` is the person's own when they have not
 * picked one here. */
export function startTrending(region) {
  const select = document.getElementById("trend-region");
  if (!localStorage.getItem(KEY) && region && [...select.options].some((o) => o.value === region)) {
    select.value = region;
  }
  stopTrending();
  refreshTrending();
  timer = setInterval(refreshTrending, REFRESH_MS);
}

export function stopTrending() {
  clearInterval(timer);
  timer = null;
}

/** Fetch and show the selected table now. Public: sent without a token, so it does not
 * count against the person's calls. */
export async function refreshTrending() {
  const region = document.getElementById("trend-region").value;
  const ask = ++asked;
  const list = document.getElementById("trend-list");
  const empty = document.getElementById("trend-empty");
  try {
    const answer = await request(withQuery("/trending", { region, limit: 10 }), { auth: false });
    if (ask !== asked) return;
    const shown = JSON.stringify([region, answer.trends.map((t) => [t.hashtag, t.tweet_count])]);
    if (shown !== showing) list.replaceChildren(...answer.trends.map(trendItem));
    showing = shown;
    empty.textContent = "Nothing is trending here yet.";
    empty.hidden = answer.trends.length > 0;
  } catch (error) {
    if (ask !== asked) return;
    // Kept out of the page's alert region: a background refresh should not shout.
    list.replaceChildren();
    showing = null;
    empty.textContent = error.name === "ApiError" ? error.message : "Trends are unavailable.";
    empty.hidden = false;
  }
}

/** The options become the server's tables (the page's own stay if it cannot be asked),
 * keeping the choice made meanwhile. */
async function listTables(select) {
  let tables;
  try {
    tables = await request("/trending/regions", { auth: false });
  } catch {
    return;
  }
  const group = (label, names) =>
    el(
      "optgroup",
      { label },
      names.map((name) => el("option", { value: name, text: LABELS[name] ?? name })),
    );
  const chosen = select.value;
  select.replaceChildren(
    group("Regions", tables.regions),
    ...(tables.categories.length ? [group("Topics", tables.categories)] : []),
  );
  if ([...select.options].some((option) => option.value === chosen)) select.value = chosen;
  else if (timer !== null) refreshTrending();
}

function trendItem(trend) {
  return el(
    "li",
    {},
    el("a", { href: hashtagHref(trend.hashtag), text: `#${trend.hashtag}` }),
    el("span", { class: "meta", text: plural(trend.tweet_count, "tweet") }),
  );
}
