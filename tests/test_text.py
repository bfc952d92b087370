"""Tweet text rules and entity extraction."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chirp import text
from chirp.text import TextError


def test_length_counts_code_points_after_nfc() -> None:
    decomposed = unicodedata.normalize("NFD", "é") * 280  # 560 code points before NFC
    assert len(text.tweet_text(decomposed)) == 280
    assert text.tweet_text("🐦" * 280) == "🐦" * 280
    with pytest.raises(TextError, match="at most 280 characters, not 281"):
        text.tweet_text("a" * 281)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("", "needs some text"),
        ("   \n\t", "needs some text"),
        ("a\x00b", "control"),
        ("bell\x07", "control"),
        ("half \ud83d surrogate", "surrogate"),
    ],
)
def test_blank_and_unprintable_text_is_refused(content: str, reason: str) -> None:
    with pytest.raises(TextError, match=reason):
        text.tweet_text(content)


def test_newlines_and_tabs_are_text() -> None:
    assert text.tweet_text("line one\nline\ttwo\r\n") == "line one\nline\ttwo\r\n"


def test_entities_in_order_without_repeats() -> None:
    found = text.entities(
        "Hi @alice and @Bob_1! #Trio #python #trio see https://trio.dev/docs. "
        "and (https://en.wikipedia.org/wiki/Trio_(music)) @alice"
    )
    assert found.hashtags == ("Trio", "python")
    assert found.mentions == ("alice", "Bob_1")
    assert found.urls == ("https://trio.dev/docs", "https://en.wikipedia.org/wiki/Trio_(music)")


@pytest.mark.parametrize(
    "content",
    ["mail me at a@b.com", "it&#39;s", "x#1", "@this_name_is_far_too_long", "@@double"],
)
def test_things_that_only_look_like_entities(content: str) -> None:
    found = text.entities(content)
    assert (found.hashtags, found.mentions) == ((), ())


def test_unicode_hashtags() -> None:
    assert text.entities("#café #東京 #naïve").hashtags == ("café", "東京", "naïve")


def test_media_urls_are_http_and_at_most_four() -> None:
    assert text.media_urls(["https://img.example/a.png"]) == ("https://img.example/a.png",)
    for bad in (
        ["javascript:alert(1)"],
        ["ftp://x.org/a"],
        ["https:///nohost"],
        ["http://x.org/a b"],
        ["https://x.org/" + "a" * 3000],
    ):
        with pytest.raises(TextError):
            text.media_urls(bad)
    with pytest.raises(TextError, match="at most 4"):
        text.media_urls(["https://x.org/1"] * 5)


@given(st.text(max_size=400))
def test_accepted_text_is_always_nfc_within_the_limit(content: str) -> None:
    try:
        accepted = text.tweet_text(content)
    except TextError:
        return
    assert unicodedata.is_normalized("NFC", accepted)
    assert 1 <= len(accepted) <= 280 and accepted.strip()
    text.entities(accepted)  # never raises on accepted text
