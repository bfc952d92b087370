"""dynalite (an in-memory DynamoDB on Node) for the DynamoDB backend's tests.

`running_dynalite()` installs it on first use (``npm install`` into ``tests/dynalite``),
starts ``tests/dynalite/server.js`` on a free port of 127.0.0.1 and stops it afterwards.
Without Node, or when it cannot start, the tests needing it skip (fail under ``CI=true``,
through `tests.servers.missing`)."""

from __future__ import annotations

import selectors
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.processes import stop
from tests.servers import missing

HERE = Path(__file__).parent / "dynalite"
#: How long npm may take to install dynalite, and node to start listening.
INSTALL_TIMEOUT = 300.0
START_TIMEOUT = 30.0


def installed() -> bool:
    return (HERE / "node_modules" / "dynalite").is_dir()


def install(npm: str) -> str | None:
    """Run ``npm install``; why it failed, or None."""
    command = [npm, "install", "--prefix", str(HERE), "--no-audit", "--no-fund"]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"npm install failed: {exc}"
    if done.returncode != 0 or not installed():
        return f"npm install failed ({done.returncode}): {done.stderr.strip()[-2000:]}"
    return None


def port_line(process: subprocess.Popen[str], timeout: float) -> str | None:
    """The first line ``process`` prints, or None if it prints none within ``timeout``."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while (left := deadline - time.monotonic()) > 0:
            if selector.select(left):
                return process.stdout.readline() or None
    return None


@contextmanager
def running_dynalite() -> Iterator[str]:
    """A dynalite server for the duration of the block; yields ``http://127.0.0.1:PORT``."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or (npm is None and not installed()):
        print("dynalite: node or npm is not on PATH", file=sys.stderr)
        missing("dynalite (node)")
    if not installed():
        failure = install(npm)
        if failure is not None:
            print(f"dynalite: {failure}", file=sys.stderr)
            missing("dynalite (node)")
    with tempfile.TemporaryFile("w+") as errors:
        process = subprocess.Popen(
            [node, str(HERE / "server.js"), "0"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
        try:
            line = port_line(process, START_TIMEOUT)
            if line is None or not line.strip().isdigit():
                errors.seek(0)
                print(f"dynalite did not start: {errors.read()[-2000:]}", file=sys.stderr)
                missing("dynalite (node)")
            yield f"http://127.0.0.1:{int(line)}"
        finally:
            stop(process)
            assert process.stdout is not None
            process.stdout.close()
