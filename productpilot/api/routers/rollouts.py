"""``/api/v1/products/{id}/rollouts``: progressive rollouts and the people who steer them.

``POST /rollouts`` starts a rollout of an existing flag with a plan (stages, guardrails, an
optional success goal; see :mod:`productpilot.launch.rollout`): the flag moves to the first
stage's percentage at once. The ``progressive-rollout`` flow steps every active rollout
every few minutes; the controls act at once:

* ``POST /rollouts/{rid}/approve`` approves the current stage (a stage with
  ``requires_approval`` waits for it) and resumes a held rollout;
* ``POST /rollouts/{rid}/hold`` keeps the current percentage until approve or resume (a
  guardrail breach still rolls back);
* ``POST /rollouts/{rid}/resume`` lifts a hold;
* ``POST /rollouts/{rid}/abort`` turns the flag off for everybody.

Each control is recorded with the caller's API key prefix, the time and the reason, and
each flag move is a new flag version by ``rollout:<rid>`` announced as
``productpilot.flag.changed``. ``GET /rollouts/{rid}/report`` is the launch report
(Markdown). Errors are problem+json: 404 for an unknown rollout, 409 for a control on a
finished rollout (or a second rollout of a flag), 422 for a bad plan.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field

from productpilot.api.deps import ProductDep, SessionDep, StoreDep, TenantId
from productpilot.api.problems import PROBLEM_RESPONSE
from productpilot.api.routers.flags import Actor, Emitter, OwnedProductId
from productpilot.db.types import utcnow
from productpilot.launch.report import rollout_report
from productpilot.launch.rollouts import (
    Rollout,
    StepOutcome,
    control_rollout,
    create_rollout,
    get_rollout,
    list_rollouts,
)
from productpilot.launch.store import announce, flag_history
from productpilot.notify.router import route
from productpilot.products import get_product

router = APIRouter(prefix="/api/v1/products/{product_id}", tags=["rollouts"])

READ_ERRORS: dict[int | str, dict[str, Any]] = {401: PROBLEM_RESPONSE, 404: PROBLEM_RESPONSE}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **READ_ERRORS,
    409: PROBLEM_RESPONSE,
    422: PROBLEM_RESPONSE,
}
RolloutId = Annotated[int, Path(description="The rollout's id.", ge=1, le=2**31 - 1)]


class RolloutIn(BaseModel):
    name: str = Field(min_length=1, max_length=200, examples=["New checkout"])
    flag_key: str = Field(max_length=200, examples=["new-checkout"])
    plan: dict[str, Any] = Field(
        description="The rollout plan: stages, guardrails, success_goal, rollback_to.",
        examples=[
            {
                "stages": [
                    {"percentage": 10, "min_duration_minutes": 60, "min_exposure": 100},
                    {"percentage": 50, "min_duration_minutes": 120, "requires_approval": True},
                    {"percentage": 100},
                ],
                "guardrails": [
                    {"metric": "error_rate", "kind": "error_rate", "max_relative_change": 0.2}
                ],
            }
        ],
    )
    on_variant: str = Field(default="on", max_length=200)
    off_variant: str = Field(default="off", max_length=200)


class ControlIn(BaseModel):
    reason: str = Field(default="", max_length=2000, description="Why: recorded.")


class RolloutOut(BaseModel):
    id: int
    product_id: int
    name: str
    flag_key: str
    status: str = Field(description="running, held, rolled_back or completed.")
    stage: int = Field(description="The current stage (1-based); 0 once rolled back to off.")
    stage_count: int
    percentage: float = Field(description="The share of users served on_variant now.")
    stage_started_at: str
    note: str
    on_variant: str
    off_variant: str
    plan: dict[str, Any]
    started_at: str | None
    finished_at: str | None
    stages: list[dict[str, Any]]
    decisions: list[dict[str, Any]]
    controls: list[dict[str, Any]]
    last_check: dict[str, Any] | None

    @classmethod
    def of(cls, rollout: Rollout) -> RolloutOut:
        return cls(**rollout.to_dict())


class StepOut(BaseModel):
    action: str = Field(description="advance, hold, manual_hold, rollback or complete.")
    reason: str
    rollout: RolloutOut


def _committed(
    store: StoreDep,
    tenant_id: int,
    product_id: int,
    rollout_id: int,
    control: Literal["approve", "hold", "resume", "abort"],
    actor: str,
    reason: str,
    emitter: Any,
) -> StepOut:
    # Our own transaction: the flag event goes out after the commit, and a rollback's
    # finding is routed into the outbox in the same transaction as the rollback.
    with store.tenant_session(tenant_id) as session:
        product = get_product(session, product_id)
        outcome: StepOutcome = control_rollout(
            session, product, rollout_id, control, actor=actor, reason=reason
        )
        if outcome.finding is not None:
            route(session, product, [outcome.finding], now=utcnow())
    if outcome.flag_change is not None:
        announce(emitter, outcome.flag_change)
    return StepOut(
        action=outcome.to_dict()["action"],
        reason=outcome.action.reason,
        rollout=RolloutOut.of(outcome.rollout),
    )


@router.get(
    "/rollouts",
    summary="List the product's rollouts",
    response_model=list[RolloutOut],
    responses=READ_ERRORS,
)
def get_rollouts(
    session: SessionDep,
    product: ProductDep,
    status: Annotated[
        Literal["running", "held", "rolled_back", "completed"] | None,
        Query(description="Only rollouts in this status."),
    ] = None,
) -> list[RolloutOut]:
    """The product's rollouts, newest first."""
    return [RolloutOut.of(rollout) for rollout in list_rollouts(session, product, status=status)]


