"""The HTTP load drivers of the benchmarks, against a real server: hypercorn serving the
bare app of `tests.echo_asgi` on a loopback socket bound here and handed over by fd (so
it is listening before hypercorn has even started)."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.request import Request as UrlRequest
from urllib.request import urlopen

import pytest

from bench.load import LoadResult, Request, latency_summary, percentile
from bench.openloop import open_loop, run_open_loop
from bench.processes import stop
from bench.wrk import lua_string, run_wrk

ROOT = Path(__file__).resolve().parent.parent
#: Every character the Lua literal must carry through: quotes, backslashes, CR LF, a
#: Lua long-string closer, a gsub escape, two- and four-byte UTF-8.
AWKWARD = 'q"uote \\ back\\slash\r\nline ]]==] 100% ünï 🐦'
TWEET = json.dumps({"text": f"{AWKWARD} #{{seq}}"}, ensure_ascii=False)

needs_wrk = pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")


def call(url: str, method: str = "GET") -> Any:
    with urlopen(UrlRequest(url, method=method), timeout=30) as answer:
        return json.loads(answer.read())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    log = tmp_path_factory.mktemp("echo") / "hypercorn.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "hypercorn", "-k", "trio"]
            + [f"--bind=fd://{listener.fileno()}", "tests.echo_asgi:app"],
            cwd=ROOT,
            pass_fds=[listener.fileno()],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    # Ours closed, hypercorn's is the only one left: if it dies, connecting is refused.
    listener.close()
    try:
        try:
            call(f"{url}/stats")
        except OSError as exc:
            raise RuntimeError(f"the echo server did not answer: {log.read_text()}") from exc
        yield url
    finally:
        stop(process)


@pytest.fixture
def echo(server: str) -> str:
    call(f"{server}/reset", "POST")
    return server


def closed_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def assert_sane_latencies(result: LoadResult) -> None:
    latency = result.latency_ms
    assert 0 < latency["p50"] <= latency["p90"] <= latency["p99"] <= latency["p99.9"]
    assert latency["p99.9"] <= latency["max"]
    assert 0 < latency["mean"] <= latency["max"]


def assert_tweets_intact_and_distinct(bodies: list[str]) -> None:
    pattern = re.escape(TWEET).replace(re.escape("{seq}"), r"\d+")
    assert all(re.fullmatch(pattern, body) for body in bodies)
    assert len(set(bodies)) == len(bodies)


def test_lua_string_escapes_every_byte_outside_printable_ascii() -> None:
    assert lua_string('a"\\\r\n é1') == '"a\\034\\092\\013\\010 \\195\\1691"'


def test_percentiles_are_values_seen() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 99.9) == 4.0
    assert latency_summary([]) == dict.fromkeys(("p50", "p90", "p99", "p99.9", "mean", "max"), 0.0)


def test_a_result_survives_json() -> None:
    result = LoadResult(
        driver="open-loop",
        seconds=1.0,
        requests=3,
        rate=3.0,
        statuses={200: 2, 201: 1, 500: 1},
        errors=1,
        latency_ms=latency_summary([1.0, 2.0, 3.0]),
        target_rate=4.0,
        latencies_ms=[1.0, 2.0, 3.0],
        timeline=[(0.0, 3)],
    )
    assert LoadResult.from_json(json.loads(json.dumps(result.to_json()))) == result
    assert result.ok() == 3


@needs_wrk
def test_wrk_counts_exact_statuses_and_sends_every_body_once(echo: str) -> None:
    requests = [Request("GET", "/hello?n={seq}"), Request("POST", "/tweets", body=TWEET)]
    result = run_wrk(echo, requests, seconds=1, connections=4, threads=2)
    assert result.driver == "wrk"
    assert result.requests > 0 and result.errors == 0
    assert set(result.statuses) == {200, 201}
    assert result.ok() == result.requests == sum(count for _, count in result.timeline)
    assert_sane_latencies(result)
    seen = call(f"{echo}/stats")
    # wrk stops with answers in flight: the server may have seen a few more.
    assert len(seen["bodies"]) >= result.statuses[201]
    assert_tweets_intact_and_distinct(seen["bodies"])


@needs_wrk
def test_wrk_takes_more_distinct_requests_than_a_lua_function_holds_constants(
    echo: str,
) -> None:
    """40,000 distinct paths: written as one table, the script would not even load."""
    requests = [Request("GET", f"/hello?n={n}") for n in range(40_000)]
    result = run_wrk(echo, requests, seconds=1, connections=4)
    assert result.requests > 0 and set(result.statuses) == {200}


@needs_wrk
def test_wrk_failing_is_told_with_its_message() -> None:
    with pytest.raises(RuntimeError, match="unable to connect"):
        run_wrk(closed_port(), [Request("GET", "/")], seconds=1, connections=1)


def test_wrk_missing_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RuntimeError, match="apt-get install wrk"):
        run_wrk("http://127.0.0.1:1", [Request("GET", "/")], seconds=1, connections=1)


async def test_open_loop_sends_rate_times_seconds_and_all_come_back(echo: str) -> None:
    requests = [
        Request("GET", "/hello"),
        Request("POST", "/tweets", body=TWEET),
        Request("GET", "/chunked"),
        Request("GET", "/close"),  # the server hangs up after answering: a new connection
        Request("HEAD", "/hello"),
    ]
    result = await open_loop(echo, requests, rate=200, seconds=1, connections=8)
    seen = call(f"{echo}/stats")
    assert seen["requests"] == result.requests == 200
    assert result.errors == 0 and result.ok() == 200
    assert result.statuses == {200: 160, 201: 40}
    assert len(result.latencies_ms) == 200 == sum(count for _, count in result.timeline)
    assert result.target_rate == 200
    assert_sane_latencies(result)
    assert_tweets_intact_and_distinct(seen["bodies"])


async def test_open_loop_counts_the_wait_behind_a_stalled_request(echo: str) -> None:
    # One connection at 100/s: request 10 (due at 0.10 s) takes 300 ms, so requests 11..19,
    # due at 0.11..0.19 s, cannot even be sent before 0.40 s. Timed from their due time,
    # as they must be, each is at least 200 ms late; timed from their sending, they
    # would look as fast as the rest.
    requests = [Request("GET", "/hello")] * 100
    requests[10] = Request("GET", "/slow?ms=300")
    result = await open_loop(echo, requests, rate=100, seconds=1, connections=1)
    assert result.requests == 100 and result.errors == 0
    latencies = result.latencies_ms
    assert latencies[10] >= 300 and result.latency_ms["max"] >= 300
    assert all(latency >= 200 for latency in latencies[10:20])


async def test_open_loop_counts_refused_requests_as_errors() -> None:
    result = await open_loop(closed_port(), [Request("GET", "/")], rate=20, seconds=0.2)
    assert result.requests == 0 and result.errors == 4
    assert result.latencies_ms == [] and result.timeline == []


def test_open_loop_runs_in_a_pinned_subprocess(echo: str) -> None:
    requests = [Request("POST", "/tweets", body=TWEET)]
    result = run_open_loop(echo, requests, rate=50, seconds=0.4, connections=2, cpu=0)
    assert result.driver == "open-loop"
    assert result.requests == 20 and result.errors == 0 and result.statuses == {201: 20}
    assert len(result.latencies_ms) == 20
    assert_tweets_intact_and_distinct(call(f"{echo}/stats")["bodies"])
