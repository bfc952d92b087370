"""Servers a benchmark drives over HTTP, each a process of its own pinned to one core, so
the load generator on the other core does not take the server's time."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
#: The server's core and the load generator's, on a machine of two or more.
SERVER_CPU = 0
LOAD_CPU = 1
LISTENING = re.compile(r"listening on (http://\S+)")
START_SECONDS = 60.0
#: A server is idle once it used less than this share of a core over `IDLE_WINDOW`.
IDLE_SHARE = 0.05
IDLE_WINDOW = 0.25
SETTLE_SECONDS = 120.0


@dataclass(frozen=True)
class Server:
    url: str
    pid: int

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def settle(self) -> float:
        """Wait until the server's background work (fan-out, indexing, trending) is done,
        so one load run's backlog does not slow the next; answers the seconds it took."""
        started = time.perf_counter()
        used = self.cpu_seconds()
        while time.perf_counter() - started < SETTLE_SECONDS:
            time.sleep(IDLE_WINDOW)
            now = self.cpu_seconds()
            if now - used < IDLE_SHARE * IDLE_WINDOW:
                break
            used = now
        return time.perf_counter() - started


def pinned(command: Sequence[str], cpu: int | None) -> list[str]:
    """``command`` run on ``cpu`` alone, through taskset (no pre-exec hook in a process
    with threads), when the machine has that core and taskset."""
    if cpu is None or cpu not in os.sched_getaffinity(0) or shutil.which("taskset") is None:
        return list(command)
    return ["taskset", "-c", str(cpu), *command]


@contextmanager
def served(
    args: Sequence[str], *, cpu: int | None = SERVER_CPU, env: Mapping[str, str] | None = None
) -> Iterator[Server]:
    """Run ``python *args`` from the repository, wait for its ``listening on URL`` line,
    and yield it; stop it (SIGTERM, then SIGKILL) when done."""
    process = subprocess.Popen(
        pinned([sys.executable, *args], cpu),
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = process.stdout
    assert output is not None
    drain = threading.Thread(target=output.read, daemon=True)
    try:
        url = _await_url(process, " ".join(args))
        # The rest of its output is drained so a chatty server never blocks on the pipe.
        drain.start()
        yield Server(url, process.pid)
    finally:
        stop(process)
        if drain.is_alive():
            drain.join(5)  # the pipe's writer is gone: the read ends at once
        output.close()


def stop(process: subprocess.Popen[Any], grace: float = 10.0) -> None:
    """SIGTERM, so the server drains; SIGKILL if it has not ended within ``grace`` s."""
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _await_url(process: subprocess.Popen[str], what: str) -> str:
    seen: list[str] = []
    found: list[str] = []

    def read() -> None:
        for line in process.stdout:  # type: ignore[union-attr]
            seen.append(line.rstrip())
            match = LISTENING.search(line)
            if match:
                found.append(match.group(1))
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(START_SECONDS)
    if not found:
        process.kill()
        tail = "\n".join(seen[-15:])
        raise RuntimeError(f"{what} did not start listening:\n{tail}")
    return found[0]
