"""``python -m bench.traced_server ARGS``: ``python main.py ARGS`` that writes what
tracemalloc traces whenever it is sent SIGUSR2, so a soak can tell Python's heap from
the rest of the server's RSS without chirp having an endpoint for it.

Start it with ``PYTHONTRACEMALLOC=1`` (the standard variable: tracing from the first
allocation, one frame per trace) and `DIRECTORY_VARIABLE` naming a folder. The n-th
SIGUSR2 (from 1) writes ``heap-<n>.json`` there, whole or not at all (written beside it,
then renamed): the traced bytes now and at their peak, and the traced bytes and blocks
of every source line that holds any. Without tracing it writes nothing: there is nothing
to say.

The signal is handled in the main thread between two bytecodes, inside chirp's event
loop: the snapshot stops the server while it is taken (a second or more on a large
heap), and its copies of the traces are memory the server did not hold before. Both
belong to a run measuring the heap, never to one measuring latency or RSS.
"""

from __future__ import annotations

import json
import os
import runpy
import signal
import sys
import tracemalloc
from pathlib import Path
from types import FrameType

#: The folder each snapshot's file is written to.
DIRECTORY_VARIABLE = "BENCH_TRACEMALLOC_DIR"
MAIN = Path(__file__).resolve().parents[1] / "main.py"


def snapshot_path(directory: Path, number: int) -> Path:
    return directory / f"heap-{number}.json"


def heap_figures(snapshot: tracemalloc.Snapshot) -> dict[str, object]:
    """What one snapshot says: bytes and blocks by ``file:line``, largest first."""
    lines = [
        [f"{stat.traceback[0].filename}:{stat.traceback[0].lineno}", stat.size, stat.count]
        for stat in snapshot.statistics("lineno")
    ]
    current, peak = tracemalloc.get_traced_memory()
    return {"traced_bytes": current, "peak_bytes": peak, "lines": lines}


def write_whole(path: Path, figures: dict[str, object]) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(figures))
    os.replace(partial, path)


def install(directory: Path) -> None:
    """Write a snapshot's figures to ``directory`` on each SIGUSR2."""
    taken = 0

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal taken
        if not tracemalloc.is_tracing():
            return
        taken += 1
        write_whole(snapshot_path(directory, taken), heap_figures(tracemalloc.take_snapshot()))

    signal.signal(signal.SIGUSR2, on_signal)


def main() -> None:
    directory = os.environ.get(DIRECTORY_VARIABLE)
    if directory:
        install(Path(directory))
    sys.argv = [str(MAIN), *sys.argv[1:]]
    runpy.run_path(str(MAIN), run_name="__main__")


if __name__ == "__main__":
    main()
