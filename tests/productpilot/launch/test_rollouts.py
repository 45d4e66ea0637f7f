"""The rollout lifecycle over ``launches``: stages advance on generated traffic, a
regression or a sample-ratio mismatch rolls back, a success goal advances early, operators
approve, hold, resume and abort, and every flag move is a versioned, audited change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from productpilot.db.models import Product
from productpilot.db.store import Store
from productpilot.errors import ConflictError, NotFoundError, ValidationError
from productpilot.launch import rollouts
from productpilot.launch.flags import rollout_percentage
from productpilot.launch.simulate import Regression, simulate_stage, user_ids, write_events
from productpilot.launch.store import create_flag, flag_history, get_flag, product_document
from productpilot.products import create_product

START = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
HOUR = timedelta(minutes=60)
FLAG = "new-checkout"
USERS = 400
METRICS = [
    {"name": "error_rate", "kind": "average", "event": "api_request", "property": "error"},
    {
        "name": "latency_p95",
        "kind": "percentile",
        "event": "api_request",
        "property": "latency_ms",
        "percentile": 95,
    },
    {"name": "conversion_rate", "kind": "ratio", "event": "convert", "denominator_event": "x"},
    {
        "name": "checkout_adoption",
        "kind": "unique_users",
        "event": "feature_used",
        "filters": {"feature": FLAG},
    },
]
GUARDRAILS = [
    {"metric": "error_rate", "kind": "error_rate", "max_relative_change": 0.25},
    {"metric": "latency_p95", "kind": "latency_p95", "threshold": 800},
    {"metric": "conversion_rate", "kind": "conversion", "max_relative_change": 0.5},
]
PLAN: dict[str, Any] = {
    "stages": [
        {"percentage": 10, "min_duration_minutes": 60, "min_exposure": 20},
        {"percentage": 25, "min_duration_minutes": 60},
        {"percentage": 50, "min_duration_minutes": 60},
        {"percentage": 100, "min_duration_minutes": 60},
    ],
    "guardrails": GUARDRAILS,
}
DEFINITION = {"state": "ENABLED", "variants": {"on": True, "off": False}, "defaultVariant": "off"}


def configured_product(
    store: Store, tenant_id: int, routes: list[dict[str, Any]] | None = None
) -> int:
    """A product with the rollout's metrics and the flag (version 1, by ann)."""
    configuration: dict[str, Any] = {"metrics": METRICS}
    if routes:
        configuration["notification_routes"] = routes
    with store.tenant_session(tenant_id) as session:
        product = create_product(session, "Shop", configuration=configuration)
        create_flag(session, product, FLAG, DEFINITION, "ann", "JIRA-7")
        return product.id


def traffic(
    store: Store,
    tenant_id: int,
    product_id: int,
    start: datetime,
    *,
    seed: int,
    regression: Regression | None = None,
    lost_exposure_share: float = 0.0,
    minutes: int = 60,
) -> None:
    """A window of synthetic traffic bucketed by the flag as it is served now."""
    with store.tenant_session(tenant_id) as session:
        document, _ = product_document(session, session.get(Product, product_id))
    events = simulate_stage(
        document,
        FLAG,
        users=user_ids(USERS),
        start=start,
        end=start + timedelta(minutes=minutes),
        seed=seed,
        regression=regression,
        lost_exposure_share=lost_exposure_share,
    )
    write_events(store, tenant_id, product_id, events)


def start(store: Store, tenant_id: int, product_id: int, plan: dict[str, Any] = PLAN) -> int:
    with store.tenant_session(tenant_id) as session:
        rollout, change = rollouts.create_rollout(
            session,
            session.get(Product, product_id),
            name="New checkout",
            flag_key=FLAG,
            plan=plan,
            actor="ann",
            now=START,
        )
    assert (change.actor, change.version) == (f"rollout:{rollout.id}", 2)
    return rollout.id


def step(
    store: Store, tenant_id: int, product_id: int, rollout_id: int, now: datetime
) -> rollouts.StepOutcome:
    with store.tenant_session(tenant_id) as session:
        return rollouts.step_rollout(session, session.get(Product, product_id), rollout_id, now=now)


def control(
    store: Store, tenant_id: int, product_id: int, rollout_id: int, what: str, now: datetime
) -> rollouts.StepOutcome:
    with store.tenant_session(tenant_id) as session:
        return rollouts.control_rollout(
            session,
            session.get(Product, product_id),
            rollout_id,
            what,  # type: ignore[arg-type]
            actor="bob",
            reason=f"{what} from the test",
            now=now,
        )


def served(store: Store, tenant_id: int, product_id: int) -> float | None:
    with store.tenant_session(tenant_id) as session:
        flag = get_flag(session, session.get(Product, product_id), FLAG)
    return rollout_percentage({"flags": {FLAG: flag.definition}}, FLAG, "on")


