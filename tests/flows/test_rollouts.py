"""The progressive-rollout flow end to end: generated traffic with a regression injected at
stage 3, stepped by one flow run per stage window: the flag rolls back automatically, a
ticket and a notification wait in the outbox, the flag's audit trail holds every move, and
the launch report is written and published."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from sqlalchemy import select

from flows.rollouts import control_rollout_flow, demo_rollout, progressive_rollout_flow
from productpilot.db.models import FlagChange, Notification, Product, Report
from productpilot.demo import ensure_demo_product
from productpilot.launch.rollouts import get_rollout
from productpilot.launch.simulate import Regression
from productpilot.runtime import open_store
from productpilot.tenants import create_tenant
from tests.productpilot.launch.test_rollouts import (
    HOUR,
    START,
    configured_product,
    start,
    traffic,
)

ROUTES = [
    {"kinds": ["productpilot.rollout.*"], "channel": "outbox", "recipients": ["#launches"]},
    {"kinds": ["productpilot.rollout.*"], "channel": "jira", "recipients": ["WEB"]},
]


def test_a_regression_at_stage_3_rolls_back_opens_a_ticket_and_publishes_the_report(
    home: Path,
) -> None:
    store = open_store()
    tenant, _ = create_tenant(store, "Rollout Co")
    product_id = configured_product(store, tenant.id, ROUTES)
    rollout_id = start(store, tenant.id, product_id)

    clock, runs = START, []
    for stage in (1, 2, 3):
        broken = Regression(error_rate_factor=5.0) if stage == 3 else None
        traffic(store, tenant.id, product_id, clock, seed=stage, regression=broken)
        clock += HOUR + timedelta(minutes=1)
        runs.append(progressive_rollout_flow([product_id], now=clock))

    assert [run["steps"][0]["action"] for run in runs] == ["advance", "advance", "rollback"]
    [published] = runs[2]["reports"]
    text = Path(published["report"]).read_text()
    assert "# Launch report: New checkout (flag new-checkout)" in text
    assert "**breach:** error_rate" in text
    with store.tenant_session(tenant.id) as session:
        product = session.get(Product, product_id)
        rollout = get_rollout(session, product, rollout_id)
        notes = list(session.scalars(select(Notification).order_by(Notification.id)))
        changes = list(session.scalars(select(FlagChange).order_by(FlagChange.version)))
        [report] = session.scalars(select(Report).where(Report.kind == "rollout"))
    assert rollout.status == "rolled_back"
    assert rollout.percentage == 25.0
    assert [(n.channel, n.kind, n.status) for n in notes] == [
        ("outbox", "productpilot.rollout.rolled_back", "sent"),
        ("jira", "productpilot.rollout.rolled_back", "held"),  # a ticket, awaiting credentials
    ]
    # One problem: a recurrence would comment on the same ticket, not open another.
    assert {n.dedupe_key for n in notes} == {f"{product_id}:rollout:{rollout_id}:rolled-back"}
    assert [(c.version, c.actor) for c in changes] == [(1, "ann")] + [
        (version, f"rollout:{rollout_id}") for version in (2, 3, 4, 5)
    ]
    assert [c.definition["targeting"]["fractional"][0][1] for c in changes[1:]] == [
        10,
        25,
        50,
        25,
    ]
    assert "rolled back to stage 2 (25%): guardrail breached" in changes[-1].reason
    assert report.path == published["report"]

    # The next scheduled run finds nothing active: no second ticket, no new flag version.
    after = progressive_rollout_flow([product_id], now=clock + HOUR)
    assert after == {"steps": [], "reports": []}
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=[f"rollout-{rollout_id}-report"])
            )
        )
    assert [a.type for a in artifacts] == ["markdown"]


def test_the_demo_rollout_runs_on_the_demo_product_and_writes_its_report(home: Path) -> None:
    store = open_store()
    demo = ensure_demo_product(store)

    result = demo_rollout(demo.product_id, regression_stage=None, users=300)

    assert result["status"] == "completed"
    assert result["percentage"] == 100.0
    assert [step["action"] for step in result["steps"]] == [
        "advance",
        "advance",
        "advance",
        "complete",
    ]
    assert "| 4 | 100% |" in Path(result["report"]).read_text()


def test_the_controls_run_from_the_prefect_ui_hold_then_abort_the_rollout(home: Path) -> None:
    store = open_store()
    tenant, _ = create_tenant(store, "Control Co")
    product_id = configured_product(store, tenant.id, ROUTES)
    rollout_id = start(store, tenant.id, product_id)

    held = control_rollout_flow(str(product_id), rollout_id, "hold", "ana", "waiting for support")
    aborted = control_rollout_flow(
        f"productpilot.product.{product_id}", rollout_id, "abort", "bo", "checkout bug"
    )

    assert (held["action"], aborted["action"]) == ("manual_hold", "rollback")
    with store.tenant_session(tenant.id) as session:
        rollout = get_rollout(session, session.get(Product, product_id), rollout_id)
        changes = list(session.scalars(select(FlagChange).order_by(FlagChange.version)))
    # An abort is a rollback to off, by a person: recorded as their control.
    assert (rollout.status, rollout.percentage) == ("rolled_back", 0.0)
    assert [(c["command"], c["actor"]) for c in rollout.result["controls"]] == [
        ("hold", "ana"),
        ("abort", "bo"),
    ]
    assert changes[-1].actor == f"rollout:{rollout_id}"
    assert "checkout bug" in changes[-1].reason
