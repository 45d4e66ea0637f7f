"""Workflow management and automation triggers: flow runs of ProductPilot deployments.

Every operation is scoped to the caller's tenant through the run's ``tenant:<id>`` tag.
When the Prefect API cannot be reached these answer 503 with ``Retry-After``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Body, Header, Request
from pydantic import BaseModel, Field

from productpilot.api.deps import SessionDep, TenantId, TenantRegion
from productpilot.api.prefect_gateway import PrefectGateway, Workflow
from productpilot.api.problems import PROBLEM_RESPONSE
from productpilot.errors import NotFoundError
from productpilot.products import get_product

router = APIRouter(prefix="/api/v1", tags=["workflows"])

#: Automation triggers and the deployments (``flow-name/deployment-name``) they start.
TRIGGERS: dict[str, str] = {
    "feature-adoption": "feature-adoption/feature-adoption",
    "product-health": "product-health/product-health",
    "performance-optimization": "performance-optimization/performance-optimization",
    "market-opportunity": "market-opportunity/market-opportunity",
}
Trigger = Literal[
    "feature-adoption", "product-health", "performance-optimization", "market-opportunity"
]
PRODUCT_PARAMETERS = ("product_id",)
ERRORS = {
    401: PROBLEM_RESPONSE,
    404: PROBLEM_RESPONSE,
    422: PROBLEM_RESPONSE,
    503: PROBLEM_RESPONSE,
}
IdempotencyKey = Annotated[
    str | None,
    Header(
        max_length=200,
        description="Repeat a request with the same key to get the same run, not a second one.",
    ),
]


class WorkflowOut(BaseModel):
    workflow_id: UUID
    name: str
    deployment_id: UUID | None
    state: str
    state_type: str
    parameters: dict[str, Any]
    ui_url: str | None = Field(description="The run in the Prefect UI.")

    @classmethod
    def of(cls, workflow: Workflow) -> WorkflowOut:
        return cls(
            workflow_id=workflow.id,
            name=workflow.name,
            deployment_id=workflow.deployment_id,
            state=workflow.state,
            state_type=workflow.state_type,
            parameters=workflow.parameters,
            ui_url=workflow.ui_url,
        )


class CreateWorkflow(BaseModel):
    deployment: str = Field(
        # Printable names only: they travel in Prefect API URLs.
        pattern=r"^[^/\x00-\x1f\x7f]{1,200}/[^/\x00-\x1f\x7f]{1,200}$",
        examples=["import-events/import-events"],
    )
    parameters: dict[str, Any] = Field(default_factory=dict)


class StatusChange(BaseModel):
    action: Literal["cancel", "suspend", "resume"]


class ArtifactOut(BaseModel):
    key: str | None
    type: str | None
    description: str | None
    data: Any


class ResultsOut(BaseModel):
    workflow: WorkflowOut
    result: Any = Field(description="The run's return value, when it persisted one.")
    artifacts: list[ArtifactOut]


def gateway(request: Request) -> PrefectGateway:
    return request.app.state.workflows


def _check_products(session: SessionDep, parameters: dict[str, Any]) -> None:
    """A run may only name products of the caller's tenant."""
    for name in PRODUCT_PARAMETERS:
        if name in parameters:
            value = parameters[name]
            if not isinstance(value, int) or isinstance(value, bool):
                raise NotFoundError(f"no product {value!r}")
            get_product(session, value)


@router.post(
    "/automation/triggers/{trigger}",
    status_code=202,
    summary="Start an automation",
    response_model=WorkflowOut,
    responses=ERRORS,
)
async def trigger_automation(
    trigger: Trigger,
    request: Request,
    tenant_id: TenantId,
    region: TenantRegion,
    session: SessionDep,
    parameters: Annotated[dict[str, Any], Body(description="The flow's parameters.")],
    idempotency_key: IdempotencyKey = None,
) -> WorkflowOut:
    """Start the deployment behind ``trigger`` with the body as its parameters."""
    _check_products(session, parameters)
    workflow = await gateway(request).create(
        TRIGGERS[trigger], parameters, tenant_id, idempotency_key, region=region
    )
    return WorkflowOut.of(workflow)


@router.get(
    "/workflows/active",
    summary="Runs that have not finished",
    response_model=list[WorkflowOut],
    responses=ERRORS,
)
async def active_workflows(request: Request, tenant_id: TenantId) -> list[WorkflowOut]:
    """Scheduled, pending, running, paused and cancelling runs of the caller's tenant."""
    return [WorkflowOut.of(w) for w in await gateway(request).active(tenant_id)]


@router.post(
    "/workflows/create",
    status_code=202,
    summary="Start a run of a deployment",
    response_model=WorkflowOut,
    responses=ERRORS,
)
async def create_workflow(
    body: CreateWorkflow,
    request: Request,
    tenant_id: TenantId,
    region: TenantRegion,
    session: SessionDep,
    idempotency_key: IdempotencyKey = None,
) -> WorkflowOut:
    """Start a run; the parameters are checked against the deployment's schema (422)."""
    _check_products(session, body.parameters)
    workflow = await gateway(request).create(
        body.deployment, body.parameters, tenant_id, idempotency_key, region=region
    )
    return WorkflowOut.of(workflow)


@router.put(
    "/workflows/{workflow_id}/status",
    summary="Cancel, suspend or resume a run",
    response_model=WorkflowOut,
    responses={**ERRORS, 409: PROBLEM_RESPONSE},
)
async def change_workflow_status(
    workflow_id: UUID, body: StatusChange, request: Request, tenant_id: TenantId
) -> WorkflowOut:
    """Ask Prefect to move the run; 409 when its rules refuse (e.g. cancelling a finished run)."""
    return WorkflowOut.of(await gateway(request).change(workflow_id, tenant_id, body.action))


@router.get(
    "/workflows/{workflow_id}/results",
    summary="A run's state, result and artifacts",
    response_model=ResultsOut,
    responses=ERRORS,
)
async def workflow_results(workflow_id: UUID, request: Request, tenant_id: TenantId) -> ResultsOut:
    found = await gateway(request).results(workflow_id, tenant_id)
    return ResultsOut(
        workflow=WorkflowOut.of(found["workflow"]),
        result=found["result"],
        artifacts=[ArtifactOut(**artifact) for artifact in found["artifacts"]],
    )
