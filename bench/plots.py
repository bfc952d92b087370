"""The report's plots (matplotlib, Agg): each function draws one PNG from a section's data
and answers the file names it wrote (none when the data is not there)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from .results import Section

PERCENTILES = ("p50", "p90", "p99", "p99.9")


def _save(figure: Any, folder: Path, name: str) -> list[str]:
    figure.tight_layout()
    figure.savefig(folder / name, dpi=110)
    plt.close(figure)
    return [name]


def latency_cdfs(runs: dict[str, dict[str, Any]], folder: Path) -> list[str]:
    """Left: every open-loop run's latency CDF (from each request's intended send time).
    Right: each closed-loop endpoint's latency percentiles (wrk keeps no raw latencies)."""
    opened = {n: r for n, r in runs.items() if r.get("latencies_ms")}
    closed = {n: r for n, r in runs.items() if not r.get("latencies_ms") and r.get("latency_ms")}
    if not opened and not closed:
        return []
    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    for name, run in sorted(opened.items()):
        latencies = sorted(run["latencies_ms"])
        share = [(i + 1) / len(latencies) for i in range(len(latencies))]
        left.plot(latencies, share, label=name)
    left.set_xscale("log")
    left.set_xlabel("latency, ms (log)")
    left.set_ylabel("share of requests")
    left.set_title("open loop: latency CDF")
    left.grid(True, alpha=0.3)
    if opened:
        left.legend(fontsize=7)
    for name, run in closed.items():
        values = [run["latency_ms"].get(p) for p in PERCENTILES]
        if None not in values:
            right.plot(PERCENTILES, values, marker="o", label=name)
    right.set_yscale("log")
    right.set_ylabel("latency, ms (log)")
    right.set_title("closed loop (wrk): latency percentiles")
    right.grid(True, alpha=0.3)
    right.legend(fontsize=7)
    return _save(figure, folder, "latency.png")


def throughput_over_time(runs: dict[str, dict[str, Any]], folder: Path) -> list[str]:
    timed = {n: r["timeline"] for n, r in runs.items() if r.get("timeline")}
    if not timed:
        return []
    figure, axes = plt.subplots(figsize=(11, 5))
    for name, timeline in timed.items():
        axes.plot([t for t, _ in timeline], [n for _, n in timeline], label=name)
    axes.set_xlabel("second of the run")
    axes.set_ylabel("responses/s")
    axes.set_title("throughput over time")
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=7, ncol=2)
    return _save(figure, folder, "throughput.png")


def feed_modes(data: dict[str, Any], folder: Path) -> list[str]:
    """Push vs pull vs hybrid per graph: reads/s, feed-cache writes per tweet, memory."""
    if not data:
        return []
    metrics = (
        ("reads_per_s", "feed reads/s"),
        ("entries_per_tweet", "feed-cache writes per tweet"),
        ("feed_megabytes", "feed-cache MB"),
    )
    figure, axes = plt.subplots(1, len(metrics), figsize=(14, 4.5))
    graphs = list(data)
    width = 0.8 / max(1, len(graphs))
    for g, graph in enumerate(graphs):
        modes = data[graph]["modes"]
        for axis, (key, title) in zip(axes, metrics, strict=True):
            xs = [i + g * width for i in range(len(modes))]
            values = [m.get(key) or 0 for m in modes]
            axis.bar(xs, values, width, label=graph)
            axis.set_xticks([i + width * (len(graphs) - 1) / 2 for i in range(len(modes))])
            axis.set_xticklabels([m["mode"] for m in modes])
            axis.set_title(title)
    axes[0].legend(fontsize=7)
    return _save(figure, folder, "feed_modes.png")


def capacity(section: Section, folder: Path) -> list[str]:
    processes = [f for f in section.figures if f.unit == "processes"]
    memory = [f for f in section.figures if f.unit == "GB"]
    if not processes and not memory:
        return []
    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 4.5))
    left.barh([f.name for f in processes], [f.value for f in processes])
    left.set_title("processes (one core each) for the seed's peak")
    names = ["the seed's estimate"] + [f.name.split(", ")[-1] for f in memory]
    seed_estimate = (memory[0].ceiling or 0.0) if memory else 0.0
    values = [seed_estimate] + [f.value for f in memory]
    right.bar(names, values)
    right.set_title("feed caches, 100M users x 1,000 entries (GB)")
    return _save(figure, folder, "capacity.png")
