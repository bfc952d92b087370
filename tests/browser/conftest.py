"""A real chirp process and a real headless Chromium, for the browser tests.

Chromium is Debian's (``scripts/need-chromium`` installs it), driven by Playwright with
``executable_path``: Playwright's own browser builds come from a CDN these machines cannot
reach. Where it is missing the tests skip, except under ``CI=true``, where they fail."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.servers import missing

ROOT = Path(__file__).resolve().parents[2]
#: Screenshots for a person to look at; `test-output/` is ignored by git.
SHOTS = ROOT / "test-output" / "browser"
ADMIN_TOKEN = "browser-admin-token-0123456789"
#: A hang guard for the process start-up, not a performance bound.
START_LIMIT = 60
CHROMIUM_FLAGS = [
    "--no-sandbox",  # the tests run as root in a container
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@dataclass(frozen=True)
class ChirpServer:
    url: str
    admin_token: str


@pytest.fixture(scope="session")
def chirp_server() -> Iterator[ChirpServer]:
    """``python main.py`` on a free port, with trends that score within a second and
    cheap password hashes (the tests sign up several people)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHIRP_")}
    env.update(
        CHIRP_ADMIN_TOKEN=ADMIN_TOKEN,
        CHIRP_TREND_MIN_AUTHORS="1",
        CHIRP_TREND_RESCORE_SECONDS="1",
        CHIRP_TREND_CACHE_SECONDS="0",
        CHIRP_PASSWORD_MEMORY_KIB="64",
        CHIRP_PASSWORD_TIME_COST="1",
    )
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=ROOT,
        text=True,
    )
    assert process.stdout is not None
    try:
        url = _listening_url(process)
        yield ChirpServer(url, ADMIN_TOKEN)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=START_LIMIT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()


def _listening_url(process: subprocess.Popen[str]) -> str:
    """Read the process's output up to "chirp listening on URL"; a watchdog kills a
    process that never gets there, which ends the read."""
    assert process.stdout is not None
    lines: list[str] = []
    watchdog = threading.Timer(START_LIMIT, process.kill)
    watchdog.daemon = True
    watchdog.start()
    try:
        for line in process.stdout:
            lines.append(line.rstrip())
            if line.startswith("chirp listening on"):
                return line.split()[-1]
    finally:
        watchdog.cancel()
    raise AssertionError(f"chirp exited before listening: {lines}")


# Per module, not per session: while Playwright lives, its loop is asyncio's running
# loop on this thread, and the next modules' trio-asyncio calls (PostgreSQL) would find it.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium")
    if executable is None:
        missing("Debian's chromium (scripts/need-chromium installs it)")
    # Playwright's sync API runs an asyncio loop of its own, which trio-asyncio's policy
    # (installed process-wide when chirp's PostgreSQL client is imported) refuses to make.
    # The default policy makes it; trio-asyncio's is back before any other test runs.
    policy = asyncio.get_event_loop_policy()
    asyncio.set_event_loop_policy(asyncio.DefaultEventLoopPolicy())
    try:
        playwright = sync_playwright().start()
    finally:
        asyncio.set_event_loop_policy(policy)
    try:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()
    finally:
        playwright.stop()


@pytest.fixture
def new_page(browser: Browser, chirp_server: ChirpServer) -> Iterator[Callable[[], Page]]:
    """Pages in fresh browser contexts (each its own storage: one person per context),
    closed after the test."""
    contexts: list[BrowserContext] = []

    def make() -> Page:
        context = browser.new_context(
            base_url=chirp_server.url, viewport={"width": 1280, "height": 900}
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def screenshot(page: Page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
