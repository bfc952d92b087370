"""The benchmarks' social graphs: the seeded power-law graph's shape, and reed98."""

from __future__ import annotations

import numpy as np
import pytest

from bench.graphs import REED98, Edges, Graph, power_law, reed98

USERS = 20_000


@pytest.fixture(scope="module")
def graph() -> Graph:
    return power_law(USERS)


def columns(graph: Graph) -> tuple[np.ndarray, np.ndarray]:
    assert isinstance(graph.edges, Edges)
    return graph.edges.follower, graph.edges.followee


def test_the_same_seed_gives_the_same_graph(graph: Graph) -> None:
    again = power_law(USERS)
    assert again == graph
    assert np.array_equal(columns(again)[0], columns(graph)[0])
    assert np.array_equal(columns(again)[1], columns(graph)[1])


def test_another_seed_gives_another_graph(graph: Graph) -> None:
    other = power_law(USERS, seed=2)
    assert other != graph
    assert other.celebrities != graph.celebrities


def test_no_self_follows_and_no_repeated_follows(graph: Graph) -> None:
    follower, followee = columns(graph)
    assert not np.any(follower == followee)
    keys = follower.astype(np.int64) * graph.users + followee
    # Strictly rising keys: sorted by (follower, followee), each pair once.
    assert np.all(np.diff(keys) > 0)
    assert follower.min() >= 0 and followee.max() < graph.users


def test_celebrities_are_followed_by_a_share_within_their_reach(graph: Graph) -> None:
    low, high = 0.86, 0.95
    in_degrees = graph.in_degrees()
    assert len(set(graph.celebrities)) == 3
    shares = in_degrees[list(graph.celebrities)] / graph.users
    # The reach is drawn in the range, then each user follows with that chance: allow
    # five standard deviations of the binomial (the widest, at the low end) either side.
    slack = 5 * np.sqrt(low * (1 - low) / graph.users)
    assert np.all((shares > low - slack) & (shares < high + slack)), shares
    others = np.delete(in_degrees, list(graph.celebrities))
    assert others.max() < low * graph.users


def test_mean_out_degree_is_near_mean_followees() -> None:
    for mean in (5.0, 20.0):
        graph = power_law(USERS, mean_followees=mean)
        _, followee = columns(graph)
        own = np.count_nonzero(~np.isin(followee, graph.celebrities)) / graph.users
        # Out-degrees are 1 + floor(exponential(mean)); repeated Zipf picks collapse.
        assert 0.8 * mean < own < 1.2 * mean, (mean, own)


def test_in_degrees_are_heavy_tailed(graph: Graph) -> None:
    others = np.delete(graph.in_degrees(), list(graph.celebrities))
    assert others.max() > 500 * np.median(others)
    assert np.percentile(others, 99) > 20 * np.median(others)


def test_edges_read_as_plain_int_pairs(graph: Graph) -> None:
    edges = graph.edges
    pairs = list(edges)
    assert len(pairs) == len(edges)
    assert pairs[0] == edges[0] and pairs[-1] == edges[-1]
    assert list(edges[10:20]) == pairs[10:20]
    assert all(type(a) is int and type(b) is int for a, b in pairs[:100])
    assert edges == pairs


def test_followers_lists_each_accounts_followers_in_edge_order(graph: Graph) -> None:
    expected: list[list[int]] = [[] for _ in range(graph.users)]
    for follower, followee in graph.edges:
        expected[followee].append(follower)
    assert graph.followers() == expected


def test_describe_names_the_top_in_degrees(graph: Graph) -> None:
    top = sorted(graph.in_degrees().tolist(), reverse=True)[:4]
    assert graph.describe().endswith(f"top in-degrees {top}")
    small = Graph("tiny", 3, [(0, 1), (2, 1)])
    assert small.describe() == (
        "tiny: 3 users, 2 follows, mean 0.7 followees, top in-degrees [2, 0, 0]"
    )
    assert small.followers() == [[], [0, 2], []]


@pytest.mark.skipif(not REED98.exists(), reason=f"no socfb-Reed98 data at {REED98}")
def test_reed98_loads_each_friendship_both_ways() -> None:
    graph = reed98()
    assert (graph.users, len(graph.edges)) == (962, 37_624)
    assert isinstance(graph.edges, list)
    edges = set(graph.edges)
    assert all((b, a) in edges and a != b for a, b in graph.edges)
    assert graph.celebrities == ()
