// A list of tweets, newest first, paged with a "Load more" button.

import { compareIds, el } from "./dom.js";
import { showError } from "./messages.js";
import { renderTweet } from "./tweets.js";

export class TweetList {
  /** Render into ``container``. ``load(cursor)`` answers a page ``{tweets, next_cursor}``
   * (cursor null for the first); ``emptyText`` shows when there are none. */
  constructor(container, { load, emptyText }) {
    this.load = load;
    this.items = el("div", { class: "tweet-list" });
    this.empty = el("p", { class: "empty", text: emptyText, hidden: true });
    this.more = el("button", { type: "button", class: "more", text: "Load more", hidden: true });
    this.more.addEventListener("click", () => this.loadMore());
    container.replaceChildren(this.items, this.empty, this.more);
    this.cursor = null;
    this.generation = 0; // a reset makes pages still on their way obsolete
    this.loaded = false;
  }

  /** Empty the list and load its first page. */
  async reset() {
    this.clear();
    await this.loadMore();
  }

  clear() {
    this.generation += 1;
    this.items.replaceChildren();
    this.cursor = null;
    this.loaded = false;
    this.empty.hidden = true;
    this.more.hidden = true;
  }

  async loadMore() {
    const generation = this.generation;
    this.more.disabled = true;
    try {
      const page = await this.load(this.cursor);
      if (generation !== this.generation) return;
      for (const tweet of page.tweets) this.insert(tweet, { atEnd: true });
      this.cursor = page.next_cursor;
      this.loaded = true;
      this.more.hidden = this.cursor === null;
      this.empty.hidden = this.items.childElementCount > 0;
    } catch (error) {
      if (generation === this.generation) showError(error);
    } finally {
      this.more.disabled = false;
    }
  }

  has(tweetId) {
    return this.items.querySelector(`article[data-id="${CSS.escape(tweetId)}"]`) !== null;
  }

  /** Show ``tweet`` in its place by id (newest first), unless it is already shown.
   * ``atEnd`` trusts that it is the oldest so far (a page being appended). */
  insert(tweet, { atEnd = false } = {}) {
    if (this.has(tweet.tweet_id)) return;
    const article = renderTweet(tweet);
    let before = null;
    if (!atEnd) {
      for (const other of this.items.children) {
        if (compareIds(other.dataset.id, tweet.tweet_id) < 0) {
          before = other;
          break;
        }
      }
    }
    this.items.insertBefore(article, before);
    this.empty.hidden = true;
  }
}
