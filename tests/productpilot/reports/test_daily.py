"""The daily report: a self-contained HTML page and a markdown summary."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from productpilot.analytics.recommendations import ExpectedImpact, Recommendation
from productpilot.analytics.trends import trend
from productpilot.reports.daily import DailyReport, KpiStatus, write_report

DAYS = [date(2026, 8, 1) + timedelta(days=i) for i in range(28)]
VALUES = [0.3 + 0.01 * i for i in range(28)]


def report(title: str = "Fix alerts adoption in platform = android") -> DailyReport:
    kpi = KpiStatus(
        name="activation",
        metric="activation_rate",
        target=0.5,
        direction="increase",
        days=DAYS,
        values=VALUES,
        trend=trend(DAYS, VALUES),
        anomalies=[DAYS[10]],
    )
    advice = Recommendation(
        title=title,
        kind="fix_adoption",
        priority=42.0,
        evidence=("adoption fell from 31% to 18% (p = 0.0001)",),
        expected_impact=ExpectedImpact(12.0, "users", "users regained at the previous rate"),
        related_metric="feature_adoption:alerts",
        segment={"platform": "android"},
    )
    return DailyReport(product="Demo <App>", day=DAYS[-1], kpis=[kpi], recommendations=[advice])


def test_the_html_embeds_a_chart_per_kpi_and_lists_recommendations(tmp_path: Path) -> None:
    path = write_report(report(), tmp_path)
    html = path.read_text()
    assert path.name == "daily-2026-08-28.html"
    assert html.count("data:image/png;base64,") == 1
    assert "Fix alerts adoption in platform = android" in html
    assert "adoption fell from 31% to 18%" in html
    assert ">\non track<" in html  # latest 0.57 meets the 0.5 target


def test_text_from_data_is_escaped(tmp_path: Path) -> None:
    html = write_report(report("<script>alert(1)</script>"), tmp_path).read_text()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html
    assert "Demo &lt;App&gt;" in html


def test_the_markdown_has_the_kpi_table_and_ranked_advice() -> None:
    markdown = report().markdown()
    assert "| activation | 0.57 | 0.5 | on track | increasing |" in markdown
    assert "1. **Fix alerts adoption in platform = android** (12 users)" in markdown
