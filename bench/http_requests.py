"""The requests an HTTP load sends, each of a kind, and what the ceiling sends in its place.

Every request acts as a random seeded account with the token it got at sign-up. Likes and
retweets go to (account, tweet) pairs never used before in the run: a repeated like is a
no-op in chirp, and measuring no-ops would flatter it. A GET's ceiling is a constant body
of the mean size chirp answered that kind with; a POST's is the stack parsing a tweet body
and answering 201.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

import httpx
import trio

from .ceilings import POST_PATH, const_path
from .load import Request
from .seeding import Seeded

#: chirp refuses the same text from one author twice in an hour: "{seq}" differs within a
#: load run, the nonce between runs.
TWEET_BODY = '{"content": "load tweet NONCE-{seq} over http #bench"}'
GET_KINDS = ("feed", "home timeline", "user timeline", "tweet view", "profile view")
POST_KINDS = ("tweet", "like", "retweet")
FEED_TWEETS = "tweets on a feed page"
#: Requests of each GET kind fetched to learn its mean answer size.
SIZE_SAMPLE = 50

Kinded = list[tuple[str, Request]]


class Requests:
    def __init__(self, seeded: Seeded, seed: int) -> None:
        self._seeded = seeded
        self._rng = random.Random(seed)
        self._likes = self._fresh_pairs()
        self._retweets = self._fresh_pairs()
        self.makers: dict[str, Callable[[], Request]] = {
            "feed": lambda: self._feed(100),
            "home timeline": lambda: self._feed(10),
            "user timeline": self._timeline,
            "tweet view": self._tweet_view,
            "profile view": self._profile_view,
            "tweet": self._tweet,
            "like": lambda: self._engage(self._likes, "like"),
            "retweet": lambda: self._engage(self._retweets, "retweet"),
        }

    def many(self, kind: str, count: int) -> Kinded:
        return [(kind, self.makers[kind]()) for _ in range(count)]

    def mix(self, weights: dict[str, float], count: int) -> Kinded:
        kinds = self._rng.choices(list(weights), weights=list(weights.values()), k=count)
        return [(kind, self.makers[kind]()) for kind in kinds]

    def _user(self) -> int:
        return self._rng.randrange(len(self._seeded.user_ids))

    def _auth(self) -> tuple[tuple[str, str], ...]:
        return self._seeded.auth(self._user())

    def _feed(self, limit: int) -> Request:
        return Request("GET", f"/api/v1/feed?limit={limit}", self._auth())

    def _timeline(self) -> Request:
        target = self._seeded.user_ids[self._user()]
        return Request("GET", f"/api/v1/users/{target}/tweets?limit=10", self._auth())

    def _tweet_view(self) -> Request:
        tweet = self._rng.choice(self._seeded.tweet_ids)
        return Request("GET", f"/api/v1/tweet/{tweet}", self._auth())

    def _profile_view(self) -> Request:
        target = self._seeded.user_ids[self._user()]
        return Request("GET", f"/api/v1/users/{target}", self._auth())

    def _tweet(self) -> Request:
        nonce = f"{self._rng.getrandbits(48):x}"
        return Request("POST", POST_PATH, self._auth(), TWEET_BODY.replace("NONCE", nonce))

    def _fresh_pairs(self) -> Iterator[tuple[int, str]]:
        """Every (account, tweet) pair once, in random order; then again, which only a
        graph too small for the run's length comes to."""
        users, tweets = len(self._seeded.user_ids), self._seeded.tweet_ids
        while True:
            for index in _distinct(self._rng, users * len(tweets)):
                yield index % users, tweets[index // users]

    def _engage(self, pairs: Iterator[tuple[int, str]], action: str) -> Request:
        user, tweet = next(pairs)
        return Request("POST", f"/api/v1/tweet/{tweet}/{action}", self._seeded.auth(user))


def _distinct(rng: random.Random, population: int) -> Iterator[int]:
    """Random numbers below ``population``, none twice (without a list of them all)."""
    seen: set[int] = set()
    while len(seen) < population:
        n = rng.randrange(population)
        if n not in seen:
            seen.add(n)
            yield n


def requests_of(kinded: Kinded) -> list[Request]:
    return [request for _, request in kinded]


def ceiling_of(kinded: Kinded, sizes: dict[str, int]) -> list[Request]:
    """The same sequence of kinds as the ceiling answers them."""
    post = Request("POST", POST_PATH, body=TWEET_BODY.replace("NONCE", "ceiling"))
    return [
        post if kind in POST_KINDS else Request("GET", const_path(sizes[kind]))
        for kind, _ in kinded
    ]


async def answer_sizes(url: str, make: Requests) -> dict[str, int]:
    """The mean body size chirp answers each GET kind with, over `SIZE_SAMPLE` requests,
    and (as `FEED_TWEETS`) how many tweets a feed page held."""
    sizes = {}
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        for kind in GET_KINDS:
            total = tweets = 0
            for _, request in make.many(kind, SIZE_SAMPLE):
                answer = await client.get(request.path, headers=dict(request.headers))
                if answer.status_code != 200:
                    raise RuntimeError(f"{kind}: {request.path} answered {answer.status_code}")
                total += len(answer.content)
                if kind == "feed":
                    tweets += len(answer.json()["tweets"])
            sizes[kind] = total // SIZE_SAMPLE
            if kind == "feed":
                sizes[FEED_TWEETS] = tweets // SIZE_SAMPLE
    return sizes


def measure_sizes(url: str, make: Requests) -> dict[str, int]:
    return trio.run(answer_sizes, url, make)
