"""The benchmark harness, every scenario at a tiny size, so it cannot rot: `bench all`
runs each one, and the report it writes holds every section, figure and plot."""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import pytest

from bench import redis_ceilings
from bench import suite as everything
from bench.over_http import HttpOptions
from tests.servers import Servers

TINY = everything.Sizes(
    messages=2_000,
    events=2_000,
    repeat=1,
    tweets=200,
    feed_graphs=("power-law",),  # generated: the test needs nothing beside the checkout
    feed_users=500,
    feed_tweets=300,
    feed_reads=300,
    read_users=50,
    read_tweets=200,
    read_reads=50,
    burst=20,
    http=HttpOptions(
        users=40, graph="power-law", tweets_per_user=2, seconds=1, open_seconds=1, connections=8
    ),
    redis=redis_ceilings.Sizes(
        requests=5_000, pages=500, uses=2_000, fanout_users=300, fanout_tweets=50, repeat=1
    ),
    recovery_events=2_000,
)


def test_every_scenario_runs_and_reports(tmp_path: Path, servers: Servers) -> None:
    if shutil.which("wrk") is None:
        message = "wrk is not installed (scripts/need-wrk installs it)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    folder = everything.main(sizes=TINY, out=tmp_path / "run", redis=servers.redis_url)

    payload = json.loads((folder / "results.json").read_text())
    sections = {s["scenario"]: s for s in payload["sections"]}
    assert list(sections) == list(everything.SCENARIOS)
    for section in sections.values():
        assert section["figures"], section["scenario"]
        for figure in section["figures"]:
            assert math.isfinite(figure["value"]) and figure["value"] >= 0, figure
    http = sections["http"]
    figures = {f["name"]: f for f in http["figures"]}
    feed = next(f for name, f in figures.items() if name.startswith("GET /feed ("))
    assert feed["ratio"] > 0 and feed["target"] == 0.8
    assert figures["POST /tweet"]["ratio"] > 0 and figures["POST /tweet"]["target"] == 0.7
    runs = http["data"]["runs"]
    # Each run has its ceiling: the same kinds of request, answered by the bare stack.
    for name in ("GET /feed (100)", "GET tweet", "DeathStarBench mix", "capacity mix"):
        assert runs[name]["requests"] > 0 and runs[f"ceiling: {name}"]["requests"] > 0
    assert runs["open GET /feed 50%"]["latencies_ms"], "open loop keeps every latency"
    assert all(set(run["statuses"]) <= {"200", "201"} for run in runs.values())
    assert set(http["data"]["sizes"]) >= {"feed", "user timeline", "tweet view"}
    # chirp's three Redis operations, each against redis-benchmark at -P 1 and -P 16.
    ceilings = {f["ceiling_name"] for f in sections["redis"]["figures"]}
    for command in ("LPUSH", "LRANGE_100", "ZINCRBY"):
        assert {f"redis-benchmark -P {p} {command}" for p in (1, 16)} <= ceilings
    assert all(f["ratio"] > 0 for f in sections["redis"]["figures"])
    memory = {f["name"] for f in sections["capacity"]["figures"] if f["unit"] == "GB"}
    assert memory == {"feed-cache memory, embedded", "feed-cache memory, redis"}
    environment = payload["environment"]
    assert environment["commit"] and environment["machine"]["cores"] and environment["seeds"]

    report = (folder / "report.md").read_text()
    for section in sections.values():
        assert f"## {section['title']}" in report
    for plot in ("latency.png", "throughput.png", "feed_modes.png", "capacity.png"):
        assert (folder / plot).stat().st_size > 0
        assert f"]({plot})" in report
