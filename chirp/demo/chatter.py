"""What demo people say: tweets on their topics, replies, and the hot hashtags of the
moment. Pure functions of a `random.Random`, so a seed gives the same words."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    interest: str  # as a bio says it: "Into {interest}."
    tags: tuple[str, ...]
    lines: tuple[str, ...]  # each with one {thing}
    things: tuple[str, ...]


#: The tech and sports tags are the default trending categories' (chirp.config), so those
#: tables fill too.
TOPICS: dict[str, Topic] = {
    "tech": Topic(
        "open source",
        ("tech", "python", "programming", "ai", "opensource", "linux", "rust"),
        (
            "Just shipped {thing} to production and nothing caught fire.",
            "Hot take: {thing} is overrated.",
            "Spent the whole afternoon debugging {thing}. It was a typo.",
            "Finally migrated {thing}. Never again.",
            "Anyone else think {thing} deserves more love?",
            "Today I learned how {thing} actually works under the hood.",
        ),
        (
            "the new cache layer",
            "our CI pipeline",
            "a tiny parser",
            "the search index",
            "async Python",
            "a Rust rewrite",
            "the billing service",
            "my dotfiles",
            "a home server",
            "the event log",
            "structured concurrency",
            "a flaky test",
        ),
    ),
    "sports": Topic(
        "sports",
        ("sports", "football", "soccer", "nba", "tennis", "cricket", "f1"),
        (
            "What a finish by {thing} tonight!",
            "Can't believe {thing} pulled that off.",
            "Unpopular opinion: {thing} is the best in the league.",
            "Watching {thing} with the whole family.",
            "That call against {thing} was a disgrace.",
            "Training day. Thinking about {thing}.",
        ),
        (
            "the home side",
            "the rookie",
            "the veteran keeper",
            "the away team",
            "the captain",
            "the underdogs",
            "the defending champions",
            "the new coach",
            "the bench",
            "that last lap",
            "the second half",
            "extra time",
        ),
    ),
    "food": Topic(
        "good food",
        ("foodie", "coffee", "baking", "brunch"),
        (
            "Made {thing} from scratch and I'm never buying it again.",
            "Rate my {thing}, honestly.",
            "The secret to {thing} is patience. And butter.",
            "Found a new place that does amazing {thing}.",
            "Sunday plan: {thing} and nothing else.",
        ),
        (
            "sourdough",
            "ramen",
            "a lemon tart",
            "pour-over coffee",
            "dumplings",
            "focaccia",
            "shakshuka",
            "banana bread",
            "pho",
            "croissants",
            "tacos",
            "a curry",
        ),
    ),
    "music": Topic(
        "music",
        ("music", "nowplaying", "vinyl", "livemusic"),
        (
            "Can't stop listening to {thing}.",
            "Saw {thing} live last night. Still buzzing.",
            "Found {thing} in a record shop for two quid.",
            "Is {thing} the most underrated record ever made?",
            "On repeat today: {thing}.",
        ),
        (
            "that new synth album",
            "an old jazz LP",
            "the festival lineup",
            "a B-side",
            "a local band",
            "a film score",
            "a bootleg recording",
            "the remastered edition",
            "a cello suite",
            "a busker downtown",
        ),
    ),
    "travel": Topic(
        "travel",
        ("travel", "wanderlust", "roadtrip"),
        (
            "Woke up to {thing} this morning.",
            "Missed my train, found {thing} instead.",
            "Tip: skip the crowds and go see {thing} at dawn.",
            "Three days in and {thing} is still the highlight.",
        ),
        (
            "a view of the fjord",
            "a night market",
            "a mountain hut",
            "an empty beach",
            "a tiny bookshop",
            "the old harbour",
            "a desert sunrise",
            "a ferry ride",
        ),
    ),
    "books": Topic(
        "books",
        ("books", "amreading", "bookclub"),
        (
            "Halfway through {thing} and I can't put it down.",
            "Book club picked {thing}. Thoughts?",
            "Finished {thing} at 2am. Worth it.",
            "Rereading {thing} hits different now.",
        ),
        (
            "a doorstopper fantasy",
            "a slim memoir",
            "a sci-fi classic",
            "a poetry collection",
            "a history of maps",
            "a cosy mystery",
            "a translated novel",
            "a graphic novel",
        ),
    ),
    "science": Topic(
        "science",
        ("science", "space", "astronomy"),
        (
            "New paper out on {thing}. The data are wild.",
            "Explaining {thing} to my kid was harder than the exam.",
            "Clear skies tonight: perfect for {thing}.",
            "Reminder that {thing} is genuinely amazing.",
        ),
        (
            "exoplanet atmospheres",
            "the Moon's far side",
            "tardigrades",
            "a meteor shower",
            "dark matter maps",
            "ocean currents",
            "Jupiter's moons",
            "deep-sea vents",
        ),
    ),
    "art": Topic(
        "art and photography",
        ("art", "photography", "design"),
        (
            "Working on {thing} all week. Nearly there.",
            "Golden hour made {thing} look unreal.",
            "Sketchbook page of the day: {thing}.",
            "Anyone else obsessed with {thing} lately?",
        ),
        (
            "a mural",
            "a self-portrait",
            "street scenes",
            "a typeface",
            "linocut prints",
            "a gallery wall",
            "film photos",
            "watercolours",
        ),
    ),
}

#: Tags that trend in turn: `hot_tags` picks a sliding run of them, so one leaves and
#: one arrives every turn and the trending tables keep moving.
HOT_TAGS = (
    "launchday", "cupfinal", "heatwave", "newalbum", "devday", "solareclipse", "marathon",
    "snowday", "gameday", "foodfest", "bookweek", "citylights",
)  # fmt: skip
HOT_LINES = (
    "Who else is following {tag} right now?",
    "Can't stop thinking about {tag}.",
    "{tag} is all anyone is talking about today.",
    "Okay, {tag} is actually brilliant.",
    "My whole timeline is {tag} and I'm here for it.",
    "Not sure how I feel about {tag} yet.",
)
TAILS = ("", "", "", " Thoughts?", " Wild.", " 🙌", " 😅", " Honestly.", " More soon.", " 🔥")
REPLY_OPENERS = (
    "So true.", "This!", "Hard disagree, respectfully.", "Wait, really?", "Saving this.",
    "Came here to say this.", "100%.", "Underrated point.", "Love this.", "Ha, same.",
    "Not sure about that.", "Big if true.",
)  # fmt: skip
REPLY_CLOSERS = (
    "", "", " Made my day.", " Tell me more.", " Following for updates.", " 👏",
    " We should talk about this.", " Sending to my group chat.",
)  # fmt: skip
HOT_SHARE = 0.35  # tweets that carry one of the hot tags of the moment
TOPIC_TAG_SHARE = 0.6  # tweets that carry one of their topic's tags


def hot_tags(turn: int, *, width: int = 3) -> tuple[str, ...]:
    """The hot tags of the ``turn``-th turn: a run of ``width`` from `HOT_TAGS`."""
    return tuple(HOT_TAGS[(turn + i) % len(HOT_TAGS)] for i in range(width))


def tweet_text(
    rng: random.Random,
    topics: Sequence[str],
    hot: Sequence[str],
    *,
    mention: str | None = None,
) -> str:
    """A tweet by someone into ``topics``: a line on one of them, maybe a topic tag, maybe
    one of the ``hot`` tags, maybe a mention of ``mention``. Well under 280 characters."""
    topic = TOPICS[rng.choice(topics)]
    if hot and rng.random() < HOT_SHARE:
        text = rng.choice(HOT_LINES).format(tag=f"#{rng.choice(hot)}")
    else:
        text = rng.choice(topic.lines).format(thing=rng.choice(topic.things))
    text += rng.choice(TAILS)
    if rng.random() < TOPIC_TAG_SHARE:
        text += f" #{rng.choice(topic.tags)}"
    if mention is not None:
        text += f" cc @{mention}"
    return text


def reply_text(rng: random.Random) -> str:
    return rng.choice(REPLY_OPENERS) + rng.choice(REPLY_CLOSERS)
