"""Dead-letter tasks: read a failed run from Prefect, record it, replay it.

Each is one coarse step: one Prefect API read per failed run, one store transaction per
tenant it served, one flow-run creation per replay.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx
from prefect import get_run_logger, task
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError
from prefect.settings import get_current_settings
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from productpilot.db.models import DeadLetter, Product
from productpilot.errors import NotFoundError, ValidationError
from productpilot.notify.message import Finding
from productpilot.operations import deadletters
from productpilot.operations.deadletters import FailedRun
from tasks.retries import TRANSIENT_STORE_ERRORS, retry_on
from tasks.store import task_store

#: A Prefect API that did not answer may answer the next time.
TRANSIENT_PREFECT_ERRORS: tuple[type[BaseException], ...] = (
    httpx.TransportError,
    httpx.TimeoutException,
)
PRODUCT_TAG = "productpilot"


@dataclass
class Recorded:
    """What recording a failed run did.

    Attributes:
        letters: One entry per tenant: ``dead_letter_id``, ``tenant_id``, ``created``
            (False when it was recorded before), ``product_ids`` (the tenant's products
            the run named).
        findings: A ``productpilot.run.failed`` finding per named product of each newly
            recorded dead letter.
    """

    letters: list[dict[str, Any]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def _run_link(flow_run_id: str) -> str | None:
    ui_url = get_current_settings().ui_url
    return f"{ui_url.rstrip('/')}/runs/flow-run/{flow_run_id}" if ui_url else None


def _deployment_name(client: SyncPrefectClient, deployment_id: UUID | None) -> str | None:
    if deployment_id is None:
        return None
    try:
        return client.read_deployment(deployment_id).name
    except ObjectNotFound:
        return None  # deleted since: the run is kept, but cannot be replayed


@task(
    name="read-failed-run",
    retries=3,
    retry_delay_seconds=[2, 10, 30],
    retry_jitter_factor=0.5,
    retry_condition_fn=retry_on(*TRANSIENT_PREFECT_ERRORS),
)
def read_failed_run(flow_run_id: str) -> FailedRun | None:
    """The run as a :class:`FailedRun`, or None when it is not a dead letter: it did not
    end Failed or Crashed (a trigger fired twice, a person passed the wrong id), or it is a
    subflow (its parent failed with it and is the run to replay).

    Raises:
        NotFoundError: Prefect knows no such run.
    """
    logger = get_run_logger()
    with get_client(sync_client=True) as client:
        try:
            run = client.read_flow_run(UUID(flow_run_id))
        except ObjectNotFound:
            raise NotFoundError(f"no flow run {flow_run_id}") from None
        state = run.state
        if state is None or not (state.is_failed() or state.is_crashed()):
            logger.info("run %s is %s, not failed: nothing to record", flow_run_id, state)
            return None
        if run.parent_task_run_id is not None:
            logger.info("run %s is a subflow: its parent is recorded instead", flow_run_id)
            return None
        flow_name = client.read_flow(run.flow_id).name
        deployment_name = _deployment_name(client, run.deployment_id)
    return FailedRun(
        flow_run_id=str(run.id),
        flow_name=flow_name,
        deployment_name=deployment_name,
        parameters=dict(run.parameters),
        error=f"{state.name}: {state.message or 'no message'}",
        attempts=run.run_count or 1,
        tags=tuple(run.tags),
    )


@task(
    name="record-dead-letters",
    retries=2,
    retry_delay_seconds=[2, 10],
    retry_jitter_factor=0.5,
    retry_condition_fn=retry_on(*TRANSIENT_STORE_ERRORS),
)
def record_dead_letters(run: FailedRun) -> Recorded:
    """Record ``run`` once for each tenant it served, and the findings to route.

    Safe to repeat: a tenant that already has the run's dead letter keeps it unchanged, and
    no finding is built for it again.
    """
    store = task_store()
    with store.system_session() as session:
        tenant_ids = deadletters.tenants_of(session, run)
    named = run.named_product_ids()
    link = _run_link(run.flow_run_id)
    recorded = Recorded()
    for tenant_id in tenant_ids:
        try:
            with store.tenant_session(tenant_id) as session:
                letter, created = deadletters.record(session, run)
                product_ids = (
                    list(session.scalars(select(Product.id).where(Product.id.in_(named))))
                    if named
                    else []
                )
                findings = deadletters.findings_for(letter, product_ids, link) if created else []
                entry = {"dead_letter_id": letter.id, "tenant_id": tenant_id, "created": created}
        except IntegrityError:
            # Another recorder won the race for this tenant: its row is the one.
            with store.tenant_session(tenant_id) as session:
                letter = session.scalar(
                    select(DeadLetter).where(DeadLetter.flow_run_id == run.flow_run_id)
                )
                assert letter is not None  # the row whose unique key refused ours
                entry = {"dead_letter_id": letter.id, "tenant_id": tenant_id, "created": False}
                product_ids, findings = [], []
        recorded.letters.append({**entry, "product_ids": product_ids})
        recorded.findings.extend(findings)
    return recorded


@task(
    name="replay-dead-letter",
    retries=2,
    retry_delay_seconds=[2, 10],
    retry_jitter_factor=0.5,
    retry_condition_fn=retry_on(*TRANSIENT_PREFECT_ERRORS, *TRANSIENT_STORE_ERRORS),
)
def replay_dead_letter(dead_letter_id: int, tenant_id: int | None = None) -> dict[str, Any]:
    """Start a new run of the dead letter's deployment with the same parameters, tagged
    ``replay-of:<flow run id>``, and mark the dead letter replayed by it.

    Safe to retry: the run is created with an idempotency key per tenant and dead run
    (the same key the API's gateway derives), so a retry after a crash between creating
    the run and marking the letter finds the same run instead of starting a second.

    Args:
        dead_letter_id: The dead letter.
        tenant_id: Only within this tenant (default: any, for an operator).

    Raises:
        NotFoundError: no such dead letter, or its deployment no longer exists.
        ConflictError: it was replayed or discarded already, or its run had no deployment.
        ValidationError: Prefect refused the parameters.
    """
    store = task_store()
    scope = store.tenant_session(tenant_id) if tenant_id is not None else store.system_session()
    with scope as session:
        letter = deadletters.get_dead_letter(session, dead_letter_id)
        deadletters.require_open(letter, "replay")
        target = deadletters.replay_target(letter)
        owner, dead_run, parameters = letter.tenant_id, letter.flow_run_id, dict(letter.parameters)
    tenant_tag = f"{deadletters.TENANT_TAG_PREFIX}{owner}"
    with get_client(sync_client=True) as client:
        try:
            deployment = client.read_deployment_by_name(target)
        except ObjectNotFound:
            raise NotFoundError(f"deployment {target} no longer exists") from None
        try:
            run = client.create_flow_run_from_deployment(
                deployment.id,
                parameters=parameters,
                tags=[PRODUCT_TAG, tenant_tag, deadletters.replay_tag(dead_run)],
                idempotency_key=f"{tenant_tag}:{deadletters.replay_tag(dead_run)}",
            )
        except PrefectHTTPStatusError as exc:
            if exc.response.status_code >= 500:
                raise
            raise ValidationError(f"Prefect refused the replay of {target}: {exc}") from None
    with store.tenant_session(owner) as session:
        deadletters.mark_replayed(session, dead_letter_id, str(run.id), datetime.now(UTC))
    return {
        "dead_letter_id": dead_letter_id,
        "flow_run_id": str(run.id),
        "deployment": target,
        "parameters": parameters,
    }
