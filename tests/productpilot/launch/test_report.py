"""The launch report: stages with timing and exposure, guardrail effects with intervals,
the sample-ratio check, the success goal, the decisions, the controls, the flag versions."""

from __future__ import annotations

from datetime import timedelta

from productpilot.db.models import Product
from productpilot.db.store import Store
from productpilot.launch import rollouts
from productpilot.launch.report import report_summary, rollout_report
from productpilot.launch.simulate import Regression
from productpilot.launch.store import flag_history
from tests.productpilot.launch.test_rollouts import (
    GUARDRAILS,
    HOUR,
    START,
    configured_product,
    control,
    start,
    step,
    traffic,
)

PLAN = {
    "stages": [
        {"percentage": 20, "min_duration_minutes": 60},
        {"percentage": 50, "min_duration_minutes": 60},
        {"percentage": 100},
    ],
    "guardrails": GUARDRAILS,
    "success_goal": {"metric": "checkout_adoption", "target": 0.2},
}


def test_the_report_of_a_rolled_back_rollout_tells_the_whole_story(
    store: Store, tenant_id: int
) -> None:
    product_id = configured_product(store, tenant_id)
    rollout_id = start(store, tenant_id, product_id, PLAN)
    traffic(store, tenant_id, product_id, START, seed=11)
    control(store, tenant_id, product_id, rollout_id, "hold", START + timedelta(minutes=10))
    control(store, tenant_id, product_id, rollout_id, "resume", START + timedelta(minutes=20))
    step(store, tenant_id, product_id, rollout_id, START + HOUR)  # on to 50%
    clock = START + HOUR
    traffic(store, tenant_id, product_id, clock, seed=12, regression=Regression(5.0))
    step(store, tenant_id, product_id, rollout_id, clock + HOUR)
    with store.tenant_session(tenant_id) as session:
        product = session.get(Product, product_id)
        rollout = rollouts.get_rollout(session, product, rollout_id)
        history = flag_history(session, product, "new-checkout")

    text = rollout_report(rollout, history)

    assert text.startswith("# Launch report: New checkout (flag new-checkout)\n")
    assert "- **Status:** rolled back: guardrail breached at stage 2 (50%): error_rate" in text
    assert "- **Serving** `on` to 20% of users (stage 1 of 3)" in text
    assert "- **Success goal:** checkout_adoption >= 0.2: reached at stage 1" in text
    stage_rows = [line for line in text.splitlines() if line.startswith("| 1 | 20% |")]
    assert len(stage_rows) == 1
    assert "| ok, p = " in stage_rows[0]
    assert stage_rows[0].endswith("| advance |")
    # The breached guardrail: effect, interval, both p-values, and the breach.
    [breach] = [line for line in text.splitlines() if "**breach:**" in line]
    assert breach.startswith("- error_rate +")
    assert "95% CI" in breach
    assert "always-valid p" in breach
    assert "Sample ratio OK" in text
    decisions = text.split("## Decisions")[1].split("## Controls")[0]
    rows = [row.split(" | ") for row in decisions.splitlines()[4:] if row]
    assert [(row[1], row[5]) for row in rows] == [
        ("start", "ann"),
        ("manual_hold", "bob"),
        ("advance", f"rollout:{rollout_id}"),
        ("rollback", f"rollout:{rollout_id}"),
    ]
    assert "success goal checkout_adoption reached" in rows[2][6]
    assert "| hold | 1 | bob | hold from the test |" in text
    versions = text.split("## Flag versions written by the rollout")[1]
    assert [row.split(" | ")[0] for row in versions.splitlines()[4:] if row] == [
        "| 2",
        "| 3",
        "| 4",
    ]
    assert report_summary(rollout)["status"] == "rolled_back"
