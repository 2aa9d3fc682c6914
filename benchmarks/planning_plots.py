"""The planning figure of RESULTS.md: planning latency against agent count, one line per planner and map.

Drawn with matplotlib's Agg backend (no display needed), log-scaled time, the issue's targets as dashed marks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

Series = Mapping[str, Sequence[tuple[int, float]]]
"""label -> [(agents, milliseconds), ...]"""


def plot_latency(series: Series, path: Path, *, targets: Sequence[tuple[int, float, str]] = (),
                 title: str = "IGV planning latency against agent count") -> Path:
    """Write a PNG of every series (agents on x, ms on a log y axis) and the ``(agents, ms, label)`` targets."""
    figure, axes = plt.subplots(figsize=(8.0, 5.0), dpi=110)
    try:
        for label, points in series.items():
            ordered = sorted(points)
            if ordered:
                axes.plot([a for a, _ in ordered], [ms for _, ms in ordered], marker="o", label=label)
        for agents, ms, label in targets:
            axes.plot([agents], [ms], marker="_", markersize=24, color="black", linestyle="none")
            axes.annotate(label, (agents, ms), textcoords="offset points", xytext=(8, 4), fontsize=8)
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.set_xlabel("agents")
        axes.set_ylabel("latency (ms, log scale)")
        axes.set_title(title)
        axes.grid(True, which="both", alpha=0.3)
        axes.legend(fontsize=8, loc="upper left")
        figure.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path)
    finally:
        plt.close(figure)
    return path
