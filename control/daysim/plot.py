"""The day at a glance: one PNG of a report's hourly series (matplotlib, Agg backend, no display needed).

Panels: trucks arriving and completed per hour; the queue; IGV and crane utilisation per hour. A series the report
does not carry leaves its panel saying so, rather than failing the run that produced the report.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from control.daysim.report import SimReport

__all__ = ["plot_day"]

DPI = 100


def plot_day(report: SimReport, path: Path) -> Path:
    """Write the PNG to ``path`` (its folder is created) and return the path. A `Figure` with its own Agg canvas,
    not pyplot: no global state, safe in services and threads."""
    path = Path(path)
    figure = Figure(figsize=(10, 8), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    top, middle, bottom = figure.subplots(3, 1, sharex=True)
    _lines(top, report, {"arrivals": "arrived", "completed": "completed"}, "trucks per hour")
    _lines(middle, report, {"queue": "trucks waiting"}, "queue (trucks)")
    _lines(bottom, report, {"igv_busy": "IGVs", "crane_busy": "cranes"}, "utilisation", percent=True)
    bottom.set_xlabel("simulated hour")
    figure.suptitle(_title(report))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    return path


def _lines(axes: Axes, report: SimReport, series: dict[str, str], ylabel: str, *, percent: bool = False) -> None:
    drawn = 0
    for key, label in series.items():
        values = np.asarray(report.hourly.get(key, ()), dtype=np.float64)
        if values.size == 0:
            continue
        hours = np.arange(values.size) + 0.5            # a value belongs to the middle of its hour
        axes.plot(hours, values * 100.0 if percent else values, marker="o", markersize=3, label=label)
        drawn += 1
    axes.set_ylabel(ylabel + (" (%)" if percent else ""))
    axes.grid(alpha=0.3)
    if drawn:
        axes.legend(loc="upper left")
    else:
        axes.text(0.5, 0.5, "no data", transform=axes.transAxes, ha="center", va="center", color="grey")


def _title(report: SimReport) -> str:
    p95 = report.time_in_system_s.get("p95", float("nan")) / 60.0
    return (f"{report.trucks_completed:,} of {report.trucks_arrived:,} trucks completed, "
            f"p95 time in system {p95:.0f} min, max queue {report.max_queue:,}")
