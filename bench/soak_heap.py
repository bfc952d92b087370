"""``python -m bench soak --tracemalloc``: the traced server's heap snapshots, and how
Python's heap grew between two of them beside the RSS."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio

from .processes import ROOT
from .traced_server import snapshot_path

MIB = 1024 * 1024
#: How long the traced server may take to write a heap snapshot's figures.
SNAPSHOT_SECONDS = 300.0
#: Source lines of the traced heap's growth the report names.
HEAP_LINES = 12


@dataclass(frozen=True)
class HeapPoint:
    """A heap snapshot's figures (`bench.traced_server`), and the server as it was then."""

    figures: Mapping[str, Any]
    rss_mib: float
    tweets: int | None


@dataclass(frozen=True)
class HeapGrowth:
    """Python's traced heap from one snapshot to the next, beside the RSS."""

    traced_mib: float
    rss_mib: float
    tweets: int | None
    lines_grown: list[tuple[str, float, int]]  # (file:line, MiB, blocks), most grown first

    @classmethod
    def between(cls, before: HeapPoint, after: HeapPoint, *, top: int = HEAP_LINES) -> HeapGrowth:
        held = {line: (size, count) for line, size, count in before.figures["lines"]}
        grown = []
        for line, size, count in after.figures["lines"]:
            was_size, was_count = held.pop(line, (0, 0))
            grown.append((short_path(line), (size - was_size) / MIB, count - was_count))
        grown += [(short_path(line), -size / MIB, -count) for line, (size, count) in held.items()]
        grown.sort(key=lambda item: -item[1])
        tweets = None
        if before.tweets is not None and after.tweets is not None:
            tweets = after.tweets - before.tweets
        return cls(
            traced_mib=(after.figures["traced_bytes"] - before.figures["traced_bytes"]) / MIB,
            rss_mib=after.rss_mib - before.rss_mib,
            tweets=tweets,
            lines_grown=grown[:top],
        )

    def lines(self) -> list[str]:
        per = ""
        if self.tweets:
            thousands = self.tweets / 1000
            per = (
                f"; per 1,000 of the {self.tweets:,} tweets posted meanwhile: traced "
                f"{self.traced_mib / thousands:+,.2f} MiB, RSS {self.rss_mib / thousands:+,.2f} MiB"
            )
        out = [
            "tracemalloc, from the end of the warm-up to the end of the load: Python's traced "
            f"heap {self.traced_mib:+,.1f} MiB, the RSS {self.rss_mib:+,.1f} MiB{per}. The "
            "rest of the RSS growth is memory Python does not trace (tantivy's index, the "
            "allocator's free memory, tracemalloc's own tables and the first snapshot's "
            "copies); tracing slows the server, so read latency and the RSS slope from a run "
            "without it",
            f"largest growth by source line (top {len(self.lines_grown)}):",
        ]
        out += [
            f"  {mib:+9,.2f} MiB {blocks:+11,} blocks  {line}"
            for line, mib, blocks in self.lines_grown
        ]
        return out


def short_path(line: str) -> str:
    """``file:line`` relative to the repository, or from the installed package on."""
    for root in (f"{ROOT}{os.sep}", f"site-packages{os.sep}"):
        if root in line:
            return line.split(root, 1)[1]
    return line


async def heap_point(
    pid: int, directory: Path, number: int, rss_mib: float, tweets: int | None
) -> HeapPoint:
    """Signal the traced server for its ``number``-th snapshot and read its figures."""
    path = snapshot_path(directory, number)
    os.kill(pid, signal.SIGUSR2)
    with trio.fail_after(SNAPSHOT_SECONDS):
        while not path.exists():  # written whole, by a rename
            await trio.sleep(0.2)
    return HeapPoint(json.loads(path.read_text()), rss_mib, tweets)
