"""Settings from flags and CHIRP_* variables."""

from __future__ import annotations

import pytest

from chirp.cli import parser, settings_from
from chirp.config import DEFAULT_PARTITIONS


def settings_for(*argv: str):  # type: ignore[no-untyped-def]
    return settings_from(parser().parse_args(["serve", *argv]))


def test_defaults_are_the_seeds_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CHIRP_PORT", "CHIRP_HOST", "CHIRP_PARTITIONS", "CHIRP_ADMIN_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    settings = settings_for()
    assert (settings.host, settings.port, settings.admin_token) == ("127.0.0.1", 8000, None)
    assert settings.partitions == DEFAULT_PARTITIONS
    seed = {"tweet_created": 100, "tweet_deleted": 50, "like_added": 50, "retweet_created": 50}
    assert {topic: DEFAULT_PARTITIONS[topic] for topic in seed} == seed
    assert settings.log_retention_hours == 7 * 24


def test_flags_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHIRP_PORT", "9001")
    monkeypatch.setenv("CHIRP_PARTITIONS", '{"like_added": 7}')
    assert settings_for().port == 9001
    settings = settings_for("--port", "9002", "--partitions", "tweet_created=3")
    assert settings.port == 9002
    assert settings.partitions["tweet_created"] == 3
    assert settings.partitions["tweet_deleted"] == 50, "other topics keep their defaults"


@pytest.mark.parametrize(
    "argv",
    [
        ["--port", "70000"],
        ["--partitions", "tweet_created"],
        ["--partitions", "t=0"],
        ["--admin-token", "short"],
    ],
)
def test_bad_settings_are_refused(argv: list[str]) -> None:
    with pytest.raises(ValueError):
        settings_for(*argv)


def test_the_admin_token_never_shows_in_a_repr() -> None:
    settings = settings_for("--admin-token", "a-long-enough-secret-token")
    assert "a-long-enough-secret-token" not in repr(settings)
    assert "a-long-enough-secret-token" not in str(settings.model_dump())
