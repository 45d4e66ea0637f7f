"""Progressive rollouts over the ``launches`` table: create, step, control, read.

A rollout walks one flag through its plan's stages. Each :func:`step_rollout` reads what
the current stage observed (:func:`productpilot.launch.exposure.measure_stage`), asks the
state machine (:func:`productpilot.launch.rollout.next_action`) what to do, moves the flag
through the flag store (so every percentage change is a new flag version in the audit trail,
by ``rollout:<id>``, with the decision's reason) and records the new state, the stage's
measurements and the decision in the row. Nothing here sends anything: a step returns the
flag change to announce (after commit) and the finding to route.

The row: ``plan`` holds ``{"kind": "progressive_rollout", "plan": <RolloutPlan>,
"on_variant", "off_variant"}``; ``status`` is the state's status (``running``, ``held``,
``rolled_back``, ``completed``); ``current_stage`` the stage index (-1 once rolled back to
off); ``result`` the state, the stages (start, end, outcome, last measurement), the
decision trail, the operators' controls (who, when, why) and the stage approvals.

Operators control a rollout with :func:`approve_rollout` (a stage that asks for approval;
also resumes a held rollout), :func:`hold_rollout`, :func:`resume_rollout` and
:func:`abort_rollout` (to off). Each control is recorded and acts at once: it runs a step,
so a breach found meanwhile still rolls back first.

Example:
    >>> rollout, change = create_rollout(session, product, name="New checkout",
    ...     flag_key="new-checkout", plan={"stages": [{"percentage": 10}, {"percentage": 100}]},
    ...     actor="ann", now=now)  # doctest: +SKIP
    >>> step_rollout(session, product, rollout.id, now=later).action  # doctest: +SKIP
    Advance(to_stage=1, percentage=100.0, reason='stage 1 (10%) passed its checks')
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select

from productpilot.db.models import Launch, Product
from productpilot.db.tenancy import StoreSession
from productpilot.db.types import utcnow
from productpilot.errors import ConflictError, NotFoundError, ValidationError
from productpilot.launch.exposure import StageMeasurement, check_metrics, measure_stage
from productpilot.launch.flags import set_rollout_percentage
from productpilot.launch.rollout import (
    OFF,
    Action,
    Advance,
    Complete,
    Hold,
    Rollback,
    RolloutPlan,
    RolloutState,
    apply,
    next_action,
    parse_plan,
)
from productpilot.launch.store import FlagChanged, get_flag, update_flag
from productpilot.notify.message import Finding
from productpilot.products import current_configuration
from productpilot.products.configuration import MetricDefinition

ROLLOUT_KIND = "progressive_rollout"
ACTIVE = ("running", "held")
ROLLED_BACK_EVENT = "productpilot.rollout.rolled_back"
COMPLETED_EVENT = "productpilot.rollout.completed"
Control = Literal["approve", "hold", "resume", "abort"]


@dataclass(frozen=True)
class Rollout:
    """A rollout as stored.

    Attributes:
        id: the ``launches`` row id.
        product_id: the product.
        name: what is rolled out.
        flag_key: the flag it moves.
        plan: the validated plan.
        on_variant: the variant rolled out.
        off_variant: everybody else's variant.
        state: where it is.
        started_at: when it started.
        finished_at: when it completed or rolled back.
        result: the stored record (stages, decisions, controls, approvals).
    """

    id: int
    product_id: int
    name: str
    flag_key: str
    plan: RolloutPlan
    on_variant: str
    off_variant: str
    state: RolloutState
    started_at: datetime | None
    finished_at: datetime | None
    result: dict[str, Any]

    @property
    def status(self) -> str:
        return self.state.status

    @property
    def percentage(self) -> float:
        """The share of users the flag serves the rolled-out variant now."""
        if self.state.stage_index == OFF:
            return 0.0
        return self.plan.stages[self.state.stage_index].percentage

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "product_id": self.product_id,
            "name": self.name,
            "flag_key": self.flag_key,
            "status": self.status,
            "stage": self.state.stage_index + 1 if self.state.stage_index != OFF else 0,
            "stage_count": len(self.plan.stages),
            "percentage": self.percentage,
            "stage_started_at": self.state.stage_started_at.isoformat(),
            "note": self.state.note,
            "on_variant": self.on_variant,
            "off_variant": self.off_variant,
            "plan": self.plan.model_dump(mode="json"),
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "stages": self.result.get("stages", []),
            "decisions": self.result.get("decisions", []),
            "controls": self.result.get("controls", []),
            "last_check": self.result.get("last_check"),
        }


@dataclass(frozen=True)
class StepOutcome:
    """What one step did.

    Attributes:
        rollout: the rollout after the step.
        action: the state machine's answer.
        measurement: what the stage observed (``None`` for a finished rollout).
        flag_change: the flag's new version, to announce after commit.
        finding: what to tell people (a rollback, a completion), to route.
    """

    rollout: Rollout
    action: Action
    measurement: StageMeasurement | None = None
    flag_change: FlagChanged | None = None
    finding: Finding | None = None

    @property
    def finished(self) -> bool:
        """This step completed the rollout or rolled it back."""
        return isinstance(self.action, Rollback | Complete)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rollout_id": self.rollout.id,
            "product_id": self.rollout.product_id,
            "action": _action_name(self.action),
            "reason": self.action.reason,
            "status": self.rollout.status,
            "percentage": self.rollout.percentage,
            "flag_version": self.flag_change.version if self.flag_change else None,
            "finished": self.finished,
        }


# --- reading -------------------------------------------------------------------------------


def list_rollouts(
    session: StoreSession, product: Product, *, status: str | None = None
) -> list[Rollout]:
    """The product's rollouts, newest first (optionally of one status)."""
    query = select(Launch).where(
        Launch.product_id == product.id,
        Launch.plan["kind"].as_string() == ROLLOUT_KIND,
    )
    if status is not None:
        query = query.where(Launch.status == status)
    return [_rollout(row) for row in session.scalars(query.order_by(Launch.id.desc()))]


