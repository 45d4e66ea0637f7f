"""The API's window on Prefect: creating, listing, steering and reading flow runs.

A *workflow* is a Prefect flow run of a ProductPilot deployment. Runs the API creates carry
the tags ``productpilot`` and ``tenant:<id>``; that tag is what scopes every read and
change to the caller's tenant (another tenant's run is "not found").

When Prefect cannot be reached, every method raises :class:`PrefectUnavailable`, which the
API answers with 503 and ``Retry-After``; the rest of the API keeps working.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

import httpx
from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
    FlowRunFilterTags,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.exceptions import MissingResult, ObjectNotFound, PrefectHTTPStatusError
from prefect.states import Cancelled, Cancelling, Suspended
from prefect.utilities.schema_tools.validation import ValidationError as SchemaError
from prefect.utilities.schema_tools.validation import validate

from productpilot.errors import ConflictError, NotFoundError, UnavailableError, ValidationError
from productpilot.tenants import regional_queue

ACTIVE_STATES = [
    StateType.SCHEDULED,
    StateType.PENDING,
    StateType.RUNNING,
    StateType.PAUSED,
    StateType.CANCELLING,
]
PRODUCT_TAG = "productpilot"


class PrefectUnavailable(UnavailableError):  # noqa: N818 (reads as a condition)
    """The Prefect API did not answer (or is not configured)."""


class TransitionRefused(ConflictError):  # noqa: N818
    """Prefect's orchestration rules refused the requested state change."""


def tenant_tag(tenant_id: int) -> str:
    return f"tenant:{tenant_id}"


@dataclass(frozen=True, slots=True)
class Workflow:
    id: UUID
    name: str
    deployment_id: UUID | None
    state: str
    state_type: str
    parameters: dict[str, Any]
    tags: list[str]
    ui_url: str | None

    @classmethod
    def of(cls, run: FlowRun, ui_base: str | None) -> Workflow:
        return cls(
            id=run.id,
            name=run.name,
            deployment_id=run.deployment_id,
            state=run.state.name if run.state else "Unknown",
            state_type=run.state.type.value if run.state else "UNKNOWN",
            parameters=dict(run.parameters),
            tags=list(run.tags),
            ui_url=f"{ui_base}/runs/flow-run/{run.id}" if ui_base else None,
        )


