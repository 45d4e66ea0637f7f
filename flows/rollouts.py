"""Progressive rollouts: one step of every active rollout per run, the controls, and the
demo's rollout.

Why one step per run (every five minutes, ``prefect.yaml``) rather than one long run per
rollout that sleeps between stages: a stage lasts hours or days, and a run that waits holds
a worker slot and a tenant slot the whole time; a deployment restart or a crashed worker
would also lose the wait. A step reads the rollout's state from the store, decides, moves
the flag and exits, so nothing waits on a worker, a missed run is simply caught up by the
next one, and an operator's approve, hold or abort (the API, or the ``control-rollout``
deployment run from the Prefect UI) takes effect at once and is seen by the next step. The
same reasoning rules out ``pause_flow_run(wait_for_input=...)`` for approvals: a paused run
still counts against concurrency and times out; a stage that asks for approval just holds
(``waiting for approval``) until someone approves it, and each run shows that in its log.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from prefect import flow

from productpilot.eventbus import product_id_of
from productpilot.launch.simulate import DEMO_FLAG, DEMO_FLAG_DEFINITION, DEMO_PLAN
from tasks.fairness import fair_share
from tasks.notify import deliver_through_vendors, route_findings
from tasks.rollouts import (
    control,
    publish_rollout_reports,
    simulate_rollout_traffic,
    start_rollout,
    step_rollouts,
)


@flow(name="progressive-rollout", log_prints=True)
@fair_share
def progressive_rollout_flow(
    product_ids: list[int] | None = None,
    now: datetime | None = None,
    product: str | None = None,
) -> dict[str, Any]:
    """Step every running or held rollout once; notify about rollbacks (a critical finding
    that opens one ticket per rollout) and completions, and publish the launch report of
    each rollout that finished.

    Args:
        product_ids: Products whose rollouts to step (default: all).
        now: The step's instant (default: now; the demo and tests pass a simulated clock).
        product: One product, as its id or event resource id (``productpilot.product.<id>``).

    Returns:
        ``steps`` (one per rollout stepped) and ``reports`` (the reports published).
    """
    if product is not None:
        product_ids = [product_id_of(product)]
    outcomes = step_rollouts(product_ids, now)
    findings = [outcome["finding"] for outcome in outcomes if outcome.get("finding")]
    if findings:
        route_findings(findings, now)
        deliver_through_vendors(sorted({finding.product_id for finding in findings}), now)
    finished = [outcome for outcome in outcomes if outcome.get("finished")]
    reports = publish_rollout_reports(finished) if finished else []
    for outcome in outcomes:
        if "error" in outcome:
            print(f"rollout {outcome['rollout_id']}: not stepped: {outcome['error']}")
        else:
            print(
                f"rollout {outcome['rollout_id']}: {outcome['action']} "
                f"({outcome['percentage']:g}%): {outcome['reason']}"
            )
    steps = [{k: v for k, v in outcome.items() if k != "finding"} for outcome in outcomes]
    return {"steps": steps, "reports": reports}


@flow(name="control-rollout", log_prints=True)
@fair_share
def control_rollout_flow(
    product: str,
    rollout_id: int,
    command: Literal["approve", "hold", "resume", "abort"],
    actor: str,
    reason: str = "",
) -> dict[str, Any]:
    """Approve, hold, resume or abort a rollout from the Prefect UI: run the
    ``control-rollout`` deployment with these parameters (the API's
    ``POST /api/v1/products/{id}/rollouts/{rid}/<command>`` does the same).

    Args:
        product: The product's id or event resource id (``productpilot.product.<id>``).
        rollout_id: The rollout.
        command: What to do; ``abort`` turns the flag off for everybody.
        actor: Who decided (recorded in the rollout's decisions and the flag's audit trail).
        reason: Why.
    """
    product_id = product_id_of(product)
    outcome = control(product_id, rollout_id, command, actor, reason)
    deliver_through_vendors([product_id])
    print(f"rollout {rollout_id}: {command} by {actor}: {outcome['action']}")
    return outcome


@flow(name="demo-rollout", log_prints=True)
def demo_rollout(
    product_id: int,
    regression_stage: int | None = 3,
    users: int = 1000,
    seed: int = 7,
) -> dict[str, Any]:
    """Run the demo's progressive rollout of ``new-checkout`` on a simulated clock.

    Creates the flag if the product lacks it, starts a rollout with
    :data:`~productpilot.launch.simulate.DEMO_PLAN` (four one-hour stages, 10 → 100 %,
    guarded by the demo product's ``error_rate``, ``latency_p95`` and ``conversion_rate``
    metrics), and for each stage writes an hour of synthetic traffic bucketed by the flag
    as served, then runs :func:`progressive_rollout_flow` at the end of the hour. The clock
    ends at the present, so every event is in the past. With ``regression_stage`` the
    treatment arm's error rate is five times higher from that stage on: the rollout rolls
    back to the previous stage, a ticket and a notification land in the outbox.

    Returns:
        ``rollout_id``, ``status``, ``percentage``, ``report`` (the launch report's path),
        and the ``steps`` taken.
    """
    minutes = [stage["min_duration_minutes"] for stage in DEMO_PLAN["stages"]]
    clock = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=sum(minutes) + 5)
    started = start_rollout(
        product_id,
        DEMO_FLAG,
        "New checkout",
        DEMO_PLAN,
        actor="demo",
        now=clock,
        definition=DEMO_FLAG_DEFINITION,
    )
    rollout_id = started["rollout_id"]
    stage, steps, report = 1, [], None
    status, percentage = started["status"], started["percentage"]
    for window in minutes:
        end = clock + timedelta(minutes=window)
        broken = regression_stage is not None and stage >= regression_stage
        simulate_rollout_traffic(
            product_id,
            DEMO_FLAG,
            clock,
            end,
            seed + stage,
            users,
            {"error_rate_factor": 5.0} if broken else None,
        )
        clock = end + timedelta(minutes=1)
        result = progressive_rollout_flow([product_id], now=clock)
        mine = [s for s in result["steps"] if s.get("rollout_id") == rollout_id]
        steps += mine
        if mine:
            status, percentage = mine[-1].get("status", status), mine[-1].get("percentage")
        report = next(
            (r["report"] for r in result["reports"] if r["rollout_id"] == rollout_id), report
        )
        if not mine or mine[-1].get("finished"):
            break
        if mine[-1]["action"] == "advance":
            stage += 1
    print(f"rollout {rollout_id}: {status} at {percentage}%; report {report}")
    return {
        "rollout_id": rollout_id,
        "status": status,
        "percentage": percentage,
        "report": report,
        "steps": steps,
    }