def get_rollout(session: StoreSession, product: Product, rollout_id: int) -> Rollout:
    """One rollout of the product.

    Raises:
        NotFoundError: no such rollout (or another product's, or a release's row).
    """
    return _rollout(_row(session, product, rollout_id))


def active_rollout_ids(session: StoreSession, product: Product) -> list[int]:
    """The product's running or held rollouts, oldest first (what a flow run steps)."""
    return list(
        session.scalars(
            select(Launch.id)
            .where(
                Launch.product_id == product.id,
                Launch.plan["kind"].as_string() == ROLLOUT_KIND,
                Launch.status.in_(ACTIVE),
            )
            .order_by(Launch.id)
        )
    )


# --- creating ------------------------------------------------------------------------------


def create_rollout(
    session: StoreSession,
    product: Product,
    *,
    name: str,
    flag_key: str,
    plan: RolloutPlan | Mapping[str, Any],
    actor: str,
    now: datetime | None = None,
    on_variant: str = "on",
    off_variant: str = "off",
) -> tuple[Rollout, FlagChanged]:
    """Start a rollout: record it and set the flag to the first stage's percentage.

    Args:
        session: a tenant session.
        product: the product.
        name: what is rolled out (shown in reports and notifications).
        flag_key: an existing flag with both variants.
        plan: the rollout plan (validated here).
        actor: who started it (recorded with the rollout).
        now: the start (default: now).
        on_variant: the variant rolled out.
        off_variant: the variant everybody else gets.

    Returns:
        The rollout and the flag change to announce once committed.

    Raises:
        ValidationError: a bad plan, a guardrail naming no configured metric, a variant the
            flag lacks, or targeting a rollout cannot take over.
        NotFoundError: no such flag.
        ConflictError: the flag already has an active rollout.
    """
    session.require_tenant()
    moment = now or utcnow()
    checked = plan if isinstance(plan, RolloutPlan) else parse_plan(plan)
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise ValidationError("a rollout needs a name of 1 to 200 characters")
    flag = get_flag(session, product, flag_key)
    for variant in (on_variant, off_variant):
        if variant not in flag.definition["variants"]:
            raise ValidationError(
                f"flag '{flag_key}' has no variant '{variant}' "
                f"({', '.join(flag.definition['variants'])})"
            )
    check_metrics(checked, _metrics(session, product))
    busy = session.scalar(
        select(Launch.id).where(
            Launch.product_id == product.id,
            Launch.flag_key == flag_key,
            Launch.plan["kind"].as_string() == ROLLOUT_KIND,
            Launch.status.in_(ACTIVE),
        )
    )
    if busy is not None:
        raise ConflictError(f"flag '{flag_key}' already has an active rollout ({busy})")
    state = RolloutState.start(moment)
    first = checked.stages[0]
    row = Launch(
        product_id=product.id,
        name=name,
        flag_key=flag_key,
        status=state.status,
        current_stage=0,
        plan={
            "kind": ROLLOUT_KIND,
            "plan": checked.model_dump(mode="json"),
            "on_variant": on_variant,
            "off_variant": off_variant,
        },
        result={},
        started_at=moment,
    )
    session.add(row)
    session.flush()
    reason = f"rollout {row.id} '{name}' started: stage 1 ({first.percentage:g}%)"
    change = _set_percentage(session, product, row, first.percentage, reason)
    row.result = {
        "state": _state_json(state),
        "started_by": actor,
        "stages": [_stage_entry(0, first.percentage, moment)],
        "decisions": [_decision(moment, "start", reason, None, 0, first.percentage, change, actor)],
        "controls": [],
        "approved_stages": [],
    }
    session.flush()
    return _rollout(row), change


