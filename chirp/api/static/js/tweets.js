// One tweet as an <article>, with its actions: like, retweet, reply, and on your own
// tweets edit and delete. Every copy of a tweet on the page (the original, retweets of
// it, the same tweet in two lists) is updated together.

import { request } from "./api.js";
import { bindCounter } from "./counter.js";
import { append, el, plural, profileHref } from "./dom.js";
import { isMe, me } from "./me.js";
import { announce, showError } from "./messages.js";
import { richText, timeElement } from "./text.js";

const EDIT_WINDOW_MS = 30 * 60 * 1000; // chirp takes edits for 30 minutes after posting

// article -> the original tweet's JSON it shows now
const shown = new WeakMap();
const createdListeners = new Set();

/** Call ``listener(tweet)`` for every tweet the person makes from a tweet's actions (a
 * reply, a retweet), so lists can show it. */
export function onCreated(listener) {
  createdListeners.add(listener);
}

export function created(tweet) {
  for (const listener of createdListeners) listener(tweet);
}

/** An <article> for ``item``: a tweet, or a retweet (shown as its original, with who
 * retweeted it above). */
export function renderTweet(item) {
  const original = item.retweet_of || item;
  const article = el("article", {
    class: "tweet",
    "data-id": item.tweet_id,
    "data-original-id": original.tweet_id,
    "data-retweeter-id": item.retweet_of ? item.author.user_id : null,
  });
  if (item.retweet_of) {
    const who = isMe(item.author.user_id)
      ? "You"
      : el("a", { href: profileHref(item.author.username), text: displayName(item.author) });
    article.append(el("p", { class: "context" }, el("span", { "aria-hidden": "true", text: "↻ " }), who, " retweeted"));
  }
  const author = original.author;
  append(article, [
    el(
      "header",
      { class: "tweet-head" },
      el(
        "a",
        { class: "author", href: profileHref(author.username) },
        el("strong", { text: displayName(author) }),
        " ",
        el("span", { class: "handle", text: `@${author.username}` }),
      ),
      el("span", { class: "dot", "aria-hidden": "true", text: " · " }),
      timeElement(original.created_at),
      el("span", { class: "edited" }),
    ),
    original.is_reply ? el("p", { class: "context", text: "Replying to a tweet" }) : null,
    el("p", { class: "content" }),
    el("ul", { class: "media" }),
    el("p", { class: "stats" }),
    actions(article, original),
    el("div", { class: "inline" }),
  ]);
  show(article, original);
  return article;
}

export function displayName(user) {
  return user.display_name || user.username;
}

function actions(article, original) {
  const group = el("div", { class: "actions", role: "group", "aria-label": "Tweet actions" });
  const reply = el("button", { type: "button", class: "reply", "aria-expanded": "false", text: "Reply" });
  const retweet = el("button", { type: "button", class: "retweet", "aria-pressed": "false", text: "Retweet" });
  const like = el("button", { type: "button", class: "like", "aria-pressed": "false", text: "Like" });
  reply.addEventListener("click", () => toggleReply(article, reply));
  retweet.addEventListener("click", () => toggleRetweet(article, retweet));
  like.addEventListener("click", () => toggleLike(article, like));
  group.append(reply, retweet, like);
  if (isMe(original.author.user_id)) {
    const recent = Date.now() - new Date(original.created_at).getTime() < EDIT_WINDOW_MS;
    if (recent) {
      const edit = el("button", { type: "button", class: "edit", "aria-expanded": "false", text: "Edit" });
      edit.addEventListener("click", () => toggleEdit(article, edit));
      group.append(edit);
    }
    const remove = el("button", { type: "button", class: "delete", text: "Delete" });
    remove.addEventListener("click", () => confirmDelete(article, remove));
    group.append(remove);
  }
  return group;
}

/** Fill ``article`` from ``original``'s current JSON. */
function show(article, original) {
  shown.set(article, original);
  const content = article.querySelector(".content");
  content.replaceChildren(richText(original.content, original.mentions));
  article.querySelector(".edited").textContent = original.edited_at ? " · edited" : "";
  const media = article.querySelector(".media");
  media.replaceChildren(
    ...original.media_urls.map((url, index) =>
      el("li", {}, el("a", { href: url, rel: "noopener noreferrer nofollow", text: `Media ${index + 1}` })),
    ),
  );
  media.hidden = original.media_urls.length === 0;
  article.querySelector(".stats").textContent = [
    plural(original.reply_count, "reply", "replies"),
    plural(original.retweet_count, "retweet"),
    plural(original.like_count, "like"),
  ].join(" · ");
  article.querySelector(".like").setAttribute("aria-pressed", String(original.liked));
  article.querySelector(".retweet").setAttribute("aria-pressed", String(original.retweeted));
}

/** Show ``original``'s new state in every article that shows it. */
export function updateEverywhere(original) {
  for (const article of articlesShowing(original.tweet_id)) show(article, original);
}

function articlesShowing(tweetId) {
  return document.querySelectorAll(`article.tweet[data-original-id="${CSS.escape(tweetId)}"]`);
}

/** Take out of the page every article ``matches`` picks, keeping keyboard focus on the
 * page: it moves to the next tweet (or the previous, or the list's section). */
export function removeArticles(matches) {
  for (const article of document.querySelectorAll("article.tweet")) {
    if (!matches(article)) continue;
    if (article.contains(document.activeElement)) {
      const next = sibling(article, "nextElementSibling") || sibling(article, "previousElementSibling");
      const target = next ? next.querySelector("a.author") : article.closest("section")?.querySelector(".view-title");
      article.remove();
      target?.focus();
    } else {
      article.remove();
    }
  }
}