def run_until_regression(store: Store, tenant_id: int, product_id: int, rollout_id: int) -> list:
    """Stages of an hour of traffic each, the treatment's error rate 5x from stage 3."""
    outcomes, clock = [], START
    for stage in (1, 2, 3):
        broken = Regression(error_rate_factor=5.0) if stage == 3 else None
        traffic(store, tenant_id, product_id, clock, seed=stage, regression=broken)
        clock += HOUR + timedelta(minutes=1)
        outcomes.append(step(store, tenant_id, product_id, rollout_id, clock))
    return outcomes


def test_a_regression_at_stage_3_rolls_the_flag_back_to_stage_2_with_a_complete_audit_trail(
    store: Store, tenant_id: int
) -> None:
    product_id = configured_product(store, tenant_id)
    rollout_id = start(store, tenant_id, product_id)
    assert served(store, tenant_id, product_id) == 10.0

    first, second, third = run_until_regression(store, tenant_id, product_id, rollout_id)

    assert [type(o.action).__name__ for o in (first, second, third)] == [
        "Advance",
        "Advance",
        "Rollback",
    ]
    assert "guardrail breached at stage 3 (50%): error_rate" in third.action.reason
    assert third.rollout.status == "rolled_back"
    assert third.rollout.percentage == 25.0
    assert served(store, tenant_id, product_id) == 25.0
    breach = {g.metric: g for g in third.measurement.guardrails}["error_rate"]
    assert breach.breach
    assert breach.effect.relative_lift > 1
    assert breach.sequential_p_value < 0.05
    assert third.finding.severity == "critical"
    assert third.finding.ticket
    assert third.finding.dedupe_key == f"rollout:{rollout_id}:rolled-back"

    with store.tenant_session(tenant_id) as session:
        product = session.get(Product, product_id)
        history = flag_history(session, product, FLAG)
        stored = rollouts.get_rollout(session, product, rollout_id)
    assert [(h.version, h.actor) for h in history] == [
        (5, f"rollout:{rollout_id}"),
        (4, f"rollout:{rollout_id}"),
        (3, f"rollout:{rollout_id}"),
        (2, f"rollout:{rollout_id}"),
        (1, "ann"),
    ]
    assert history[0].reason.startswith(f"rollout {rollout_id}: rolled back to stage 2 (25%)")
    assert "stage 3 (50%)" in history[1].reason
    assert "stage 2 (25%)" in history[2].reason
    assert [d["action"] for d in stored.result["decisions"]] == [
        "start",
        "advance",
        "advance",
        "rollback",
    ]
    assert [d["flag_version"] for d in stored.result["decisions"]] == [2, 3, 4, 5]
    assert [s["outcome"] for s in stored.result["stages"]] == ["advance", "advance", "rollback"]
    assert stored.finished_at is not None
    # A rolled-back rollout stays so: the next run changes nothing.
    later = step(store, tenant_id, product_id, rollout_id, START + 5 * HOUR)
    assert later.action.kind == "stopped"
    assert later.flag_change is None
    # An operator can still take the remaining 25% off; the stages' record stays as it was.
    off = control(store, tenant_id, product_id, rollout_id, "abort", START + 6 * HOUR)
    assert (off.rollout.percentage, off.flag_change.version) == (0.0, 6)
    assert [s["outcome"] for s in off.rollout.result["stages"]] == [
        "advance",
        "advance",
        "rollback",
    ]
    assert off.rollout.result["decisions"][-1]["actor"] == "bob"


def test_a_sample_ratio_mismatch_rolls_back_to_off(store: Store, tenant_id: int) -> None:
    product_id = configured_product(store, tenant_id)
    plan = {**PLAN, "stages": [{"percentage": 50, "min_duration_minutes": 60}, {"percentage": 100}]}
    rollout_id = start(store, tenant_id, product_id, plan)
    # Half the treatment users never report their exposure (the variant crashes first).
    traffic(store, tenant_id, product_id, START, seed=3, lost_exposure_share=0.5)

    outcome = step(store, tenant_id, product_id, rollout_id, START + HOUR)

    assert outcome.action.reason.startswith("sample ratio mismatch at stage 1 (50%)")
    assert outcome.measurement.srm.mismatch
    assert outcome.rollout.percentage == 0.0
    assert outcome.rollout.state.stage_index == -1
    assert served(store, tenant_id, product_id) == 0.0


def test_a_reached_success_goal_advances_before_the_minimum_duration(
    store: Store, tenant_id: int
) -> None:
    product_id = configured_product(store, tenant_id)
    plan = {
        "stages": [{"percentage": 50, "min_duration_minutes": 24 * 60}, {"percentage": 100}],
        "guardrails": GUARDRAILS,
        "success_goal": {"metric": "checkout_adoption", "target": 0.2},
    }
    rollout_id = start(store, tenant_id, product_id, plan)
    traffic(store, tenant_id, product_id, START, seed=4)

    outcome = step(store, tenant_id, product_id, rollout_id, START + HOUR)

    # About 35% of treatment users use the feature; control never sees it.
    assert outcome.measurement.success_value == pytest.approx(0.35, abs=0.08)
    assert outcome.action.reason.startswith("success goal checkout_adoption reached")
    assert outcome.rollout.percentage == 100.0


