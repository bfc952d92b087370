"""What a scenario hands the report: figures beside the ceilings of the same run, the text
it printed, and raw data for the plots; all of it JSON-serialisable."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Figure:
    """One measured figure. ``ceiling`` is what the same run measured for the thing it is
    compared with; ``lower_is_better`` for latencies, whose ratio is the wrong way up."""

    name: str
    value: float
    unit: str
    ceiling_name: str = ""
    ceiling: float | None = None
    target: float | None = None  # the ratio the issue asks for, when it names one
    lower_is_better: bool = False

    @property
    def ratio(self) -> float | None:
        if not self.ceiling or math.isnan(self.ceiling):
            return None
        return self.value / self.ceiling

    @property
    def verdict(self) -> str:
        ratio = self.ratio
        if self.target is None or ratio is None:
            return ""
        met = ratio <= self.target if self.lower_is_better else ratio >= self.target
        sign = "<=" if self.lower_is_better else ">="
        return f"{'met' if met else 'MISSED'} ({sign} {self.target:g})"

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio, "verdict": self.verdict}


@dataclass
class Section:
    scenario: str
    title: str
    figures: list[Figure] = field(default_factory=list)
    text: str = ""  # what the scenario printed, tables and notes
    data: dict[str, Any] = field(default_factory=dict)  # raw series for plots and JSON

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "title": self.title,
            "figures": [f.to_json() for f in self.figures],
            "text": self.text,
            "data": self.data,
        }


def figures_table(figures: list[Figure]) -> str:
    """A plain-text table: figure, value, ceiling of the same run, ratio, target."""
    header = f"{'measure':<40} {'value':>12}   {'ceiling (same run)':<36} {'value':>12}  ratio"
    lines = [header, "-" * len(header)]
    for f in figures:
        ceiling = "" if f.ceiling is None else f"{f.ceiling:>12,.{_digits(f.ceiling)}f}"
        ratio = "" if f.ratio is None else f"{f.ratio:5.2f}"
        value = f"{f.value:,.{_digits(f.value)}f} {f.unit}"
        lines.append(
            f"{f.name:<40} {value:>12}   {f.ceiling_name:<36} {ceiling:>12}  {ratio:>5}"
            + (f"  {f.verdict}" if f.verdict else "")
        )
    return "\n".join(lines)


def _digits(value: float) -> int:
    return 0 if abs(value) >= 100 or float(value).is_integer() else 2
