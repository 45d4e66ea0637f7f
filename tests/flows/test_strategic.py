"""Strategic flows: each writes its report, records it once, and returns its figures."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import select

from flows.demo import demo_flow
from flows.strategic import (
    annual_plan_flow,
    market_opportunity_flow,
    monthly_review_flow,
    quarterly_assessment_flow,
)
from productpilot.db.models import Report
from productpilot.runtime import open_store


def test_reviews_plans_and_opportunities_are_written_and_recorded(home: Path) -> None:
    summary = demo_flow(preset="tiny", seed=2)  # 2026-08-01 .. 2026-09-04, with a monthly review
    product = [summary["product_id"]]

    [monthly] = monthly_review_flow(product, month=date(2026, 8, 1))
    [quarterly] = quarterly_assessment_flow(product, quarter_start=date(2026, 7, 1))
    [annual] = annual_plan_flow(product, year_start=date(2027, 1, 1))
    [market] = market_opportunity_flow(product, start=date(2026, 8, 1), end=date(2026, 9, 4))
    monthly_review_flow(product, month=date(2026, 8, 1))  # a re-run replaces, not adds

    assert {k["name"] for k in monthly["review"]["kpis"]} == {
        "activation", "conversion", "latency", "reliability", "satisfaction",
    }  # fmt: skip
    for result in (monthly, quarterly, annual, market):
        assert Path(result["path"]).read_text().startswith("# Demo App: ")
    assert "next quarter (interval)" in Path(quarterly["path"]).read_text()
    with open_store().tenant_session(summary["tenant_id"]) as session:
        kinds = sorted(session.scalars(select(Report.kind)))
    assert kinds == [
        "annual", "daily", "market-opportunities", "market-opportunities", "monthly",
        "monthly", "qa", "quarterly", "rollout",
    ]  # fmt: skip
