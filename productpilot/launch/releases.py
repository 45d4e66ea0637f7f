"""Releases: their record in ``launches``, the promotion rule, and where a rollback goes.

A release is one ``launches`` row named ``release <version>`` whose ``plan`` says what ships
(``{"kind": "release", "version", "ref", "sha", "environments", "previous_version",
"since"}``) and whose ``result`` says what happened: each environment's deployment (its
GitHub id, or ``None`` when recorded locally only) with every status it went through, the
quality-gate check, the approval, and the promotion decision. ``status`` moves
``running`` → ``released`` (production reached), ``blocked`` (gates), ``rejected`` (no
approval), ``failed`` (a deployment failed) or, later, ``rolled_back``; ``current_stage``
is the index of the last environment the release reached. A rollback is a row of its own
(``rollback <environment> to v<version>``, plan kind ``rollback``) that ends
``completed`` or ``failed``.

The rules:

* **Promotion** into production (the last environment) needs the sha's quality gates to
  pass: with gates configured, the latest verdict recorded for the sha must have passed (no
  verdict yet is a block, never a pass). A product without gates promotes, and the decision
  says so. With ``require_approval``, it also waits for a person.
* **Rollback** goes to the newest release before the current one that reached production
  and was not itself rolled back, with a different sha.

Example:
    >>> decision = promotion_decision(GateCheck(True, True, "3 gates passed"),
    ...                               require_approval=False)
    >>> decision.promote, decision.reason
    (True, 'quality gates passed: 3 gates passed')
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select

from productpilot.db.models import Launch, Product
from productpilot.db.tenancy import StoreSession
from productpilot.db.types import utcnow
from productpilot.errors import NotFoundError, ValidationError
from productpilot.launch.notes import plain_version
from productpilot.quality.history import latest_verdict

RELEASE = "release"
ROLLBACK = "rollback"
ReleaseStatus = Literal[
    "running", "released", "blocked", "rejected", "failed", "rolled_back", "completed"
]
DeploymentState = Literal[
    "error", "failure", "inactive", "in_progress", "queued", "pending", "success"
]
#: Release states that end it.
FINISHED: frozenset[str] = frozenset(
    {"released", "blocked", "rejected", "failed", "rolled_back", "completed"}
)


# --- the rules (pure) ---------------------------------------------------------------------


@dataclass(frozen=True)
class GateCheck:
    """What the quality gates say about a sha.

    Attributes:
        configured: Whether the product has gates at all.
        passed: Whether the latest verdict for the sha passed (``None``: no verdict yet).
        summary: One line for people.
        evaluated_at: When the verdict was reached (ISO 8601), if there is one.
    """

    configured: bool
    passed: bool | None
    summary: str
    evaluated_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PromotionDecision:
    """Whether a release may go on into production, and why.

    Attributes:
        promote: The gates allow it (and, when ``needs_approval``, a person must still say
            yes before it happens).
        needs_approval: Promotion waits for an approval.
        reason: One line for people and the record.
    """

    promote: bool
    needs_approval: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ApprovalDecision:
    """The answer to an approval request.

    Attributes:
        approved: Whether promotion goes ahead.
        approver: Who answered (``None`` when nobody did).
        comment: What they said.
        reason: One line for the record.
    """

    approved: bool
    approver: str | None
    comment: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def promotion_decision(gates: GateCheck, *, require_approval: bool) -> PromotionDecision:
    """The promotion rule: gates configured must have passed for the sha.

    Example:
        >>> promotion_decision(GateCheck(True, None, "no verdict"), require_approval=True)
        PromotionDecision(promote=False, needs_approval=False, reason='no quality-gate verdict for this commit yet: no verdict')
    """  # noqa: E501
    if not gates.configured:
        return PromotionDecision(True, require_approval, "no quality gates are configured")
    if gates.passed is None:
        return PromotionDecision(
            False, False, f"no quality-gate verdict for this commit yet: {gates.summary}"
        )
    if not gates.passed:
        return PromotionDecision(False, False, f"quality gates failed: {gates.summary}")
    return PromotionDecision(True, require_approval, f"quality gates passed: {gates.summary}")


def approval_decision(
    answer: Mapping[str, Any] | None, *, timeout_seconds: float | None = None
) -> ApprovalDecision:
    """What an approval answer means; no answer (the wait timed out) is a rejection.

    Args:
        answer: The run input given in the Prefect UI (``approve``, ``approver``,
            ``comment``), or ``None`` when nobody answered.
        timeout_seconds: How long the run waited, for the reason of a timeout.

    Example:
        >>> approval_decision({"approve": True, "approver": "dana", "comment": ""}).reason
        'approved by dana'
        >>> approval_decision(None, timeout_seconds=3600).reason
        'nobody approved the promotion within 60 minutes'
    """
    if answer is None:
        waited = f" within {_duration(timeout_seconds)}" if timeout_seconds is not None else ""
        return ApprovalDecision(False, None, "", f"nobody approved the promotion{waited}")
    approver = str(answer.get("approver") or "").strip() or "someone unnamed"
    comment = str(answer.get("comment") or "").strip()
    if answer.get("approve"):
        return ApprovalDecision(True, approver, comment, f"approved by {approver}")
    said = f": {comment}" if comment else ""
    return ApprovalDecision(False, approver, comment, f"rejected by {approver}{said}")


def _duration(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} minutes"
    return f"{seconds:g} seconds"


# --- quality gates from the store -----------------------------------------------------------


def gate_check(
    session: StoreSession, product: Product, sha: str, *, gates_configured: bool
) -> GateCheck:
    """What the newest quality-gate verdict on ``sha`` says (:mod:`productpilot.quality.history`,
    written by the ``quality-gate`` flow): passed, failed, or not yet (``passed`` is ``None``)
    when the commit was never evaluated or its gates still wait for checks or reviews.
    """
    verdict = latest_verdict(session, product.id, sha)
    if verdict is None:
        return GateCheck(gates_configured, None, f"nothing recorded for {sha[:12]}")
    title = verdict.summary.split("\n", 1)[0]
    at = verdict.evaluated_at.isoformat()
    if verdict.outcome == "pending":
        return GateCheck(gates_configured, None, f"still pending: {title}", at)
    return GateCheck(gates_configured, verdict.outcome == "passed", title, at)


# --- the record ---------------------------------------------------------------------------


def release_name(version: str) -> str:
    """``release v1.2.0`` for ``1.2.0`` or ``v1.2.0``."""
    return f"release v{plain_version(version)}"


def start_release(
    session: StoreSession,
    product: Product,
    *,
    version: str,
    ref: str,
    sha: str,
    environments: Sequence[str],
    previous_version: str | None = None,
    since: datetime | None = None,
    now: datetime | None = None,
) -> Launch:
    """Record a new release of ``sha`` (``ref``) through ``environments``, running.

    Raises:
        ValidationError: no environments, or no version, ref or sha.
    """
    if not environments:
        raise ValidationError("a release needs at least one environment")
    if not plain_version(version) or not ref.strip() or not sha.strip():
        raise ValidationError("a release needs a version, a ref and a sha")
    moment = now or utcnow()
    launch = Launch(
        product_id=product.id,
        name=release_name(version),
        status="running",
        current_stage=0,
        plan={
            "kind": RELEASE,
            "version": plain_version(version),
            "ref": ref,
            "sha": sha,
            "environments": list(environments),
            "previous_version": plain_version(previous_version) if previous_version else None,
            "since": since.isoformat() if since else None,
        },
        result={"deployments": [], "events": []},
        started_at=moment,
    )
    session.add(launch)
    session.flush()
    return launch


def get_release(session: StoreSession, product: Product, launch_id: int) -> Launch:
    """The release or rollback ``launch_id`` of ``product``.

    Raises:
        NotFoundError: there is none.
    """
    launch = session.get(Launch, launch_id)
    if launch is None or launch.product_id != product.id or _kind(launch) is None:
        raise NotFoundError(f"release {launch_id} not found")
    return launch


def record_deployment(
    session: StoreSession,
    launch: Launch,
    environment: str,
    *,
    deployment_id: int | None,
    sha: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Add the deployment of ``launch`` to ``environment`` (``deployment_id`` ``None``: not
    on GitHub, recorded here only); returns its entry."""
    entry = {
        "environment": environment,
        "deployment_id": deployment_id,
        "sha": sha,
        "recorded_on_github": deployment_id is not None,
        "created_at": (now or utcnow()).isoformat(),
        "statuses": [],
    }
    result = _result(launch)
    result["deployments"].append(entry)
    launch.result = result
    session.flush()
    return entry