# --- stepping ------------------------------------------------------------------------------


def step_rollout(
    session: StoreSession,
    product: Product,
    rollout_id: int,
    *,
    now: datetime | None = None,
    command: Literal["hold", "abort"] | None = None,
    actor: str | None = None,
) -> StepOutcome:
    """Take one step: measure the stage, decide, move the flag, record.

    A stage approved earlier (:func:`approve_rollout`) is approved for every later step of
    that stage, so an approval given before the stage's minimum duration is not lost.

    Args:
        session: a tenant session (the row is locked for the step on PostgreSQL).
        product: the product.
        rollout_id: the rollout.
        now: the step's instant (default: now; tests and the demo pass a simulated clock).
        command: an operator's ``hold`` or ``abort`` for this step.
        actor: who gave a control this step carries out (the decision trail names them;
            the rollout itself, ``rollout:<id>``, otherwise).

    Returns:
        What the step did; a finished rollout answers a ``Hold`` (stopped) and changes
        nothing (an abort of a rollout already rolled back to off, likewise).
    """
    moment = now or utcnow()
    row = _row(session, product, rollout_id, lock=True)
    rollout = _rollout(row)
    if rollout.status not in ACTIVE and command != "abort":
        if rollout.status == "completed":
            return StepOutcome(rollout, Hold("the rollout has completed", kind="stopped"))
        return StepOutcome(rollout, Hold(f"rolled back: {rollout.state.note}", kind="stopped"))
    if rollout.status not in ACTIVE and rollout.state.stage_index == OFF:
        return StepOutcome(rollout, Hold("already rolled back to off", kind="stopped"))
    effective = command
    approved = rollout.state.stage_index in row.result.get("approved_stages", [])
    if effective is None and approved and rollout.status != "held":
        effective = "approve"  # type: ignore[assignment]
    measurement = None
    if rollout.status in ACTIVE:
        measurement = measure_stage(
            session,
            product.id,
            flag_key=rollout.flag_key,
            plan=rollout.plan,
            percentage=rollout.percentage,
            since=rollout.state.stage_started_at,
            until=moment,
            metrics=_metrics(session, product),
            on_variant=rollout.on_variant,
            off_variant=rollout.off_variant,
        )
        observations = measurement.observations(effective)
        action = next_action(rollout.plan, rollout.state, observations, moment)
    else:  # aborting a rollout rolled back to a stage: to off, nothing to measure
        action = Rollback("aborted by an operator", 0.0, None)
    if command == "abort" and isinstance(action, Rollback):
        # The flag's audit trail says who turned it off and why, not just "an operator".
        control = (row.result.get("controls") or [{}])[-1]
        why = f": {control['reason']}" if control.get("reason") else ""
        action = replace(action, reason=f"aborted by {control.get('actor') or actor}{why}")
    state = apply(rollout.state, action, moment)
    result = copy.deepcopy(row.result)
    change = None
    from_stage = rollout.state.stage_index
    if isinstance(action, Advance | Rollback):
        to_percentage = action.percentage if isinstance(action, Advance) else action.to_percentage
        change = _set_percentage(session, product, row, to_percentage, _flag_reason(row, action))
    if measurement is not None:
        result["last_check"] = {
            "at": moment.isoformat(),
            "action": _action_name(action),
            "reason": action.reason,
            "measurement": measurement.to_dict(),
        }
        _stage_of(result, from_stage)["measurement"] = measurement.to_dict()
    if measurement is not None and isinstance(action, Advance | Rollback | Complete):
        current = _stage_of(result, from_stage)
        current["ended_at"] = moment.isoformat()
        current["outcome"] = _action_name(action)
        current["reason"] = action.reason
    if isinstance(action, Advance):
        result["stages"].append(_stage_entry(action.to_stage, action.percentage, moment))
    to_percentage = rollout.percentage
    if isinstance(action, Advance):
        to_percentage = action.percentage
    elif isinstance(action, Rollback):
        to_percentage = action.to_percentage
    if _worth_recording(rollout.state, state, action):
        decided_by = actor or f"rollout:{row.id}"
        result["decisions"].append(
            _decision(
                moment,
                _action_name(action),
                action.reason,
                from_stage,
                state.stage_index,
                to_percentage,
                change,
                decided_by,
            )
        )
    result["state"] = _state_json(state)
    row.result = result
    row.status = state.status
    row.current_stage = state.stage_index
    if state.status in ("completed", "rolled_back") and row.finished_at is None:
        row.finished_at = moment
    session.flush()
    updated = _rollout(row)
    return StepOutcome(updated, action, measurement, change, _finding(updated, action, command))


