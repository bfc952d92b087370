"""Property tests: any sequence of likes, unlikes, follows and unfollows through the
services leaves every count equal to the truth."""

from __future__ import annotations

import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chirp.server import assemble

from .api.conftest import fast_settings

PEOPLE = 4
Op = tuple[str, int, int]
ops = st.lists(
    st.tuples(
        st.sampled_from(["like", "unlike", "follow", "unfollow"]),
        st.integers(0, PEOPLE - 1),
        st.integers(0, PEOPLE - 1),
    ),
    max_size=40,
)


def run_through_services(sequence: list[Op]) -> None:
    async def main() -> None:
        chirp = assemble(fast_settings())
        async with trio.open_nursery() as nursery:
            await nursery.start(chirp.system.run)
            users, tweets = chirp.services.users, chirp.services.tweets
            people = []
            for n in range(PEOPLE):
                view, _ = await users.register(
                    username=f"p{n}", email=f"p{n}@x.org", password="long enough pw"
                )
                people.append(view.user.user_id)
            posts = [(await tweets.post(p, f"post of {p}")).tweet.tweet_id for p in people]
            likes: set[tuple[int, int]] = set()
            follows: set[tuple[int, int]] = set()
            for op, a, b in sequence:
                who, other = people[a], people[b]
                if op == "like":
                    await tweets.like(who, posts[b])
                    likes.add((who, posts[b]))
                elif op == "unlike":
                    await tweets.unlike(who, posts[b])
                    likes.discard((who, posts[b]))
                elif op == "follow" and who != other:
                    await users.follow(who, other)
                    follows.add((who, other))
                elif op == "unfollow":
                    await users.unfollow(who, other)
                    follows.discard((who, other))
            for post in await tweets.views(posts, viewer=None):
                assert post.like_count == sum(1 for _, t in likes if t == post.tweet.tweet_id)
            for view in await users.views(people):
                me = view.user.user_id
                assert view.follower_count == sum(1 for _, b in follows if b == me)
                assert view.following_count == sum(1 for a, _ in follows if a == me)
            followed = sum(await chirp.log.end_offsets("user_followed"))
            unfollowed = sum(await chirp.log.end_offsets("user_unfollowed"))
            assert followed - unfollowed == len(follows), "every change announced, once"
            nursery.cancel_scope.cancel()

    trio.run(main)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops)
def test_counts_equal_the_truth_after_any_sequence(sequence: list[Op]) -> None:
    run_through_services(sequence)
