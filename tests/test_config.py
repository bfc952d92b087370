"""Settings from flags and CHIRP_* variables."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from chirp.cli import parser, settings_from
from chirp.config import DEFAULT_PARTITIONS, Settings


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


def test_a_config_file_sits_under_the_environment_and_the_flags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("CHIRP_PORT", "CHIRP_HOST", "CHIRP_CACHE", "CHIRP_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "chirp.toml"
    config.write_text(
        'cache = "redis://127.0.0.1:6379/0"\nport = 9001\nhost = "::1"\n'
        "[partitions]\ntweet_created = 7\n"
    )
    monkeypatch.setenv("CHIRP_PORT", "9002")
    settings = settings_for("--config", str(config), "--host", "127.0.0.1")
    assert (settings.cache, settings.port, settings.host) == (
        "redis://127.0.0.1:6379/0",
        9002,
        "127.0.0.1",
    )
    assert settings.partitions["tweet_created"] == 7
    assert settings.partitions["like_added"] == DEFAULT_PARTITIONS["like_added"]
    monkeypatch.setenv("CHIRP_CONFIG", str(config))
    assert settings_for().cache == "redis://127.0.0.1:6379/0"


def test_the_example_production_config_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHIRP_JWT_SECRET", "x" * 32)  # from the environment, as it says
    settings = settings_for("--config", str(Path(__file__).parents[1] / "chirp.example.toml"))
    assert settings.users.startswith("postgresql://") and settings.tweets.startswith("dynamodb")
    assert settings.cache.startswith("redis://") and settings.log.startswith("redis://")


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"cache": "memcached://127.0.0.1"}, "cache is memory or a redis:// URL"),
        ({"tweets": "postgresql://x"}, "tweets is memory or a dynamodb:// URL"),
        ({"users": "postgresql://127.0.0.1/chirp"}, "jwt_secret must be set"),
        ({"jwt_secret": "too short"}, "at least 32 bytes"),
        ({"namespace": "Has Spaces"}, "namespace"),
    ],
)
def test_backends_are_named_by_url(overrides: dict[str, str], complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        Settings(**overrides)  # type: ignore[arg-type]
