"""The ``reports`` table: one row per product, kind and period, replaced on a re-run."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from productpilot.db.models import Report
from productpilot.db.tenancy import StoreSession


def record_report(
    session: StoreSession,
    product_id: int,
    kind: str,
    period_start: datetime,
    period_end: datetime,
    *,
    path: str,
    summary: dict[str, Any],
) -> Report:
    """Record a written report; a report of the same kind and period is replaced."""
    report = session.scalar(
        select(Report).where(
            Report.product_id == product_id,
            Report.kind == kind,
            Report.period_start == period_start,
        )
    )
    if report is None:
        report = Report(product_id=product_id, kind=kind, period_start=period_start)
        session.add(report)
    report.period_end = period_end
    report.path = path
    report.summary = summary
    session.flush()
    return report
