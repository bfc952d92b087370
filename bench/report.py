"""The report of a run: ``bench/results/<timestamp>/`` with ``results.json``, ``report.md``
and matplotlib plots, and the machine, versions, seeds and commit it ran on."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from .processes import ROOT
from .results import Section, figures_table

RESULTS = ROOT / "bench" / "results"
PACKAGES = ("trio", "hypercorn", "quart-trio", "quart", "msgpack", "coredis", "tantivy")
REFERENCE_PACKAGES = ("uvicorn", "starlette", "uvloop", "httptools")


def _command(*args: str) -> str:
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=10, check=False)
    except OSError:
        return ""
    return done.stdout.strip()


def environment(seeds: dict[str, int]) -> dict[str, Any]:
    cpu = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    versions = {}
    for package in PACKAGES + REFERENCE_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    dirty = bool(_command("git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"))
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _command("git", "-C", str(ROOT), "rev-parse", "HEAD")
        + (" (dirty)" if dirty else ""),
        "machine": {
            "cpu": cpu,
            "cores": os.cpu_count(),
            "memory_gib": round(memory, 1),
            "load_average": os.getloadavg(),
            "platform": platform.platform(),
        },
        "python": platform.python_version(),
        "versions": versions,
        "tools": {
            "wrk": _command("wrk", "--version").splitlines()[0:1] or None,
            "redis-server": _command("redis-server", "--version") or None,
        },
        "seeds": seeds,
    }


def write(sections: list[Section], env: dict[str, Any], folder: Path | None = None) -> Path:
    """Write the run's folder; answer where it is."""
    folder = folder or RESULTS / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder.mkdir(parents=True, exist_ok=True)
    payload = {"environment": env, "sections": [s.to_json() for s in sections]}
    (folder / "results.json").write_text(json.dumps(payload, indent=1, default=str))
    plots = draw(sections, folder)
    (folder / "report.md").write_text(markdown(sections, env, plots))
    return folder


def markdown(sections: list[Section], env: dict[str, Any], plots: list[str]) -> str:
    machine = env["machine"]
    lines = [
        "# chirp benchmark report",
        "",
        f"- when: {env['when']}; commit: `{env['commit']}`",
        f"- machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gib']} GiB; "
        f"load average at the start {', '.join(f'{x:.2f}' for x in machine['load_average'])}",
        f"- Python {env['python']}; "
        + ", ".join(f"{k} {v}" for k, v in env["versions"].items() if v),
        f"- seeds: {', '.join(f'{k} {v}' for k, v in env['seeds'].items())}",
        "",
        "Every ratio divides a figure by a ceiling measured in the same run.",
        "",
    ]
    for section in sections:
        lines += [f"## {section.title}", ""]
        if section.figures:
            lines += [_figures_markdown(section), ""]
        if section.text:
            lines += ["```", section.text, "```", ""]
    if plots:
        lines += ["## Plots", ""] + [f"![{p}]({p})" for p in plots]
    return "\n".join(lines) + "\n"


def _figures_markdown(section: Section) -> str:
    rows = ["| measure | value | ceiling (same run) | ceiling value | ratio | target |"]
    rows.append("|---|---:|---|---:|---:|---|")
    for f in section.figures:
        ceiling = "" if f.ceiling is None else f"{f.ceiling:,.2f}"
        ratio = "" if f.ratio is None else f"{f.ratio:.2f}"
        rows.append(
            f"| {f.name} | {f.value:,.2f} {f.unit} | {f.ceiling_name} | {ceiling} | {ratio} "
            f"| {f.verdict} |"
        )
    return "\n".join(rows)


def console(sections: list[Section]) -> str:
    """The table printed at the end of a run: every section's figures."""
    parts = []
    for section in sections:
        parts.append(f"== {section.title}")
        parts.append(figures_table(section.figures) if section.figures else section.text)
    return "\n\n".join(parts)


def draw(sections: list[Section], folder: Path) -> list[str]:
    """The plots the data allows; answers their file names."""
    import matplotlib

    matplotlib.use("Agg")
    from . import plots

    made = []
    by_name = {s.scenario: s for s in sections}
    if "http" in by_name:
        runs = by_name["http"].data.get("runs", {})
        made += plots.latency_cdfs(runs, folder)
        made += plots.throughput_over_time(runs, folder)
    if "feed" in by_name:
        made += plots.feed_modes(by_name["feed"].data, folder)
    if "capacity" in by_name:
        made += plots.capacity(by_name["capacity"], folder)
    return made