# --- controls ------------------------------------------------------------------------------


def approve_rollout(
    session: StoreSession,
    product: Product,
    rollout_id: int,
    *,
    actor: str,
    reason: str = "",
    now: datetime | None = None,
) -> StepOutcome:
    """Approve the current stage (for a stage with ``requires_approval``) and resume a held
    rollout; then step at once.

    Raises:
        ConflictError: the rollout has completed or rolled back.
    """
    moment = now or utcnow()
    row = _controlled(session, product, rollout_id, "approve", actor, reason, moment)
    result = copy.deepcopy(row.result)
    stage = row.current_stage
    if stage not in result["approved_stages"]:
        result["approved_stages"].append(stage)
    if row.status == "held":
        result["state"] = {**result["state"], "status": "running", "note": ""}
        row.status = "running"
    row.result = result
    session.flush()
    return step_rollout(session, product, rollout_id, now=moment, actor=actor.strip())


def hold_rollout(
    session: StoreSession,
    product: Product,
    rollout_id: int,
    *,
    actor: str,
    reason: str = "",
    now: datetime | None = None,
) -> StepOutcome:
    """Hold the rollout at its percentage until approved or resumed (a breach still rolls
    back while held)."""
    moment = now or utcnow()
    _controlled(session, product, rollout_id, "hold", actor, reason, moment)
    return step_rollout(
        session, product, rollout_id, now=moment, command="hold", actor=actor.strip()
    )


def resume_rollout(
    session: StoreSession,
    product: Product,
    rollout_id: int,
    *,
    actor: str,
    reason: str = "",
    now: datetime | None = None,
) -> StepOutcome:
    """Lift an operator's hold; a stage that needs approval still waits for it.

    Raises:
        ConflictError: the rollout is not held.
    """
    moment = now or utcnow()
    row = _row(session, product, rollout_id, lock=True)
    if row.status != "held":
        raise ConflictError(f"rollout {rollout_id} is {row.status}, not held")
    row = _controlled(session, product, rollout_id, "resume", actor, reason, moment)
    result = copy.deepcopy(row.result)
    result["state"] = {**result["state"], "status": "running", "note": ""}
    row.result = result
    row.status = "running"
    session.flush()
    return step_rollout(session, product, rollout_id, now=moment, actor=actor.strip())


