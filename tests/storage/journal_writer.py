"""Append to a journal for ever from several tasks, printing ``<seq> <task> <n>`` for each entry
only once `Journal.durable` has returned: the process the kill -9 test shoots.

    python -m tests.storage.journal_writer DIRECTORY RUN
"""

from __future__ import annotations

import os
import sys
from typing import Any

import trio

from storage.durable import Journal

TASKS = 8
SEGMENT_BYTES = 2048  # small, so a kill lands among segment rolls too


def entry(run: int, task: int, n: int) -> dict[str, Any]:
    """The value task ``task`` appends ``n``-th in run ``run``; sizes vary so frames straddle
    pages and segment ends."""
    return {"run": run, "task": task, "n": n, "pad": "x" * ((task * 7 + n) % 40)}


async def main(directory: str, run: int) -> None:
    journal = await Journal.open(directory, segment_bytes=SEGMENT_BYTES)
    async with trio.open_nursery() as nursery:
        await nursery.start(journal.run)
        for task in range(TASKS):
            nursery.start_soon(append_for_ever, journal, run, task)


async def append_for_ever(journal: Journal, run: int, task: int) -> None:
    n = 0
    while True:
        seq = journal.append(entry(run, task, n))
        await journal.durable(seq)
        # One write per line, unbuffered: a line out is an acknowledgement given.
        os.write(sys.stdout.fileno(), f"{seq} {task} {n}\n".encode())
        n += 1


if __name__ == "__main__":
    trio.run(main, sys.argv[1], int(sys.argv[2]))
