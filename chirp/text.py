"""Tweet text: validation, normalisation and the entities in it. Pure functions."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_TWEET_CHARS = 280
MAX_MEDIA_URLS = 4
MAX_URL_LENGTH = 2048

#: A username: what a mention can name.
USERNAME = re.compile(r"[A-Za-z0-9_]{1,15}")

# A tag or mention starts where a word does not: "a@b.com" mentions nobody, "x#1" tags
# nothing, and "&#39;" (an HTML entity) is not a hashtag.
_HASHTAG = re.compile(r"(?<![\w&])#(\w+)")
_MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9_]{1,15})(?![A-Za-z0-9_@])")
_URL = re.compile(r"\bhttps?://[^\s<>\"]+", re.IGNORECASE)
_URL_TRAILING = ".,;:!?)]}'\""
# Control characters other than tab, newline and carriage return; NUL among them.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


class TextError(ValueError):
    """The text breaks a rule; the message says which, for the person who wrote it."""


@dataclass(frozen=True)
class Entities:
    """What a tweet's text points at, each in order of first appearance, without repeats."""

    hashtags: tuple[str, ...]
    mentions: tuple[str, ...]
    urls: tuple[str, ...]


def is_hashtag(tag: str) -> bool:
    """A tag as it follows ``#`` in text: what `entities` would find."""
    return 0 < len(tag) <= 100 and _HASHTAG.fullmatch(f"#{tag}") is not None


def plain(value: str, what: str) -> str:
    """``value`` if it holds no control characters (NUL among them) and no lone
    surrogates, which no person types and some encoders cannot even write."""
    if _LONE_SURROGATE.search(value) or _CONTROL.search(value):
        raise TextError(f"{what} holds control characters or broken Unicode")
    return value


def tweet_text(content: str) -> str:
    """The text as stored: NFC-normalised, then checked. Raises `TextError` when it is
    blank, longer than 280 characters (code points, after NFC), or holds NUL, other control
    characters or lone surrogates."""
    if _LONE_SURROGATE.search(content):
        raise TextError("the text holds a lone UTF-16 surrogate, which is not a character")
    if _CONTROL.search(content):
        raise TextError("the text holds control characters (such as NUL)")
    text = unicodedata.normalize("NFC", content)
    if not text.strip():
        raise TextError("a tweet needs some text")
    if len(text) > MAX_TWEET_CHARS:
        raise TextError(f"a tweet holds at most {MAX_TWEET_CHARS} characters, not {len(text)}")
    return text


def entities(text: str) -> Entities:
    return Entities(
        hashtags=_unique(_HASHTAG.findall(text)),
        mentions=_unique(_MENTION.findall(text)),
        urls=_unique(_trim_url(url) for url in _URL.findall(text)),
    )


def media_urls(urls: list[str]) -> tuple[str, ...]:
    """Checked media URLs: at most 4, each an absolute http(s) URL with a host."""
    if len(urls) > MAX_MEDIA_URLS:
        raise TextError(f"at most {MAX_MEDIA_URLS} media URLs, not {len(urls)}")
    for url in urls:
        if not is_web_url(url):
            raise TextError(f"media URLs must be http(s) URLs: {url[:80]!r}")
    return tuple(urls)


def is_web_url(url: str) -> bool:
    if len(url) > MAX_URL_LENGTH or _CONTROL.search(url) or any(c.isspace() for c in url):
        return False
    if _LONE_SURROGATE.search(url):
        return False
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def _trim_url(url: str) -> str:
    # "see https://x.org/a." ends the sentence, not the URL; a ")" closes one only if the
    # URL opened it (as Wikipedia links do).
    while url and url[-1] in _URL_TRAILING:
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    return url


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for item in items:
        seen.setdefault(item.casefold(), item)
    return tuple(seen.values())
