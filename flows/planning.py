"""The planning flow: the backlog scored, estimated, scheduled, cut into sprints, its risk
assessed and its delivery forecast; published as artifacts, a report and a digest entry."""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow

from productpilot.eventbus import product_id_of
from tasks.fairness import fair_share
from tasks.notify import deliver_through_vendors, route_findings
from tasks.planning import plan_backlogs, publish_plans


@flow(name="backlog-planning", log_prints=True)
@fair_share
def backlog_planning_flow(
    product_ids: list[int] | None = None,
    as_of: date | None = None,
    product: str | None = None,
) -> list[dict[str, Any]]:
    """Plan each product's backlog and publish the plan (weekly, on demand, and when the
    backlog changes in Jira, Linear or GitHub).

    Args:
        product_ids: Products to plan (default: all).
        as_of: The plan's first day (default: today, UTC).
        product: One product, as its id or event resource id (``productpilot.product.<id>``),
            for runs a backlog change started.
    """
    if product is not None:
        product_ids = [product_id_of(product)]
    planned = plan_backlogs(product_ids, as_of)
    published = publish_plans(planned)
    if published:
        route_findings([p["notification"] for p in published])
        deliver_through_vendors([p["product_id"] for p in published])
    for plan in published:
        summary = plan["summary"]
        print(
            f"product {plan['product_id']}: {summary['items']} items over "
            f"{summary['makespan_days']} working days, P85 {summary['forecast'].get('p85')}; "
            f"report {plan['report']}"
        )
    return [{k: v for k, v in p.items() if k != "notification"} for p in published]