class PrefectGateway:
    """Flow-run operations against one Prefect API.

    Args:
        api_url: The Prefect API, e.g. ``http://127.0.0.1:4200/api``. None means none is
            configured: every operation answers "unavailable" rather than starting an
            ephemeral server inside the API process.
        ui_url: Base of the Prefect UI for links (default: ``api_url`` without ``/api``).
    """

    def __init__(self, api_url: str | None, ui_url: str | None = None, timeout: float = 10):
        self.api_url = api_url.rstrip("/") if api_url else None
        self.ui_url = ui_url or (self.api_url.removesuffix("/api") if self.api_url else None)
        self._timeout = timeout

    @asynccontextmanager
    async def _client(self) -> AsyncIterator[PrefectClient]:
        if not self.api_url:
            raise PrefectUnavailable("no Prefect API is configured (PRODUCTPILOT_PREFECT_API_URL)")
        try:
            async with PrefectClient(
                self.api_url, httpx_settings={"timeout": self._timeout}
            ) as client:
                yield client
        except (httpx.TransportError, httpx.TimeoutException) as exc:
            raise PrefectUnavailable(f"Prefect API unreachable: {type(exc).__name__}") from None
        except PrefectHTTPStatusError as exc:
            if exc.response.status_code >= 500:
                raise PrefectUnavailable(f"Prefect API error {exc.response.status_code}") from None
            raise

    async def create(
        self,
        deployment_name: str,
        parameters: dict[str, Any],
        tenant_id: int,
        idempotency_key: str | None = None,
        extra_tags: Sequence[str] = (),
        region: str | None = None,
    ) -> Workflow:
        """Start a run of ``flow-name/deployment-name`` after checking its parameters.

        ``extra_tags`` are added to the run's (a replay names the run it replays). A tenant
        pinned to a ``region`` has its run put on that region's copy of the deployment's
        work queue, which only that region's workers poll.

        Raises:
            NotFoundError: no such deployment.
            ValidationError: the parameters do not fit the deployment's schema.
        """
        async with self._client() as client:
            try:
                deployment = await client.read_deployment_by_name(deployment_name)
            except (ObjectNotFound, httpx.InvalidURL):
                raise NotFoundError(f"no deployment {deployment_name!r}") from None
            schema = deployment.parameter_openapi_schema or {}
            try:
                validate(parameters, schema, raise_on_error=True)
            except SchemaError as exc:
                raise ValidationError(f"parameters do not fit {deployment_name}: {exc}") from None
            # Only a deployment on a work pool has queues (and workers) to pin to.
            pinned = region and deployment.work_pool_name and deployment.work_queue_name
            run = await client.create_flow_run_from_deployment(
                deployment.id,
                parameters=parameters,
                work_queue_name=regional_queue(deployment.work_queue_name, region)
                if pinned
                else None,
                tags=[PRODUCT_TAG, tenant_tag(tenant_id), *extra_tags],
                # Keys are per tenant: one tenant's key can never return another's run.
                idempotency_key=f"{tenant_tag(tenant_id)}:{idempotency_key}"
                if idempotency_key
                else None,
            )
        return Workflow.of(run, self.ui_url)

    async def active(self, tenant_id: int, limit: int = 200) -> list[Workflow]:
        async with self._client() as client:
            runs = await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    tags=FlowRunFilterTags(all_=[tenant_tag(tenant_id)]),
                    state=FlowRunFilterState(type=FlowRunFilterStateType(any_=ACTIVE_STATES)),
                ),
                limit=limit,
            )
        return [Workflow.of(run, self.ui_url) for run in runs]

    async def _owned(self, client: PrefectClient, run_id: UUID, tenant_id: int) -> FlowRun:
        try:
            run = await client.read_flow_run(run_id)
        except ObjectNotFound:
            run = None
        if run is None or tenant_tag(tenant_id) not in run.tags:
            raise NotFoundError(f"no workflow {run_id}")
        return run

    async def get(self, run_id: UUID, tenant_id: int) -> Workflow:
        async with self._client() as client:
            return Workflow.of(await self._owned(client, run_id, tenant_id), self.ui_url)

    async def change(self, run_id: UUID, tenant_id: int, action: str) -> Workflow:
        """``cancel``, ``suspend`` or ``resume`` a run, as Prefect's rules allow."""
        async with self._client() as client:
            run = await self._owned(client, run_id, tenant_id)
            state_type = run.state.type if run.state else None
            if action == "resume":
                result = await client.resume_flow_run(run_id)
            elif action == "cancel":
                # A run with live infrastructure must be told (Cancelling); others just stop.
                state = Cancelling() if state_type == StateType.RUNNING else Cancelled()
                result = await client.set_flow_run_state(run_id, state)
            else:
                result = await client.set_flow_run_state(run_id, Suspended(pause_key=str(uuid4())))
            if result.status.value != "ACCEPT":
                reason = getattr(result.details, "reason", None) or result.status.value.lower()
                raise TransitionRefused(
                    f"cannot {action} a {state_type.value.lower()} run: {reason}"
                )
            return Workflow.of(await client.read_flow_run(run_id), self.ui_url)

    async def results(self, run_id: UUID, tenant_id: int) -> dict[str, Any]:
        """State, result (when the run persisted one) and artifacts of a run."""
        async with self._client() as client:
            run = await self._owned(client, run_id, tenant_id)
            artifacts = await client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
            )
            result: Any = None
            if run.state and run.state.is_completed():
                try:
                    result = await run.state.aresult(raise_on_failure=False)
                except (MissingResult, OSError):
                    result = None  # not persisted, or stored where this process cannot read
        return {
            "workflow": Workflow.of(run, self.ui_url),
            "result": result,
            "artifacts": [
                {
                    "key": artifact.key,
                    "type": artifact.type,
                    "description": artifact.description,
                    "data": artifact.data,
                }
                for artifact in artifacts
                # Prefect records a persisted result as an untyped artifact; it is "result".
                if artifact.type not in (None, "result")
            ],
        }
