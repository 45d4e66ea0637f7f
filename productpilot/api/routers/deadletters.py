"""The dead-letter queue: flow runs of the caller's tenant that failed after their retries.

A dead letter is listed, shown, replayed (a new run of the same deployment with the same
parameters, started through the API's Prefect gateway and linked to the dead letter) or
discarded. Another tenant's dead letter is "not found"; replaying or discarding one that is
no longer open is 409; replaying while Prefect is unreachable is 503 with ``Retry-After``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query, Request
from pydantic import BaseModel, Field

from productpilot.api.deps import SessionDep, TenantId, TenantRegion
from productpilot.api.problems import PROBLEM_RESPONSE
from productpilot.api.routers.workflows import WorkflowOut, gateway
from productpilot.db.models import DeadLetter
from productpilot.operations import deadletters

router = APIRouter(prefix="/api/v1/dead-letters", tags=["dead letters"])

ERRORS = {401: PROBLEM_RESPONSE, 404: PROBLEM_RESPONSE, 422: PROBLEM_RESPONSE}
CHANGE_ERRORS = {**ERRORS, 409: PROBLEM_RESPONSE}
DeadLetterId = Annotated[int, Path(description="The dead letter's id.", ge=1, le=2**31 - 1)]
Status = Literal["open", "replayed", "discarded"]


class DeadLetterOut(BaseModel):
    id: int
    flow_name: str
    deployment_name: str | None = Field(description="None: the run had no deployment.")
    flow_run_id: str = Field(description="The failed Prefect flow run.")
    parameters: dict[str, Any]
    error: str
    attempts: int
    status: Status
    replay_flow_run_id: str | None = Field(description="The run that replayed it.")
    created_at: datetime
    resolved_at: datetime | None

    @classmethod
    def of(cls, row: DeadLetter) -> DeadLetterOut:
        return cls(
            id=row.id,
            flow_name=row.flow_name,
            deployment_name=row.deployment_name,
            flow_run_id=row.flow_run_id,
            parameters=row.parameters,
            error=row.error,
            attempts=row.attempts,
            status=row.status,  # type: ignore[arg-type]
            replay_flow_run_id=row.replay_flow_run_id,
            created_at=row.created_at,
            resolved_at=row.resolved_at,
        )


class ReplayOut(BaseModel):
    dead_letter: DeadLetterOut
    workflow: WorkflowOut = Field(description="The new run.")


class Discard(BaseModel):
    reason: str = Field(default="", max_length=1000, description="Why it is not replayed.")


@router.get(
    "",
    summary="Failed runs, newest first",
    response_model=list[DeadLetterOut],
    responses=ERRORS,
)
def list_dead_letters(
    session: SessionDep,
    status: Annotated[Status | None, Query(description="Only this status.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[DeadLetterOut]:
    rows = deadletters.list_dead_letters(session, status=status, limit=limit)
    return [DeadLetterOut.of(row) for row in rows]


@router.get(
    "/{dead_letter_id}", summary="One failed run", response_model=DeadLetterOut, responses=ERRORS
)
def get_dead_letter(dead_letter_id: DeadLetterId, session: SessionDep) -> DeadLetterOut:
    return DeadLetterOut.of(deadletters.get_dead_letter(session, dead_letter_id))


@router.post(
    "/{dead_letter_id}/replay",
    status_code=202,
    summary="Run it again",
    response_model=ReplayOut,
    responses={**CHANGE_ERRORS, 503: PROBLEM_RESPONSE},
)
async def replay_dead_letter(
    dead_letter_id: DeadLetterId,
    request: Request,
    tenant_id: TenantId,
    region: TenantRegion,
    session: SessionDep,
) -> ReplayOut:
    """Start the deployment again with the same parameters and mark the dead letter replayed.

    Repeating a request whose answer was lost is safe: the run is created with an
    idempotency key derived from the failed run, so the same run comes back. 409 when the
    dead letter is no longer open or its run had no deployment.
    """
    letter = deadletters.get_dead_letter(session, dead_letter_id)
    deadletters.require_open(letter, "replay")
    workflow = await gateway(request).create(
        deadletters.replay_target(letter),
        dict(letter.parameters),
        tenant_id,
        # The CLI's replay task uses the same key under the same tenant: one replay either way.
        idempotency_key=deadletters.replay_tag(letter.flow_run_id),
        extra_tags=[deadletters.replay_tag(letter.flow_run_id)],
        region=region,
    )
    letter = deadletters.mark_replayed(session, dead_letter_id, str(workflow.id), datetime.now(UTC))
    return ReplayOut(dead_letter=DeadLetterOut.of(letter), workflow=WorkflowOut.of(workflow))


@router.post(
    "/{dead_letter_id}/discard",
    summary="Close it without replaying",
    response_model=DeadLetterOut,
    responses=CHANGE_ERRORS,
)
def discard_dead_letter(
    dead_letter_id: DeadLetterId,
    session: SessionDep,
    body: Annotated[Discard | None, Body()] = None,
) -> DeadLetterOut:
    reason = body.reason if body else ""
    return DeadLetterOut.of(deadletters.discard(session, dead_letter_id, datetime.now(UTC), reason))
