"""Analytics results as findings for the router."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from productpilot.analytics.trends import trend
from productpilot.notify.findings import (
    anomaly_finding,
    daily_report_finding,
    performance_finding,
)
from productpilot.reports.daily import DailyReport, KpiStatus

ANOMALY = {
    "metric": "signups",
    "at": "2026-11-30T00:00:00+00:00",
    "expected": 100.0,
    "lower": 80.0,
    "upper": 120.0,
    "score": 0.7,
}


def test_an_anomaly_far_outside_its_band_is_critical_and_opens_a_ticket() -> None:
    far = anomaly_finding(7, {**ANOMALY, "value": 30.0})
    near = anomaly_finding(7, {**ANOMALY, "value": 70.0})
    assert (far.severity, near.severity) == ("critical", "warning")
    assert far.ticket
    assert far.key() == near.key() == "anomaly:signups:2026-11-30"
    assert ("band", "80 to 120") in far.facts


def test_a_lasting_performance_breach_is_one_problem() -> None:
    breach = {
        "rule": "api-latency",
        "signal": "latency",
        "value": 950.0,
        "previous": 300.0,
        "reasons": ["p95 950 ms above 800 ms"],
        "window_start": "2026-11-30T10:00:00+00:00",
        "window_end": "2026-11-30T10:15:00+00:00",
    }
    first = performance_finding(7, breach)
    later = performance_finding(7, {**breach, "window_end": "2026-11-30T10:30:00+00:00"})
    assert first.severity == "critical"
    assert first.key() == later.key() == "performance:api-latency"
    assert "p95 950 ms above 800 ms" in first.text


def test_the_daily_report_is_an_info_finding_naming_what_is_off_target(tmp_path: Path) -> None:
    days = [date(2026, 11, d) for d in range(1, 8)]
    kpis = [
        KpiStatus(
            "activation",
            "activation_rate",
            0.4,
            "increase",
            days,
            [0.3] * 7,
            trend(days, [0.3] * 7),
        ),
        KpiStatus(
            "latency", "latency_p95", 500, "decrease", days, [300.0] * 7, trend(days, [300.0] * 7)
        ),
    ]
    report = DailyReport(product="Web App", day=date(2026, 11, 7), kpis=kpis)
    finding = daily_report_finding(7, report, tmp_path / "report.html")
    assert finding.severity == "info"
    assert not finding.ticket
    assert finding.subject == "Daily report for Web App, 2026-11-07"
    assert "1 of 2 KPIs on target." in finding.text
    assert "activation is 0.3 against a target of 0.4." in finding.text
    assert finding.link == (tmp_path / "report.html").as_uri()