@router.post(
    "/rollouts",
    status_code=201,
    summary="Start a progressive rollout of a flag",
    response_model=RolloutOut,
    responses=WRITE_ERRORS,
)
def post_rollout(
    body: RolloutIn,
    product_id: OwnedProductId,
    store: StoreDep,
    tenant_id: TenantId,
    actor: Actor,
    emitter: Emitter,
    response: Response,
) -> RolloutOut:
    """Validate the plan, record the rollout and move the flag to the first stage."""
    with store.tenant_session(tenant_id) as session:
        rollout, change = create_rollout(
            session,
            get_product(session, product_id),
            name=body.name,
            flag_key=body.flag_key,
            plan=body.plan,
            actor=actor,
            on_variant=body.on_variant,
            off_variant=body.off_variant,
        )
    announce(emitter, change)
    response.headers["Location"] = f"/api/v1/products/{product_id}/rollouts/{rollout.id}"
    return RolloutOut.of(rollout)


@router.get(
    "/rollouts/{rollout_id}",
    summary="Read a rollout",
    response_model=RolloutOut,
    responses=READ_ERRORS,
)
def get_one_rollout(rollout_id: RolloutId, session: SessionDep, product: ProductDep) -> RolloutOut:
    """The rollout: its state, stages with their measurements, decisions and controls."""
    return RolloutOut.of(get_rollout(session, product, rollout_id))


@router.get(
    "/rollouts/{rollout_id}/report",
    summary="The rollout's launch report (Markdown)",
    response_class=Response,
    responses={200: {"content": {"text/markdown": {}}}, **READ_ERRORS},
)
def get_rollout_report(rollout_id: RolloutId, session: SessionDep, product: ProductDep) -> Response:
    """Stages, guardrail effects with confidence intervals, SRM, the decision trail."""
    rollout = get_rollout(session, product, rollout_id)
    text = rollout_report(rollout, flag_history(session, product, rollout.flag_key))
    return Response(text, media_type="text/markdown; charset=utf-8")


def _control_endpoint(
    control: Literal["approve", "hold", "resume", "abort"], summary: str, doc: str
) -> None:
    def endpoint(
        rollout_id: RolloutId,
        product_id: OwnedProductId,
        store: StoreDep,
        tenant_id: TenantId,
        actor: Actor,
        emitter: Emitter,
        body: ControlIn | None = None,
    ) -> StepOut:
        reason = body.reason if body is not None else ""
        return _committed(store, tenant_id, product_id, rollout_id, control, actor, reason, emitter)

    endpoint.__name__ = f"post_rollout_{control}"
    endpoint.__doc__ = doc
    router.post(
        f"/rollouts/{{rollout_id}}/{control}",
        summary=summary,
        response_model=StepOut,
        responses=WRITE_ERRORS,
    )(endpoint)


_control_endpoint(
    "approve",
    "Approve the current stage",
    "Approve the current stage (kept for the stage) and resume a held rollout; steps at once.",
)
_control_endpoint(
    "hold",
    "Hold the rollout",
    "Keep the current percentage until approve or resume; a breach still rolls back.",
)
_control_endpoint("resume", "Resume a held rollout", "Lift a hold (409 if not held).")
_control_endpoint("abort", "Abort the rollout", "Turn the flag off for everybody and stop.")
