"""The real process, as a user starts it: ``python main.py``, then SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import trio

from .api.conftest import ADMIN_TOKEN

ROOT = Path(__file__).resolve().parent.parent
# A hang guard for a process start-up, not a performance bound.
START_LIMIT = 60


@asynccontextmanager
async def chirp_process(*args: str, **env: str) -> AsyncIterator[tuple[trio.Process, list[str]]]:
    """Start ``main.py`` on a free port; yield the process and the lines it printed up to
    and including "chirp listening on URL"."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CHIRP_")}
    environment.update(env)
    process = await trio.lowlevel.open_process(
        [sys.executable, str(ROOT / "main.py"), "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=environment,
        cwd=ROOT,
    )
    assert process.stdout is not None
    lines: list[str] = []
    buffer = b""
    try:
        with trio.fail_after(START_LIMIT):
            while not any(line.startswith("chirp listening on") for line in lines):
                chunk = await process.stdout.receive_some()
                assert chunk, f"chirp exited before listening: {lines}"
                buffer += chunk
                *done, buffer = buffer.split(b"\n")
                lines.extend(line.decode() for line in done)
        yield process, lines
    finally:
        if process.returncode is None:
            process.kill()
        with trio.move_on_after(START_LIMIT):
            await process.wait()
        await process.stdout.aclose()


def url_in(lines: list[str]) -> str:
    return next(line for line in lines if line.startswith("chirp listening on")).split()[-1]


async def test_main_serves_healthz_and_stops_cleanly_on_sigterm() -> None:
    async with chirp_process(CHIRP_ADMIN_TOKEN=ADMIN_TOKEN) as (process, lines):
        url = url_in(lines)
        assert url.startswith("http://127.0.0.1:")
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            assert (await client.get("/healthz")).status_code == 200
            assert (await client.get("/readyz")).json() == {"status": "ready"}
            refused = await client.post("/admin/actors/log.like_added.3/kill")
            assert refused.status_code == 401
            assert refused.headers["content-type"] == "application/problem+json"
            killed = await client.post(
                "/admin/actors/log.like_added.3/kill",
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            )
            assert killed.status_code == 202
        process.send_signal(signal.SIGTERM)
        with trio.fail_after(START_LIMIT):
            assert await process.wait() == 0
        assert process.stdout is not None
        rest = b""
        while chunk := await process.stdout.receive_some():
            rest += chunk
        output = "\n".join(lines) + rest.decode()
        assert "SIGTERM: draining requests, then stopping" in output
        assert ADMIN_TOKEN not in output, "a configured admin token is never printed or logged"


async def test_a_generated_admin_token_is_printed_once_and_works() -> None:
    async with chirp_process() as (process, lines):
        token_lines = [line for line in lines if line.startswith("admin token: ")]
        assert len(token_lines) == 1
        token = token_lines[0].removeprefix("admin token: ")
        async with httpx.AsyncClient(base_url=url_in(lines), timeout=30) as client:
            tree = await client.get("/admin/actors", headers={"Authorization": f"Bearer {token}"})
            assert tree.status_code == 200
            assert tree.json()["name"] == "root"
        process.send_signal(signal.SIGINT)
        with trio.fail_after(START_LIMIT):
            assert await process.wait() == 0


async def test_python_dash_m_chirp_is_the_same_command() -> None:
    result = await trio.run_process(
        [sys.executable, "-m", "chirp", "--help"], capture_stdout=True, cwd=ROOT
    )
    assert b"serve" in result.stdout


async def test_bad_configuration_is_refused_with_a_clear_message() -> None:
    result = await trio.run_process(
        [sys.executable, str(ROOT / "main.py"), "--port", "70000"],
        capture_stderr=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 2
    assert b"bad configuration" in result.stderr and b"port" in result.stderr


async def test_a_rejected_admin_token_is_not_echoed() -> None:
    result = await trio.run_process(
        [sys.executable, str(ROOT / "main.py")],
        capture_stderr=True,
        check=False,
        cwd=ROOT,
        env={**os.environ, "CHIRP_ADMIN_TOKEN": "short-secret"},
    )
    assert result.returncode == 2
    assert b"admin_token" in result.stderr
    assert b"short-secret" not in result.stderr


async def test_a_backend_that_does_not_answer_is_named_at_start_up(tmp_path: Path) -> None:
    config = tmp_path / "chirp.toml"
    config.write_text('cache = "redis://:hunter2hunter2@127.0.0.1:1/0"\n')
    result = await trio.run_process(
        [sys.executable, str(ROOT / "main.py"), "--port", "0", "--config", str(config)],
        capture_stderr=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 1
    assert b"cannot start: redis at redis://:***@127.0.0.1:1/0 is not answering" in result.stderr
    assert b"Traceback" not in result.stderr and b"hunter2" not in result.stderr