def abort_rollout(
    session: StoreSession,
    product: Product,
    rollout_id: int,
    *,
    actor: str,
    reason: str = "",
    now: datetime | None = None,
) -> StepOutcome:
    """Stop the rollout and turn the flag off for everybody."""
    moment = now or utcnow()
    _controlled(session, product, rollout_id, "abort", actor, reason, moment)
    return step_rollout(
        session, product, rollout_id, now=moment, command="abort", actor=actor.strip()
    )


def control_rollout(
    session: StoreSession,
    product: Product,
    rollout_id: int,
    control: Control,
    *,
    actor: str,
    reason: str = "",
    now: datetime | None = None,
) -> StepOutcome:
    """One of the four controls by name (what the API and CLI call)."""
    handler = {
        "approve": approve_rollout,
        "hold": hold_rollout,
        "resume": resume_rollout,
        "abort": abort_rollout,
    }[control]
    return handler(session, product, rollout_id, actor=actor, reason=reason, now=now)


# --- helpers -------------------------------------------------------------------------------


def _metrics(session: StoreSession, product: Product) -> dict[str, MetricDefinition]:
    return {metric.name: metric for metric in current_configuration(session, product).metrics}


def _row(session: StoreSession, product: Product, rollout_id: int, *, lock: bool = False) -> Launch:
    query = select(Launch).where(Launch.id == rollout_id, Launch.product_id == product.id)
    if lock:
        query = query.with_for_update()
    row = session.scalar(query)
    if row is None or (row.plan or {}).get("kind") != ROLLOUT_KIND:
        raise NotFoundError(f"no rollout {rollout_id} in product {product.id}")
    return row


def _rollout(row: Launch) -> Rollout:
    stored = row.plan
    state = row.result.get("state")
    return Rollout(
        id=row.id,
        product_id=row.product_id,
        name=row.name,
        flag_key=row.flag_key or "",
        plan=parse_plan(stored["plan"]),
        on_variant=stored["on_variant"],
        off_variant=stored["off_variant"],
        state=(
            RolloutState(
                stage_index=state["stage_index"],
                stage_started_at=datetime.fromisoformat(state["stage_started_at"]),
                status=state["status"],
                note=state.get("note", ""),
            )
            if state
            else RolloutState.start(row.started_at or utcnow())
        ),
        started_at=row.started_at,
        finished_at=row.finished_at,
        result=copy.deepcopy(row.result),
    )


def _controlled(
    session: StoreSession,
    product: Product,
    rollout_id: int,
    control: Control,
    actor: str,
    reason: str,
    now: datetime,
) -> Launch:
    """Record an operator's control on the rollout (refused once it is finished)."""
    actor = (actor or "").strip()
    if not actor:
        raise ValidationError("a rollout control needs an actor (who gave it)")
    row = _row(session, product, rollout_id, lock=True)
    if row.status not in ACTIVE and not (control == "abort" and row.current_stage != OFF):
        raise ConflictError(f"rollout {rollout_id} is {row.status}: nothing to {control}")
    result = copy.deepcopy(row.result)
    result["controls"].append(
        {
            "command": control,
            "actor": actor,
            "reason": (reason or "").strip(),
            "at": now.isoformat(),
            "stage": row.current_stage + 1 if row.current_stage != OFF else 0,
        }
    )
    row.result = result
    session.flush()
    return row


def _set_percentage(
    session: StoreSession, product: Product, row: Launch, percentage: float, reason: str
) -> FlagChanged:
    """Move the flag's fractional rule to ``percentage``: a new, audited flag version."""
    key = row.flag_key or ""
    flag = get_flag(session, product, key)
    document = set_rollout_percentage(
        {"flags": {key: flag.definition}},
        key,
        percentage,
        row.plan["on_variant"],
        row.plan["off_variant"],
    )
    return update_flag(
        session,
        product,
        key,
        document.flags[key].to_json(),
        actor=f"rollout:{row.id}",
        reason=reason,
        expected_version=flag.version,
    )


