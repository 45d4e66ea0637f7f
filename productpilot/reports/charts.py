"""Charts as PNG bytes (matplotlib, no display), ready to embed in an HTML report."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from datetime import date

import matplotlib

matplotlib.use("Agg")  # no display: reports render in workers and CI

import matplotlib.dates as mdates
import matplotlib.pyplot as plt


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


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()
