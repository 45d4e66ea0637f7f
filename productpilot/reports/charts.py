"""Charts as PNG bytes (matplotlib, no display), ready to embed in an HTML report."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import matplotlib

matplotlib.use("Agg")  # no display: reports render in workers and CI

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
from matplotlib.patches import Patch


def line_chart(
    title: str,
    days: Sequence[date],
    values: Sequence[float],
    *,
    target: float | None = None,
    band: tuple[Sequence[float], Sequence[float]] | None = None,
    marks: Sequence[date] = (),
) -> bytes:
    """A daily series as a PNG, with an optional target line, expected band and marked days."""
    figure, axes = plt.subplots(figsize=(7.5, 2.6), dpi=100)
    try:
        if band is not None:
            axes.fill_between(days, band[0], band[1], color="#c7dcf0", label="expected")
        axes.plot(days, values, color="#1f5fa8", linewidth=1.6)
        if target is not None:
            axes.axhline(target, color="#2e7d32", linestyle="--", linewidth=1, label="target")
        marked = [(d, v) for d, v in zip(days, values, strict=True) if d in set(marks)]
        if marked:
            axes.scatter(*zip(*marked, strict=True), color="#c62828", zorder=3, label="anomaly")
        axes.set_title(title, fontsize=10, loc="left")
        axes.xaxis.set_major_formatter(mdates.DateFormatter("%b %d"))
        axes.grid(alpha=0.3)
        if target is not None or band is not None or marked:
            axes.legend(fontsize=7, loc="upper left")
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        plt.close(figure)


@dataclass(frozen=True, slots=True)
class Bar:
    """One item of a Gantt chart: its row label, first and last day, and a colour key."""

    label: str
    start: date
    end: date
    group: str = ""
    late: bool = False


#: Colours for groups (teams), in order of first appearance; late items are outlined red.
PALETTE = ("#1f5fa8", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f", "#ad1457", "#5d4037")


def gantt_chart(title: str, bars: Sequence[Bar], *, today: date | None = None) -> bytes:
    """A Gantt chart as a PNG: one row per bar (first bar on top), coloured by group."""
    height = max(2.0, 0.28 * len(bars) + 1.0)
    figure, axes = plt.subplots(figsize=(9.0, height), dpi=100)
    try:
        groups: dict[str, str] = {}
        for row, bar in enumerate(bars):
            colour = groups.setdefault(bar.group, PALETTE[len(groups) % len(PALETTE)])
            start = mdates.date2num(bar.start)
            width = mdates.date2num(bar.end) - start + 1  # the last day is included
            axes.barh(
                row,
                width,
                left=start,
                height=0.6,
                color=colour,
                edgecolor="#c62828" if bar.late else colour,
                linewidth=1.5 if bar.late else 0.5,
            )
        axes.set_yticks(range(len(bars)), [bar.label for bar in bars], fontsize=7)
        axes.invert_yaxis()
        if today is not None:
            axes.axvline(mdates.date2num(today), color="#616161", linestyle=":", linewidth=1)
        axes.xaxis_date()
        axes.xaxis.set_major_formatter(mdates.DateFormatter("%b %d"))
        axes.grid(axis="x", alpha=0.3)
        axes.set_title(title, fontsize=10, loc="left")
        if len(groups) > 1:
            handles = [Patch(color=colour, label=name or "-") for name, colour in groups.items()]
            axes.legend(handles=handles, fontsize=7, loc="lower right")
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        plt.close(figure)


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()
