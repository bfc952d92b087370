"""Believable, made-up people for the demo: names, unique usernames, bios, regions and
what they tweet about. Deterministic from a seed; pure (no I/O)."""

from __future__ import annotations

import random
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from chirp.model import MAX_BIO

from .chatter import TOPICS

FIRST_NAMES = (
    "Aaliyah", "Aarav", "Abebe", "Ada", "Aiko", "Alejandro", "Amara", "Amelia", "Anders",
    "Anya", "Arjun", "Astrid", "Ben", "Bianca", "Carlos", "Chen", "Chloe", "Dalia", "Daniel",
    "Dmitri", "Elena", "Eli", "Emeka", "Emma", "Farah", "Felix", "Freya", "Gabriel", "Grace",
    "Hana", "Hugo", "Ines", "Isaac", "Ivy", "Jamal", "Javier", "Jin", "Jonas", "Kai", "Kavya",
    "Kenji", "Kofi", "Lars", "Layla", "Leo", "Lina", "Luca", "Lucia", "Malik", "Maya",
    "Mei", "Mila", "Nadia", "Naomi", "Nia", "Noah", "Olga", "Omar", "Oscar", "Priya", "Rafael",
    "Rania", "Ravi", "Rosa", "Ruby", "Sam", "Sana", "Sofia", "Tariq", "Tess", "Theo", "Tomas",
    "Uma", "Valentina", "Wei", "Yara", "Yusuf", "Zara", "Zoe", "Zain",
)  # fmt: skip
LAST_NAMES = (
    "Adeyemi", "Alvarez", "Andersen", "Bakker", "Banerjee", "Becker", "Bianchi", "Brooks",
    "Castillo", "Chen", "Costa", "Dubois", "Duarte", "Eriksson", "Fischer", "Flores", "Garcia",
    "Haddad", "Hansen", "Hughes", "Ibrahim", "Ito", "Jansen", "Kaur", "Kim", "Kowalski",
    "Kumar", "Larsen", "Lee", "Lopez", "Mahmoud", "Martin", "Mendes", "Moreau", "Morris",
    "Murphy", "Nakamura", "Nguyen", "Novak", "Okafor", "Oliveira", "Osei", "Park", "Patel",
    "Petrov", "Quinn", "Rossi", "Russo", "Santos", "Sato", "Schmidt", "Shah", "Silva",
    "Singh", "Sokolov", "Suzuki", "Tanaka", "Torres", "Vargas", "Walsh", "Wang", "Weber",
    "Wilson", "Wong", "Yamamoto", "Yilmaz", "Young", "Zhang", "Zielinski",
)  # fmt: skip
ROLES = (
    "Software engineer", "Nurse", "Teacher", "Designer", "PhD student", "Barista",
    "Product manager", "Data scientist", "Journalist", "Photographer", "Chef", "Architect",
    "Startup founder", "Librarian", "Musician", "Civil engineer", "Student", "Researcher",
    "Paramedic", "Writer", "Developer advocate", "Mechanic", "Illustrator", "Accountant",
)  # fmt: skip
FLOURISHES = (
    "Opinions my own.", "Probably outside.", "Dog person.", "Cat person.", "Coffee first.",
    "Usually late.", "Here for the replies.", "Trying my best.", "Tea over coffee.",
    "Mostly harmless.", "Amateur everything.", "Lurker turned poster.", "", "", "",
)  # fmt: skip
#: The celebrities' personas, most followed first: (display name, username, bio, topic).
CELEBRITIES = (
    ("Nova Sterling", "novasterling", "Singer, songwriter. New album out now.", "music"),
    ("Marcus Oduya", "marcusoduya", "Striker. Husband. Dad. Football is life.", "sports"),
    ("Priya Raman", "priyaraman", "CEO of a rocket company. One launch at a time.", "tech"),
    ("Theo Lindqvist", "theolindqvist", "Chef. Three stars, no patience for bad bread.", "food"),
    ("Ada Quill", "adaquill", "Novelist. Tea, storms and unreliable narrators.", "books"),
    ("Dr Lena Hart", "drlenahart", "Astrophysicist. The universe, 280 characters at a time.",
     "science"),
    ("Kai Moreno", "kaimoreno", "Photographer. Chasing light on six continents.", "travel"),
    ("Jules Ferrante", "julesferrante", "Painter. Loud colours, quiet mornings.", "art"),
)  # fmt: skip
MAX_USERNAME = 15


@dataclass(frozen=True)
class Person:
    """One demo account, before it exists: what seeding gives the user store."""

    username: str
    display_name: str
    email: str
    bio: str
    region: str
    topics: tuple[str, ...]  # what they tweet about (keys of `chatter.TOPICS`)


def invent_people(
    count: int,
    *,
    regions: Sequence[str] = ("global",),
    celebrities: Collection[int] = (),
    seed: int = 1,
) -> list[Person]:
    """``count`` people, the same for the same arguments. Usernames are unique regardless
    of case and valid chirp usernames; ``celebrities`` (indexes, most followed first) get
    the famous personas. Regions are drawn from ``regions``: about half ``global`` (the
    table every tweet counts toward anyway), the rest spread evenly."""
    rng = random.Random(seed)
    personas = dict(zip(celebrities, CELEBRITIES, strict=False))
    taken = {username.casefold() for _, username, _, _ in CELEBRITIES}
    local = [r for r in regions if r != "global"]
    topics = sorted(TOPICS)
    found: list[Person] = []
    for index in range(count):
        region = rng.choice(local) if local and rng.random() < 0.5 else "global"
        if index in personas:
            display, username, bio, topic = personas[index]
            found.append(Person(username, display, _email(username), bio, region, (topic,)))
            continue
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        username = _unique(_username(rng, first, last), taken, rng)
        interests = tuple(rng.sample(topics, rng.choice((1, 1, 2, 2, 3))))
        found.append(
            Person(
                username,
                f"{first} {last}",
                _email(username),
                _bio(rng, interests),
                region,
                interests,
            )
        )
    return found


def _username(rng: random.Random, first: str, last: str) -> str:
    first, last = first.lower(), last.lower()
    pattern = rng.randrange(6)
    if pattern == 0:
        name = f"{first}{last}"
    elif pattern == 1:
        name = f"{first}_{last}"
    elif pattern == 2:
        name = f"{first[0]}{last}"
    elif pattern == 3:
        name = f"{first}{last[0]}"
    elif pattern == 4:
        name = f"{last}_{first[0]}"
    else:
        name = f"{first}{rng.randrange(10, 100)}"
    return name[:MAX_USERNAME]


def _unique(name: str, taken: set[str], rng: random.Random) -> str:
    candidate = name
    while candidate.casefold() in taken:
        suffix = str(rng.randrange(1, 10_000))
        candidate = name[: MAX_USERNAME - len(suffix)] + suffix
    taken.add(candidate.casefold())
    return candidate


def _email(username: str) -> str:
    return f"{username}@demo.chirp.example"


def _bio(rng: random.Random, interests: tuple[str, ...]) -> str:
    likes = " & ".join(TOPICS[topic].interest for topic in interests)
    bio = f"{rng.choice(ROLES)}. Into {likes}. {rng.choice(FLOURISHES)}".strip()
    return bio[:MAX_BIO]
