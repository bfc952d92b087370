// The home feed: the people you follow and you, newest first, kept current by the live
// stream (a "feed" event names a tweet to fetch and show).

import { request, withQuery } from "./api.js";
import { showError } from "./messages.js";
import { TweetList } from "./tweet_list.js";
import { onCreated } from "./tweets.js";

const PAGE = 20;
let list = null;

export function setUpFeed() {
  list = new TweetList(document.getElementById("home-feed"), {
    load: (cursor) => request(withQuery("/feed", { limit: PAGE, max_id: cursor })),
    emptyText: "Your feed is empty. Follow people, or post something.",
  });
  onCreated((tweet) => list.insert(tweet));
}

/** Show the feed: its first page the first time, what is new since after that. */
export function showFeed() {
  return list.loaded ? catchUp() : list.reset();
}

export function clearFeed() {
  list.clear();
}

/** Show a tweet the person just wrote. */
export function addToFeed(tweet) {
  list.insert(tweet);
}

/** A "feed" event: fetch the tweet and show it, unless it is already there. */
export async function feedEvent(tweetId) {
  if (!list.loaded || list.has(tweetId)) return;
  try {
    list.insert(await request(`/tweet/${tweetId}`));
  } catch (error) {
    if (error.status !== 404) showError(error); // deleted meanwhile: nothing to show
  }
}

/** Add what the first page holds and the list does not: after the stream (re)connects,
 * whatever came while it was away. */
export async function catchUp() {
  if (!list.loaded) return;
  try {
    const page = await request(withQuery("/feed", { limit: PAGE }));
    for (const tweet of page.tweets) list.insert(tweet);
  } catch (error) {
    showError(error);
  }
}