function sibling(article, direction) {
  let node = article[direction];
  while (node && !(node.matches("article.tweet") && !node.hidden)) node = node[direction];
  return node;
}

async function pending(button, work) {
  button.disabled = true;
  try {
    await work();
  } catch (error) {
    showError(error);
  } finally {
    button.disabled = false;
  }
}

function toggleLike(article, button) {
  const original = shown.get(article);
  return pending(button, async () => {
    const method = original.liked ? "DELETE" : "POST";
    updateEverywhere(await request(`/tweet/${original.tweet_id}/like`, { method }));
  });
}

function toggleRetweet(article, button) {
  const original = shown.get(article);
  return pending(button, async () => {
    if (original.retweeted) {
      await request(`/tweet/${original.tweet_id}/retweet`, { method: "DELETE" });
      const mine = String(me().user_id);
      removeArticles(
        (a) => a.dataset.originalId === original.tweet_id && a.dataset.retweeterId === mine,
      );
      updateEverywhere(await request(`/tweet/${original.tweet_id}`));
      announce("Retweet undone");
    } else {
      const retweet = await request(`/tweet/${original.tweet_id}/retweet`, { method: "POST" });
      updateEverywhere(retweet.retweet_of);
      created(retweet);
      announce("Retweeted");
    }
  });
}

/** A form in the article's inline slot: a text box with its counter, a submit and a
 * Cancel button. Escape cancels. Resolves nothing; ``send(text)`` does the work and
 * returns true to close the form. */
function openTextForm(article, toggle, { formLabel, boxLabel, submitText, initial, send }) {
  const slot = article.querySelector(".inline");
  closeInline(article);
  const box = el("textarea", { rows: "3" });
  box.value = initial;
  const count = el("span", { class: "counter", "aria-live": "polite" });
  const submit = el("button", { type: "submit", text: submitText });
  const cancel = el("button", { type: "button", class: "secondary", text: "Cancel" });
  const form = el(
    "form",
    { class: "inline-form", "aria-label": formLabel },
    el("label", { class: "stacked" }, el("span", { text: boxLabel }), box),
    el("div", { class: "form-foot" }, count, el("span", { class: "spacer" }), cancel, submit),
  );
  const update = bindCounter(box, count, submit);
  const close = () => {
    form.remove();
    toggle.setAttribute("aria-expanded", "false");
    toggle.focus();
  };
  cancel.addEventListener("click", close);
  form.addEventListener("keydown", (event) => {
    if (event.key === "Escape") close();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    update(true);
    try {
      if (await send(box.value)) close();
    } catch (error) {
      showError(error);
    } finally {
      if (form.isConnected) update();
    }
  });
  slot.append(form);
  toggle.setAttribute("aria-expanded", "true");
  box.focus();
  box.setSelectionRange(box.value.length, box.value.length);
}

function closeInline(article) {
  article.querySelector(".inline").replaceChildren();
  for (const toggle of article.querySelectorAll(".actions [aria-expanded]")) {
    toggle.setAttribute("aria-expanded", "false");
  }
}

function toggleReply(article, button) {
  if (button.getAttribute("aria-expanded") === "true") {
    closeInline(article);
    return;
  }
  const original = shown.get(article);
  openTextForm(article, button, {
    formLabel: `Reply to @${original.author.username}`,
    boxLabel: "Your reply",
    submitText: "Send reply",
    initial: isMe(original.author.user_id) ? "" : `@${original.author.username} `,
    send: async (content) => {
      const answer = await request("/tweet", {
        method: "POST",
        body: { content, reply_to_tweet_id: original.tweet_id },
      });
      announce("Reply sent");
      created(answer.tweet);
      updateEverywhere(await request(`/tweet/${original.tweet_id}`));
      return true;
    },
  });
}

function toggleEdit(article, button) {
  if (button.getAttribute("aria-expanded") === "true") {
    closeInline(article);
    return;
  }
  const original = shown.get(article);
  openTextForm(article, button, {
    formLabel: "Edit tweet",
    boxLabel: "Tweet text",
    submitText: "Save",
    initial: original.content,
    send: async (content) => {
      updateEverywhere(await request(`/tweet/${original.tweet_id}`, { method: "PATCH", body: { content } }));
      announce("Tweet edited");
      return true;
    },
  });
}

function confirmDelete(article, button) {
  closeInline(article);
  const original = shown.get(article);
  const cancel = el("button", { type: "button", class: "secondary", text: "Cancel" });
  const confirm = el("button", { type: "button", class: "danger", text: "Yes, delete" });
  const group = el(
    "div",
    { class: "confirm", role: "group", "aria-label": "Confirm delete" },
    el("span", { text: "Delete this tweet?" }),
    cancel,
    confirm,
  );
  cancel.addEventListener("click", () => {
    group.remove();
    button.focus();
  });
  group.addEventListener("keydown", (event) => {
    if (event.key === "Escape") cancel.click();
  });
  confirm.addEventListener("click", () =>
    pending(confirm, async () => {
      await request(`/tweet/${original.tweet_id}`, { method: "DELETE" });
      removeArticles(
        (a) => a.dataset.id === original.tweet_id || a.dataset.originalId === original.tweet_id,
      );
      announce("Tweet deleted");
    }),
  );
  article.querySelector(".inline").append(group);
  cancel.focus();
}