def record_status(
    session: StoreSession,
    launch: Launch,
    environment: str,
    state: DeploymentState,
    description: str = "",
    *,
    now: datetime | None = None,
) -> None:
    """Append ``state`` to the newest deployment of ``launch`` to ``environment``; a
    ``success`` moves ``current_stage`` to that environment.

    Raises:
        ValidationError: ``launch`` has no deployment to ``environment``.
    """
    result = _result(launch)
    entry = _deployment(result, environment)
    entry["statuses"].append(
        {"state": state, "description": description, "at": (now or utcnow()).isoformat()}
    )
    launch.result = result
    environments = list(launch.plan.get("environments") or [environment])
    if state == "success" and environment in environments:
        launch.current_stage = max(launch.current_stage, environments.index(environment))
    session.flush()


def record_step(session: StoreSession, launch: Launch, key: str, value: Mapping[str, Any]) -> None:
    """Store a step's outcome (``gates``, ``decision``, ``approval``, ``notes``) in the
    release's result."""
    result = _result(launch)
    result[key] = dict(value)
    launch.result = result
    session.flush()


def finish_release(
    session: StoreSession,
    launch: Launch,
    status: ReleaseStatus,
    reason: str = "",
    *,
    now: datetime | None = None,
) -> None:
    """End ``launch`` as ``status``, with the reason people read."""
    moment = now or utcnow()
    result = _result(launch)
    result["events"].append({"status": status, "reason": reason, "at": moment.isoformat()})
    result["outcome"] = reason
    launch.result = result
    launch.status = status
    launch.finished_at = moment
    session.flush()


