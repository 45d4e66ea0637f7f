"""The backlog in and the plan out, on each database under test."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from productpilot.db.models import BacklogItem, Plan, Product, SuccessCriterion
from productpilot.db.store import Store
from productpilot.planning import planner
from productpilot.planning.backlog import upsert_backlog
from productpilot.planning.store import latest_plan, load_records, save_plan
from productpilot.products.configuration import PlanningSettings

MONDAY = date(2026, 11, 2)
NOW = datetime(2026, 11, 2, 9, tzinfo=UTC)


def backlog() -> list[dict]:
    done = [
        {
            "key": f"H-{i}",
            "title": f"Past work {i}",
            "status": "done",
            "team": "core",
            "created_at": (NOW - timedelta(days=40 - i)).isoformat(),
            "started_at": (NOW - timedelta(days=30 - 2 * i)).isoformat(),
            "completed_at": (NOW - timedelta(days=28 - 2 * i)).isoformat(),
        }
        for i in range(12)
    ]
    return [
        *done,
        {"key": "A", "title": "Build exports", "feature": "reports", "team": "core"},
        {"key": "B", "title": "Polish exports", "feature": "reports", "depends_on": ["A"]},
    ]


def seeded(store: Store, tenant_id: int, product: Product) -> None:
    with store.tenant_session(tenant_id) as session:
        upsert_backlog(session, session.get(Product, product.id), backlog(), source="local")
        row = session.scalar(select(BacklogItem).where(BacklogItem.external_key == "A"))
        row.score_details = {"inputs": {"impact": 3}}


def test_records_carry_dependencies_history_and_the_items_own_inputs(
    store: Store, tenant_id: int, product: Product
) -> None:
    seeded(store, tenant_id, product)
    with store.tenant_session(tenant_id) as session:
        records = {r.key: r for r in load_records(session, session.get(Product, product.id))}
    assert records["B"].depends_on == ("A",)
    assert records["A"].inputs == {"impact": 3.0}
    assert records["H-3"].done
    assert records["H-3"].actual_days == 2.0
    assert not records["A"].done


def test_a_saved_plan_scores_the_items_keeps_their_inputs_and_sets_success_criteria(
    store: Store, tenant_id: int, product: Product
) -> None:
    seeded(store, tenant_id, product)
    settings = PlanningSettings(min_history=10, time_limit_seconds=5)
    with store.tenant_session(tenant_id) as session:
        owned = session.get(Product, product.id)
        result = planner.plan(load_records(session, owned), settings, MONDAY, {"reports": 40})
        saved = save_plan(session, owned, result, {"as_of": MONDAY.isoformat()})
        plan_id = saved.id
    with store.tenant_session(tenant_id) as session:
        owned = session.get(Product, product.id)
        a = session.scalar(select(BacklogItem).where(BacklogItem.external_key == "A"))
        assert a.priority_score is not None
        assert a.score_details["inputs"] == {"impact": 3}  # never overwritten by a plan
        assert a.score_details["score"]["explanation"]["method"] == "RICE"
        assert a.estimate_low_days <= a.score_details["estimate"]["value"] <= a.estimate_high_days
        assert a.score_details["risk"]["level"] in {"low", "medium", "high"}
        assert latest_plan(session, owned).id == plan_id
        stored = session.get(Plan, plan_id).result
        assert [row["key"] for row in stored["rows"]] == ["A", "B"]
        assert stored["schedule"]["items"][0]["key"] == "A"
        criteria = list(session.scalars(select(SuccessCriterion)))
        assert {(c.kpi, c.baseline, c.target, c.status) for c in criteria} == {
            ("feature_users:reports", 40.0, 44.0, "pending")
        }
        assert len(criteria) == 2  # one per item of the feature


def test_a_replan_moves_pending_criteria_and_leaves_judged_ones_alone(
    store: Store, tenant_id: int, product: Product
) -> None:
    seeded(store, tenant_id, product)
    settings = PlanningSettings(min_history=10, time_limit_seconds=5)

    def replan(reach: int) -> None:
        with store.tenant_session(tenant_id) as session:
            owned = session.get(Product, product.id)
            records = load_records(session, owned)
            save_plan(
                session, owned, planner.plan(records, settings, MONDAY, {"reports": reach}), {}
            )

    replan(40)
    with store.tenant_session(tenant_id) as session:
        judged = session.scalars(select(SuccessCriterion).order_by(SuccessCriterion.id)).first()
        judged.status = "met"
    replan(100)
    with store.tenant_session(tenant_id) as session:
        criteria = list(session.scalars(select(SuccessCriterion).order_by(SuccessCriterion.id)))
    assert [(c.status, c.baseline) for c in criteria] == [("met", 40.0), ("pending", 100.0)]
