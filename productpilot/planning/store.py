"""Planning and the store: the backlog in, the plan's results out.

:func:`load_records` reads a product's backlog as :class:`BacklogRecord` values; a planning
run's results go back with :func:`save_plan`: each open item's score (with its
explanation), estimate range and risk; a ``plans`` row with the whole plan; and the
success criteria, which the launch flow tracks and the reviews report.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from productpilot.db.models import BacklogDependency, BacklogItem, Plan, Product, SuccessCriterion
from productpilot.db.tenancy import StoreSession
from productpilot.planning.planner import BacklogPlan, BacklogRecord

PLAN_KIND = "backlog"


def load_records(session: StoreSession, product: Product) -> list[BacklogRecord]:
    """Every backlog item of ``product`` (open and finished), in creation order.

    An item's own scoring inputs live under ``score_details["inputs"]`` (set by a sync from
    the source tool's fields, or by hand); a plan never overwrites them.
    """
    rows = list(
        session.scalars(
            select(BacklogItem)
            .where(BacklogItem.product_id == product.id)
            .order_by(BacklogItem.created_at, BacklogItem.id)
        )
    )
    keys = {row.id: row.external_key for row in rows}
    needs: dict[int, list[str]] = {}
    for edge in session.scalars(
        select(BacklogDependency).where(BacklogDependency.item_id.in_(list(keys)))
    ):
        needs.setdefault(edge.item_id, []).append(keys[edge.depends_on_id])
    return [
        BacklogRecord(
            key=row.external_key,
            title=row.title,
            description=row.description or "",
            item_type=row.item_type,
            status=row.status,
            labels=tuple(row.labels or ()),
            feature=row.feature,
            team=row.team,
            story_points=row.story_points,
            estimate_days=row.estimate_days,
            deadline=row.deadline,
            created_at=row.created_at,
            started_at=row.started_at,
            completed_at=row.completed_at,
            depends_on=tuple(sorted(needs.get(row.id, []))),
            inputs={
                name: float(value)
                for name, value in (row.score_details or {}).get("inputs", {}).items()
            },
        )
        for row in rows
    ]


def save_plan(
    session: StoreSession, product: Product, plan: BacklogPlan, parameters: dict[str, Any]
) -> Plan:
    """Write ``plan`` back: item scores, ranges and risks, the plan row, success criteria."""
    rows = {
        row.external_key: row
        for row in session.scalars(select(BacklogItem).where(BacklogItem.product_id == product.id))
    }
    for scored in plan.scores:
        row = rows.get(scored.key)
        if row is None:
            continue
        estimate = plan.estimates.get(scored.key)
        assessed = plan.risks.get(scored.key)
        details = dict(row.score_details or {})
        details["score"] = scored.to_dict()
        details["estimate"] = (
            {
                "value": estimate.value,
                "low": estimate.low,
                "high": estimate.high,
                "method": estimate.method,
                "explanation": estimate.explanation,
                "similar": [s.to_dict() for s in estimate.similar],
            }
            if estimate
            else None
        )
        details["risk"] = (
            {
                "score": assessed.score,
                "level": assessed.level,
                "reasons": [r.to_dict() for r in assessed.reasons],
            }
            if assessed
            else None
        )
        row.score_details = details
        row.priority_score = scored.score
        if estimate is not None:
            row.estimate_low_days = estimate.low
            row.estimate_high_days = estimate.high
    record = Plan(
        product_id=product.id,
        kind=PLAN_KIND,
        status="published",
        parameters=parameters,
        result=plan_document(plan),
    )
    session.add(record)
    _save_criteria(session, product, plan, rows)
    session.flush()
    return record


def plan_document(plan: BacklogPlan) -> dict[str, Any]:
    """The plan as one JSON document (what the ``plans`` row and the API keep)."""
    return {
        "summary": plan.summary(),
        "rows": plan.rows(),
        "schedule": plan.timeline.to_dict() if plan.timeline else None,
        "sprints": plan.sprints.to_dict() if plan.sprints else None,
        "forecast": plan.forecast.to_dict() if plan.forecast else None,
        "cleaning": plan.cleaning.to_dict() if plan.cleaning else None,
        "criteria": [
            {
                "key": c.key,
                "kpi": c.kpi,
                "baseline": c.baseline,
                "target": c.target,
                "due": c.due.isoformat(),
            }
            for c in plan.criteria
        ],
    }


def _save_criteria(
    session: StoreSession, product: Product, plan: BacklogPlan, rows: dict[str, BacklogItem]
) -> None:
    """One criterion per (item, KPI): a re-plan moves its date and target while it is still
    pending; one already judged (met or missed) is history and stays as it was."""
    existing = {
        (c.backlog_item_id, c.kpi): c
        for c in session.scalars(
            select(SuccessCriterion).where(SuccessCriterion.product_id == product.id)
        )
    }
    for planned in plan.criteria:
        row = rows.get(planned.key)
        if row is None or planned.target is None:
            continue
        criterion = existing.get((row.id, planned.kpi))
        if criterion is None:
            session.add(
                SuccessCriterion(
                    product_id=product.id,
                    backlog_item_id=row.id,
                    kpi=planned.kpi,
                    baseline=planned.baseline,
                    target=planned.target,
                    due=planned.due,
                )
            )
        elif criterion.status == "pending":
            criterion.baseline = planned.baseline
            criterion.target = planned.target
            criterion.due = planned.due


def latest_plan(session: StoreSession, product: Product) -> Plan | None:
    return session.scalar(
        select(Plan)
        .where(Plan.product_id == product.id, Plan.kind == PLAN_KIND)
        .order_by(Plan.id.desc())
        .limit(1)
    )
