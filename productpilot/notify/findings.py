"""What the analytics flows find, as findings for the router: anomalies, performance
breaches and the daily report (handed over as an ``info`` finding, grouped into digests by
the routes like any other).

Example:
    >>> finding = anomaly_finding(7, {"metric": "signups", "at": "2026-11-30T00:00:00+00:00",
    ...     "value": 30.0, "expected": 100.0, "lower": 80.0, "upper": 120.0, "score": 0.7})
    >>> finding.severity, finding.subject
    ('critical', 'signups was 30 on 2026-11-30, expected 80 to 120')
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from productpilot.notify.message import Finding
from productpilot.reports.daily import DailyReport

ANOMALY = "productpilot.anomaly.detected"
PERFORMANCE = "productpilot.performance.degraded"
DAILY_REPORT = "productpilot.report.daily"
#: How many recommendations the daily digest entry quotes (the report has them all).
DIGEST_RECOMMENDATIONS = 3


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.4g}"


def anomaly_finding(product_id: int, anomaly: Mapping[str, Any]) -> Finding:
    """An anomaly (a ``productpilot.anomaly.detected`` payload) as a finding.

    Critical when the value is further outside its band than the band is wide: a move that
    large is an incident (a broken signup form), not a wobble. Anomalies open tickets.
    """
    at = datetime.fromisoformat(anomaly["at"]).date()
    value, lower, upper = anomaly["value"], anomaly["lower"], anomaly["upper"]
    width = max(upper - lower, 1e-12)
    distance = lower - value if value < lower else value - upper
    direction = "below" if value < lower else "above"
    return Finding(
        kind=ANOMALY,
        severity="critical" if distance > width else "warning",
        product_id=product_id,
        subject=(
            f"{anomaly['metric']} was {_number(value)} on {at.isoformat()}, "
            f"expected {_number(lower)} to {_number(upper)}"
        ),
        text=(
            f"{anomaly['metric']} is {direction} its expected band on {at.isoformat()} "
            f"(expected {_number(anomaly['expected'])}, anomaly score {anomaly['score']:.2f})."
        ),
        dedupe_key=f"anomaly:{anomaly['metric']}:{at.isoformat()}",
        facts=(
            ("metric", str(anomaly["metric"])),
            ("value", _number(value)),
            ("expected", _number(anomaly["expected"])),
            ("band", f"{_number(lower)} to {_number(upper)}"),
            ("score", f"{anomaly['score']:.2f}"),
        ),
        occurred_at=datetime.fromisoformat(anomaly["at"]),
        ticket=True,
    )


def performance_finding(product_id: int, breach: Mapping[str, Any]) -> Finding:
    """A performance rule breach (a ``productpilot.performance.degraded`` payload).

    Keyed by rule, not by window: a breach that lasts an hour is one problem, so within the
    route's dedupe window later windows are folded into the first alert.
    """
    reasons = "; ".join(breach.get("reasons", ()))
    return Finding(
        kind=PERFORMANCE,
        severity="critical",
        product_id=product_id,
        subject=f"{breach['rule']}: {breach['signal']} at {_number(breach['value'])}",
        text=f"Performance rule {breach['rule']} is breached: {reasons}.",
        dedupe_key=f"performance:{breach['rule']}",
        facts=(
            ("rule", str(breach["rule"])),
            ("signal", str(breach["signal"])),
            ("value", _number(breach["value"])),
            ("previous window", _number(breach.get("previous"))),
            ("window", f"{breach['window_start']} to {breach['window_end']}"),
        ),
        occurred_at=datetime.fromisoformat(breach["window_end"]),
        ticket=True,
    )


def daily_report_finding(product_id: int, report: DailyReport, path: Path) -> Finding:
    """The daily report as an ``info`` finding: KPIs off target and the top recommendations,
    with the report's file as the link."""
    off_track = [k for k in report.kpis if k.on_track is False]
    lines = [
        f"{len(report.kpis) - len(off_track)} of {len(report.kpis)} KPIs on target."
        if report.kpis
        else "No KPIs are configured."
    ]
    lines += [
        f"{k.name} is {_number(k.latest)} against a target of {_number(k.target)}."
        for k in off_track
    ]
    lines += [f"Recommended: {r.title}." for r in report.recommendations[:DIGEST_RECOMMENDATIONS]]
    return Finding(
        kind=DAILY_REPORT,
        severity="info",
        product_id=product_id,
        subject=f"Daily report for {report.product}, {report.day.isoformat()}",
        text=" ".join(lines),
        dedupe_key=f"daily-report:{report.day.isoformat()}",
        facts=tuple((k.name, _number(k.latest)) for k in report.kpis),
        link=path.absolute().as_uri(),
        occurred_at=_day_end(report.day),
    )


def _day_end(day: date) -> datetime:
    return datetime.combine(day, time.max, UTC)