def test_without_its_goal_the_same_stage_waits_out_its_duration(
    store: Store, tenant_id: int
) -> None:
    product_id = configured_product(store, tenant_id)
    plan = {
        "stages": [{"percentage": 50, "min_duration_minutes": 24 * 60}, {"percentage": 100}],
        "guardrails": GUARDRAILS,
        "success_goal": {"metric": "checkout_adoption", "target": 0.9},
    }
    rollout_id = start(store, tenant_id, product_id, plan)
    traffic(store, tenant_id, product_id, START, seed=4)

    outcome = step(store, tenant_id, product_id, rollout_id, START + HOUR)

    assert outcome.action.reason == "stage 1 (50%) needs 1380 more minutes"
    assert outcome.flag_change is None
    assert served(store, tenant_id, product_id) == 50.0


def test_a_stage_that_needs_approval_waits_and_an_early_approval_is_kept(
    store: Store, tenant_id: int
) -> None:
    product_id = configured_product(store, tenant_id)
    plan = {
        "stages": [
            {"percentage": 20, "min_duration_minutes": 60, "requires_approval": True},
            {"percentage": 100},
        ],
        "guardrails": GUARDRAILS,
    }
    rollout_id = start(store, tenant_id, product_id, plan)
    traffic(store, tenant_id, product_id, START, seed=5)

    early = control(
        store, tenant_id, product_id, rollout_id, "approve", START + 30 * timedelta(minutes=1)
    )
    assert early.action.reason == "stage 1 (20%) needs 30 more minutes"
    later = step(store, tenant_id, product_id, rollout_id, START + HOUR)

    assert later.action.reason == "stage 1 (20%) passed its checks"
    assert later.rollout.percentage == 100.0
    [given] = later.rollout.result["controls"]
    assert (given["command"], given["actor"], given["stage"]) == ("approve", "bob", 1)


def test_hold_resume_and_abort_are_recorded_and_act_at_once(store: Store, tenant_id: int) -> None:
    product_id = configured_product(store, tenant_id)
    rollout_id = start(store, tenant_id, product_id)
    traffic(store, tenant_id, product_id, START, seed=6)
    at = START + HOUR

    held = control(store, tenant_id, product_id, rollout_id, "hold", at)
    assert held.rollout.status == "held"
    assert step(store, tenant_id, product_id, rollout_id, at).action.kind == "manual"
    resumed = control(store, tenant_id, product_id, rollout_id, "resume", at)
    assert resumed.rollout.status == "running"
    assert resumed.rollout.percentage == 25.0
    aborted = control(store, tenant_id, product_id, rollout_id, "abort", at)

    assert aborted.action.reason == "aborted by bob: abort from the test"
    assert aborted.finding.severity == "warning"
    assert not aborted.finding.ticket
    assert served(store, tenant_id, product_id) == 0.0
    assert [c["command"] for c in aborted.rollout.result["controls"]] == [
        "hold",
        "resume",
        "abort",
    ]
    with pytest.raises(ConflictError, match="nothing to hold"):
        control(store, tenant_id, product_id, rollout_id, "hold", at)


def test_resume_needs_a_held_rollout(store: Store, tenant_id: int) -> None:
    product_id = configured_product(store, tenant_id)
    rollout_id = start(store, tenant_id, product_id)
    with pytest.raises(ConflictError, match="is running, not held"):
        control(store, tenant_id, product_id, rollout_id, "resume", START)


def test_a_plan_must_name_configured_metrics_and_a_flag_has_one_active_rollout(
    store: Store, tenant_id: int
) -> None:
    product_id = configured_product(store, tenant_id)
    start(store, tenant_id, product_id)
    with store.tenant_session(tenant_id) as session:
        product = session.get(Product, product_id)
        with pytest.raises(ConflictError, match="already has an active rollout"):
            rollouts.create_rollout(
                session, product, name="again", flag_key=FLAG, plan=PLAN, actor="ann"
            )
        bad = {
            **PLAN,
            "guardrails": [
                {"metric": "nps", "kind": "custom", "direction": "decrease_is_bad", "threshold": 10}
            ],
        }
        with pytest.raises(ValidationError, match="guardrail 'nps' names no configured metric"):
            rollouts.create_rollout(
                session, product, name="nps", flag_key=FLAG, plan=bad, actor="ann"
            )
        with pytest.raises(NotFoundError):
            rollouts.create_rollout(
                session, product, name="x", flag_key="missing", plan=PLAN, actor="ann"
            )


def test_rollouts_are_listed_newest_first_and_scoped_to_their_product(
    store: Store, tenant_id: int
) -> None:
    product_id = configured_product(store, tenant_id)
    rollout_id = start(store, tenant_id, product_id)
    with store.tenant_session(tenant_id) as session:
        other = create_product(session, "Other")
        product = session.get(Product, product_id)
        assert [r.id for r in rollouts.list_rollouts(session, product)] == [rollout_id]
        assert rollouts.list_rollouts(session, product, status="completed") == []
        assert rollouts.active_rollout_ids(session, product) == [rollout_id]
        with pytest.raises(NotFoundError):
            rollouts.get_rollout(session, other, rollout_id)
