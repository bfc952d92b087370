// Tweet text as chirp/text.py sees it: the length rule, and the #tags, @mentions and
// URLs in it turned into links.

import { el, hashtagHref, profileHref } from "./dom.js";

export const MAX_TWEET_CHARS = 280;

/** Characters as chirp counts them: Unicode code points after NFC (an emoji is 1, an
 * "e" with a combining accent composes to 1). */
export function tweetLength(content) {
  return [...content.normalize("NFC")].length;
}

/** What is left of the 280; negative past the limit. */
export function charactersLeft(content) {
  return MAX_TWEET_CHARS - tweetLength(content);
}

/** Whether chirp would take ``content``: some non-blank text, at most 280 characters. */
export function postable(content) {
  return content.trim() !== "" && charactersLeft(content) >= 0;
}

// chirp/text.py's patterns. Python's \w is Unicode letters, digits and the underscore.
const WORD = "[\\p{L}\\p{N}_]";
const ENTITY = new RegExp(
  [
    `(?<![\\p{L}\\p{N}_&])#(?<tag>${WORD}+)`,
    "(?<![\\p{L}\\p{N}_@])@(?<mention>[A-Za-z0-9_]{1,15})(?![A-Za-z0-9_@])",
    '(?<url>\\bhttps?:\\/\\/[^\\s<>"]+)',
  ].join("|"),
  "giu",
);
const URL_TRAILING = ".,;:!?)]}'\"";

/** The tweet's text as a fragment of text nodes and links. ``mentions`` are the names
 * chirp found to be users; other @words stay text. */
export function richText(content, mentions = []) {
  const known = new Set(mentions.map((name) => name.toLowerCase()));
  const fragment = document.createDocumentFragment();
  let at = 0;
  for (const match of content.matchAll(ENTITY)) {
    let link = null;
    let length = match[0].length;
    const { tag, mention, url } = match.groups;
    if (tag !== undefined) {
      link = el("a", { href: hashtagHref(tag), class: "tag", text: match[0] });
    } else if (mention !== undefined) {
      if (known.has(mention.toLowerCase())) {
        link = el("a", { href: profileHref(mention), class: "mention", text: match[0] });
      }
    } else if (url !== undefined) {
      const trimmed = trimUrl(url);
      length = trimmed.length;
      link = el("a", { href: trimmed, rel: "noopener noreferrer nofollow", text: trimmed });
    }
    if (link === null) continue;
    fragment.append(content.slice(at, match.index), link);
    at = match.index + length;
  }
  fragment.append(content.slice(at));
  return fragment;
}

function trimUrl(url) {
  // "see https://x.org/a." ends the sentence, not the URL; ")" closes one only if the
  // URL opened it.
  while (url && URL_TRAILING.includes(url.at(-1))) {
    if (url.at(-1) === ")" && count(url, "(") >= count(url, ")")) break;
    url = url.slice(0, -1);
  }
  return url;
}

function count(text, character) {
  return text.split(character).length - 1;
}

const SHORT_DATE = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });
const LONG_DATE = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const FULL_DATE = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });

/** "now", "42s", "5m", "3h", then the date. */
export function relativeTime(iso, now = Date.now()) {
  const then = new Date(iso);
  const seconds = Math.max(0, Math.round((now - then.getTime()) / 1000));
  if (seconds < 5) return "now";
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h`;
  const sameYear = then.getFullYear() === new Date(now).getFullYear();
  return (sameYear ? SHORT_DATE : FULL_DATE).format(then);
}

/** A ``<time>`` showing ``iso`` relative to now; refreshTimes keeps it current. */
export function timeElement(iso) {
  return el("time", {
    datetime: iso,
    class: "relative",
    title: LONG_DATE.format(new Date(iso)),
    text: relativeTime(iso),
  });
}

export function refreshTimes(root = document) {
  const now = Date.now();
  for (const time of root.querySelectorAll("time.relative")) {
    time.textContent = relativeTime(time.dateTime, now);
  }
}