def deployment_states(launch: Launch) -> dict[str, list[str]]:
    """Each environment's deployment states in order, e.g. ``{"staging": ["in_progress",
    "success"]}`` (the newest deployment per environment)."""
    found: dict[str, list[str]] = {}
    for entry in launch.result.get("deployments", []):
        found[entry["environment"]] = [status["state"] for status in entry["statuses"]]
    return found


def reached(launch: Launch, environment: str) -> bool:
    """Whether ``launch`` deployed successfully to ``environment``."""
    return "success" in deployment_states(launch).get(environment, [])


def releases(session: StoreSession, product: Product, *, limit: int = 100) -> list[Launch]:
    """The product's releases and rollbacks, newest first."""
    rows = session.scalars(
        select(Launch)
        .where(Launch.product_id == product.id, Launch.flag_key.is_(None))
        .order_by(Launch.id.desc())
        .limit(limit * 4)
    ).all()
    return [row for row in rows if _kind(row) is not None][:limit]


@dataclass(frozen=True)
class RollbackPlan:
    """Where a rollback of one environment goes.

    Attributes:
        environment: The environment rolled back.
        current: The release running there now (it becomes ``rolled_back``).
        target: The release whose sha is deployed again.
    """

    environment: str
    current: Launch
    target: Launch


def rollback_plan(session: StoreSession, product: Product, environment: str) -> RollbackPlan:
    """The release live in ``environment`` and the earlier one to go back to.

    The live release is the newest that reached ``environment`` and is not rolled back;
    the target is the newest before it that did the same with another sha.

    Raises:
        ValidationError: nothing was released there, or there is no earlier release.
    """
    candidates = [
        launch
        for launch in releases(session, product, limit=1000)
        if _kind(launch) == RELEASE
        and launch.status != "rolled_back"
        and reached(launch, environment)
    ]
    if not candidates:
        raise ValidationError(f"nothing has been released to {environment}: no rollback")
    current, *earlier = candidates
    target = next((r for r in earlier if r.plan.get("sha") != current.plan.get("sha")), None)
    if target is None:
        raise ValidationError(
            f"{current.name} is the only release of its commit in {environment}: "
            "there is no earlier release to roll back to"
        )
    return RollbackPlan(environment, current, target)


def start_rollback(
    session: StoreSession,
    product: Product,
    plan: RollbackPlan,
    reason: str,
    *,
    now: datetime | None = None,
) -> Launch:
    """Record the rollback of ``plan.current`` to ``plan.target``, running."""
    moment = now or utcnow()
    launch = Launch(
        product_id=product.id,
        name=f"rollback {plan.environment} to v{plan.target.plan['version']}",
        status="running",
        current_stage=0,
        plan={
            "kind": ROLLBACK,
            "environment": plan.environment,
            "environments": [plan.environment],
            "version": plan.target.plan["version"],
            "sha": plan.target.plan["sha"],
            "ref": plan.target.plan["ref"],
            "from_release": plan.current.id,
            "from_version": plan.current.plan["version"],
            "to_release": plan.target.id,
            "reason": reason,
        },
        result={"deployments": [], "events": []},
        started_at=moment,
    )
    session.add(launch)
    session.flush()
    return launch


def latest_deployment_id(launch: Launch, environment: str) -> int | None:
    """The GitHub id of ``launch``'s newest deployment to ``environment``, if it has one."""
    for entry in reversed(launch.result.get("deployments", [])):
        if entry["environment"] == environment:
            return entry.get("deployment_id")
    return None


def summary(launch: Launch) -> dict[str, Any]:
    """A JSON-ready view of a release or rollback."""
    return {
        "id": launch.id,
        "name": launch.name,
        "kind": _kind(launch),
        "status": launch.status,
        "current_stage": launch.current_stage,
        "plan": dict(launch.plan),
        "deployments": deployment_states(launch),
        "decision": launch.result.get("decision"),
        "approval": launch.result.get("approval"),
        "gates": launch.result.get("gates"),
        "outcome": launch.result.get("outcome"),
        "started_at": launch.started_at.isoformat() if launch.started_at else None,
        "finished_at": launch.finished_at.isoformat() if launch.finished_at else None,
    }


def _kind(launch: Launch) -> str | None:
    kind = (launch.plan or {}).get("kind")
    return kind if kind in (RELEASE, ROLLBACK) else None


def _result(launch: Launch) -> dict[str, Any]:
    """A copy of the result to change and assign back: JSON columns track assignment,
    not changes inside them."""
    result = copy.deepcopy(dict(launch.result or {}))
    result.setdefault("deployments", [])
    result.setdefault("events", [])
    return result


def _deployment(result: dict[str, Any], environment: str) -> dict[str, Any]:
    for entry in reversed(result["deployments"]):
        if entry["environment"] == environment:
            return entry
    raise ValidationError(f"no deployment to {environment} recorded for this release")
