"""The weekly QA report as one self-contained HTML file (charts embedded as PNGs).

Example:
    >>> path = write_qa_report(report, home / "reports" / "acme" / "shop")  # doctest: +SKIP
    >>> path.name  # doctest: +SKIP
    'qa-2026-11-30.html'
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
from jinja2 import Environment, select_autoescape

from productpilot.quality.qa_report import MetricTrend, QaReport, format_value
from productpilot.reports.charts import data_uri  # importing it selects the Agg backend

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{{ report.product }}: QA report, week of {{ report.week_start }}</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #222; }
table { border-collapse: collapse; margin: 1rem 0; } td, th { padding: .3rem .7rem;
border-bottom: 1px solid #ddd; text-align: left; } .worse { color: #c62828; }
.better { color: #2e7d32; } figure { margin: 1.5rem 0; } img { max-width: 100%; }
</style></head><body>
<h1>{{ report.product }}</h1>
<p>QA report for the week of {{ report.week_start }} to {{ report.week_end }} (UTC), against
the {{ report.weeks | length - 1 }} weeks before.</p>
<h2>Metrics</h2>
<table><tr><th>metric</th><th>this week</th><th>earlier weeks (mean)</th><th>trend</th>
<th>DORA band</th></tr>
{% for trend in trends %}<tr><td>{{ trend.spec.label }}</td>
<td>{{ value(trend.spec, trend.latest) }}</td><td>{{ value(trend.spec, trend.previous_mean) }}</td>
<td class="{{ trend.direction }}">{{ trend.direction }}</td>
<td>{{ bands.get(trend.spec.key) or '' }}</td></tr>{% endfor %}</table>
{% if report.week.nps %}<p>NPS {{ '%.0f' % report.week.nps.score }}
({{ '%.0f' % report.week.nps.low }} to {{ '%.0f' % report.week.nps.high }},
{{ (report.week.nps.confidence * 100) | round | int }}% interval, {{ report.week.nps.n }} answers).
</p>{% endif %}
{% if report.week.csat %}<p>CSAT {{ '%.0f' % (report.week.csat.score * 100) }}%
({{ '%.0f' % (report.week.csat.low * 100) }}% to {{ '%.0f' % (report.week.csat.high * 100) }}%,
Wilson interval, {{ report.week.csat.n }} answers).</p>{% endif %}
<h2>Security</h2>
<p>{{ report.security.open_total }} open findings; {{ report.security.opened }} new and
{{ report.security.resolved }} fixed this week.</p>
<table><tr>{% for severity in report.security.open_by_severity %}<th>{{ severity }}</th>
{% endfor %}</tr><tr>{% for n in report.security.open_by_severity.values() %}<td>{{ n }}</td>
{% endfor %}</tr></table>
{% if report.criteria %}<h2>Success criteria</h2>
<table><tr><th>KPI</th><th>baseline</th><th>current</th><th>target</th><th>due</th>
<th>state</th></tr>{% for c in report.criteria %}<tr><td>{{ c.kpi }}</td>
<td>{{ number(c.baseline) }}</td><td>{{ number(c.current) }}</td><td>{{ number(c.target) }}</td>
<td>{{ c.due or '-' }}</td><td>{{ c.state }}</td></tr>{% endfor %}</table>{% endif %}
{% if report.recommendations %}<h2>Recommendations</h2><ol>
{% for r in report.recommendations %}<li><strong>{{ r.title }}</strong> ({{ r.area }})<ul>
{% for reason in r.reasons %}<li>{{ reason }}</li>{% endfor %}</ul></li>{% endfor %}</ol>
{% endif %}
{% for note in report.notes %}<p>{{ note }}</p>{% endfor %}
{% for label, chart in charts %}<figure><img alt="{{ label }}" src="{{ chart }}"></figure>
{% endfor %}</body></html>
"""


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


_environment = Environment(autoescape=select_autoescape(default=True))
_environment.globals.update(value=format_value, number=_number)


def trend_grid(report: QaReport, trends: list[MetricTrend]) -> bytes | None:
    """One PNG with a small chart per metric that has at least two weeks of values (one
    figure, not one per metric: drawing a figure is what costs)."""
    series = []
    for trend in trends:
        points = [
            (week.start.date(), value)
            for week, value in zip(report.weeks, trend.values, strict=True)
            if value is not None
        ]
        if len(points) >= 2:  # one point is not a trend
            series.append((trend.spec.label, points))
    if not series:
        return None
    rows = math.ceil(len(series) / 2)
    figure, axes = plt.subplots(rows, 2, figsize=(9.0, 2.2 * rows), dpi=100, squeeze=False)
    try:
        for cell, (label, points) in zip(axes.flat, series, strict=False):
            days, values = zip(*points, strict=True)
            cell.plot(days, values, color="#1f5fa8", linewidth=1.6, marker="o", markersize=3)
            cell.set_title(label, fontsize=9, loc="left")
            cell.xaxis.set_major_formatter(mdates.DateFormatter("%b %d"))
            cell.tick_params(labelsize=7)
            cell.grid(alpha=0.3)
        for cell in list(axes.flat)[len(series) :]:
            cell.set_visible(False)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        plt.close(figure)


def render_qa_html(report: QaReport) -> str:
    """The report as HTML: the metrics against the weeks before, security, success
    criteria, recommendations, and the metrics' weekly charts."""
    trends = report.trends()
    dora = report.week.dora
    bands = {
        "deployments_per_week": dora.deployment_frequency_band,
        "lead_time_hours": dora.lead_time_band,
        "change_failure_rate": dora.change_failure_band,
        "time_to_restore_hours": dora.time_to_restore_band,
    }
    grid = trend_grid(report, trends)
    charts = [] if grid is None else [("Metrics per week", data_uri(grid))]
    return _environment.from_string(_TEMPLATE).render(
        report=report, trends=trends, bands=bands, charts=charts
    )


def write_qa_report(report: QaReport, directory: Path) -> Path:
    """Write the report as ``qa-<week start>.html`` in ``directory``; returns its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"qa-{report.week_start.isoformat()}.html"
    path.write_text(render_qa_html(report), encoding="utf-8")
    return path
