"""Key placement as Redis Cluster does it."""

from __future__ import annotations

from storage.memory.feedcache import MemoryFeedCache
from storage.slots import SLOTS, key_slot, node_of, tag_slot


def test_slots_match_redis_cluster() -> None:
    # Each value read from `CLUSTER KEYSLOT` on a Redis 7.0 started with cluster-enabled.
    assert key_slot("123456789") == 0x31C3 % SLOTS == 12739
    assert key_slot("foo") == 12182
    assert key_slot("bar") == 5061
    assert key_slot("feed:{42}") == key_slot("42") == 8000
    assert key_slot("a{}b") == 13694


def test_hash_tags_put_related_keys_in_one_slot() -> None:
    assert key_slot("feed:{42}") == key_slot("celeb:{42}") == key_slot("42")
    assert key_slot("a{}b") != key_slot(""), "an empty tag hashes the whole key"


def test_nodes_take_contiguous_equal_ranges() -> None:
    assert [node_of(s, 3) for s in (0, 5461, 5462, 10922, 10923, 16383)] == [0, 0, 1, 1, 2, 2]
    assert {node_of(s, 1) for s in range(SLOTS)} == {0}


def test_a_tag_alone_places_as_its_keys_do() -> None:
    assert tag_slot(b"42") == key_slot("tweet:{42}") == 8000
    cache = MemoryFeedCache(nodes=4)
    for tweet_id in (0, 1, 7, 2**63 - 1, 7_300_000_000_000_012_345):
        assert cache._tweet_node(tweet_id) == cache.node_for(f"tweet:{{{tweet_id}}}")
