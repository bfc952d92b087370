"""The hybrid fan-out tiers at their boundaries."""

from __future__ import annotations

import pytest

from chirp.fanout_policy import FanoutPolicy, Tier


@pytest.mark.parametrize(
    ("followers", "tier"),
    [
        (0, Tier.PUSH_ALL),
        (999, Tier.PUSH_ALL),
        (1_000, Tier.PUSH_ACTIVE),
        (100_000, Tier.PUSH_ACTIVE),
        (100_001, Tier.PULL),
        (10**8, Tier.PULL),
    ],
)
def test_the_seeds_thresholds(followers: int, tier: Tier) -> None:
    assert FanoutPolicy().tier_for(followers) is tier


def test_thresholds_come_from_config_and_must_make_sense() -> None:
    assert FanoutPolicy(push_all_below=10, pull_above=20).tier_for(21) is Tier.PULL
    with pytest.raises(ValueError):
        FanoutPolicy(push_all_below=50, pull_above=20)


@pytest.mark.parametrize("followers", [0, 1, 999, 1_000, 100_001, 10**9])
def test_the_pure_policies_put_everyone_in_one_tier(followers: int) -> None:
    assert FanoutPolicy.pure_push().tier_for(followers) is Tier.PUSH_ALL
    assert FanoutPolicy.pure_pull().tier_for(followers) is Tier.PULL