def _flag_reason(row: Launch, action: Advance | Rollback) -> str:
    if isinstance(action, Advance):
        return (
            f"rollout {row.id}: stage {action.to_stage + 1} ({action.percentage:g}%): "
            f"{action.reason}"
        )
    where = "off" if action.off else f"stage {action.to_stage + 1} ({action.to_percentage:g}%)"
    return f"rollout {row.id}: rolled back to {where}: {action.reason}"


def _state_json(state: RolloutState) -> dict[str, Any]:
    return {
        "stage_index": state.stage_index,
        "stage_started_at": state.stage_started_at.isoformat(),
        "status": state.status,
        "note": state.note,
    }


def _stage_entry(index: int, percentage: float, started: datetime) -> dict[str, Any]:
    return {
        "stage": index + 1,
        "percentage": percentage,
        "started_at": started.isoformat(),
        "ended_at": None,
        "outcome": None,
        "reason": None,
        "measurement": None,
    }


def _stage_of(result: dict[str, Any], index: int) -> dict[str, Any]:
    """The latest record of stage ``index`` (a rollback to a stage appends no new one)."""
    for entry in reversed(result["stages"]):
        if entry["stage"] == index + 1:
            return entry
    return result["stages"][-1]


def _decision(
    at: datetime,
    action: str,
    reason: str,
    from_stage: int | None,
    to_stage: int,
    percentage: float,
    change: FlagChanged | None,
    actor: str,
) -> dict[str, Any]:
    return {
        "at": at.isoformat(),
        "action": action,
        "reason": reason,
        "from_stage": None if from_stage is None or from_stage == OFF else from_stage + 1,
        "to_stage": 0 if to_stage == OFF else to_stage + 1,
        "percentage": percentage,
        "flag_version": change.version if change else None,
        "actor": actor,
    }


def _worth_recording(before: RolloutState, after: RolloutState, action: Action) -> bool:
    """Decisions that changed something: waiting holds are the rollout's pulse, not news
    (the last check keeps the latest one)."""
    if isinstance(action, Advance | Rollback | Complete):
        return before != after or isinstance(action, Rollback)
    return before.status != after.status


def _action_name(action: Action) -> str:
    if isinstance(action, Advance):
        return "advance"
    if isinstance(action, Rollback):
        return "rollback"
    if isinstance(action, Complete):
        return "complete"
    return "hold" if action.kind != "manual" else "manual_hold"


def _finding(rollout: Rollout, action: Action, command: str | None) -> Finding | None:
    """A rollback (critical, opens one ticket per rollout) or completion (info) to route."""
    facts = (
        ("rollout", f"{rollout.id} ({rollout.name})"),
        ("flag", rollout.flag_key),
        ("percentage now", f"{rollout.percentage:g}%"),
    )
    if isinstance(action, Rollback):
        aborted = command == "abort"
        return Finding(
            kind=ROLLED_BACK_EVENT,
            severity="warning" if aborted else "critical",
            product_id=rollout.product_id,
            subject=f"Rollout '{rollout.name}' rolled back: {action.reason}",
            text=(
                f"The rollout of flag {rollout.flag_key} was "
                f"{'aborted' if aborted else 'rolled back automatically'}: {action.reason}. "
                f"The flag now serves {rollout.on_variant} to {action.to_percentage:g}% of "
                "users."
            ),
            # One problem per rollout: a later finding about it folds into the same ticket.
            dedupe_key=f"rollout:{rollout.id}:rolled-back",
            facts=facts,
            occurred_at=rollout.state.stage_started_at,
            ticket=not aborted,
        )
    if isinstance(action, Complete) and rollout.status == "completed":
        return Finding(
            kind=COMPLETED_EVENT,
            severity="info",
            product_id=rollout.product_id,
            subject=f"Rollout '{rollout.name}' completed",
            text=f"Flag {rollout.flag_key} serves {rollout.on_variant} to everybody: "
            f"{action.reason}.",
            dedupe_key=f"rollout:{rollout.id}:completed",
            facts=facts,
            occurred_at=rollout.finished_at,
        )
    return None
