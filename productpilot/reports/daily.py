"""The daily product report: KPIs against targets, their trends, and charts, as one HTML file.

The report is self-contained (charts are embedded PNGs), so it can be attached to an email,
stored as an artifact or opened from disk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from jinja2 import Environment, select_autoescape

from productpilot.analytics.recommendations import Recommendation
from productpilot.analytics.trends import Trend
from productpilot.reports.charts import data_uri, line_chart


@dataclass(frozen=True, slots=True)
class KpiStatus:
    """One KPI on the report day."""

    name: str
    metric: str
    target: float | None
    direction: str
    days: Sequence[date]
    values: Sequence[float]
    trend: Trend
    anomalies: Sequence[date] = ()

    @property
    def latest(self) -> float | None:
        return self.values[-1] if self.values else None

    @property
    def on_track(self) -> bool | None:
        """Whether the latest value meets the target (None without a target or a value)."""
        if self.target is None or self.latest is None:
            return None
        if self.direction == "increase":
            return self.latest >= self.target
        return self.latest <= self.target


@dataclass(frozen=True, slots=True)
class DailyReport:
    product: str
    day: date
    kpis: Sequence[KpiStatus]
    recommendations: Sequence[Recommendation] = ()
    notes: Sequence[str] = field(default_factory=tuple)

    def markdown(self) -> str:
        """A KPI table for a Prefect markdown artifact."""
        lines = [
            f"# {self.product}: daily report for {self.day.isoformat()}",
            "",
            "| KPI | latest | target | status | trend | week over week |",
            "|---|---|---|---|---|---|",
        ]
        for kpi in self.kpis:
            lines.append(
                f"| {kpi.name} | {_number(kpi.latest)} | {_number(kpi.target)} | "
                f"{_status(kpi.on_track)} | {kpi.trend.direction} | "
                f"{_percent(kpi.trend.week_over_week)} |"
            )
        if self.recommendations:
            lines += ["", "## Recommendations", ""]
            lines += [
                f"{rank}. **{r.title}** ({r.expected_impact.value:.3g} "
                f"{r.expected_impact.unit}): {'; '.join(r.evidence)}"
                for rank, r in enumerate(self.recommendations, start=1)
            ]
        lines += [""] + [f"- {note}" for note in self.notes]
        return "\n".join(lines)


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3g}" if abs(value) < 100 else f"{value:,.0f}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1%}"


def _status(on_track: bool | None) -> str:
    return {True: "on track", False: "off track", None: "no target"}[on_track]


_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{{ report.product }}: daily report {{ report.day }}</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #222; }
table { border-collapse: collapse; margin: 1rem 0; } td, th { padding: .3rem .7rem;
border-bottom: 1px solid #ddd; text-align: left; } .off { color: #c62828; } .on { color: #2e7d32; }
figure { margin: 1.5rem 0; } img { max-width: 100%; }
</style></head><body>
<h1>{{ report.product }}</h1>
<p>Daily report for {{ report.day }} (UTC days).</p>
<table><tr><th>KPI</th><th>latest</th><th>target</th><th>status</th><th>trend</th>
<th>slope / day</th><th>p (Mann-Kendall)</th><th>week over week</th><th>month over month</th></tr>
{% for kpi in report.kpis %}<tr>
<td>{{ kpi.name }}</td><td>{{ number(kpi.latest) }}</td><td>{{ number(kpi.target) }}</td>
<td class="{{ 'on' if kpi.on_track else 'off' if kpi.on_track is false else '' }}">
{{ status(kpi.on_track) }}</td><td>{{ kpi.trend.direction }}</td>
<td>{{ number(kpi.trend.slope_per_day) }}</td><td>{{ number(kpi.trend.p_value) }}</td>
<td>{{ percent(kpi.trend.week_over_week) }}</td><td>{{ percent(kpi.trend.month_over_month) }}</td>
</tr>{% endfor %}</table>
{% if report.recommendations %}<h2>Recommendations</h2><ol>
{% for r in report.recommendations %}<li><strong>{{ r.title }}</strong>
(expected impact {{ number(r.expected_impact.value) }} {{ r.expected_impact.unit }};
{{ r.expected_impact.basis }})<ul>{% for fact in r.evidence %}<li>{{ fact }}</li>{% endfor %}
</ul></li>{% endfor %}</ol>{% endif %}
{% for note in report.notes %}<p>{{ note }}</p>{% endfor %}
{% for kpi, chart in charts %}<figure><img alt="{{ kpi.name }}" src="{{ chart }}"></figure>
{% endfor %}</body></html>
"""

_environment = Environment(autoescape=select_autoescape(default=True))
_environment.globals.update(number=_number, percent=_percent, status=_status)


def render_html(report: DailyReport) -> str:
    charts = [
        (
            kpi,
            data_uri(
                line_chart(
                    f"{kpi.name} ({kpi.metric})",
                    kpi.days,
                    kpi.values,
                    target=kpi.target,
                    marks=kpi.anomalies,
                )
            ),
        )
        for kpi in report.kpis
        if kpi.values
    ]
    return _environment.from_string(_TEMPLATE).render(report=report, charts=charts)


def write_report(report: DailyReport, directory: Path) -> Path:
    """Write the HTML report as ``daily-<day>.html`` in ``directory``; returns its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"daily-{report.day.isoformat()}.html"
    path.write_text(render_html(report), encoding="utf-8")
    return path
