"""Per-tenant concurrency slots for flow runs, taken before a run does any work.

A run started for one tenant (through the API, a trigger or a replay, each tagged
``tenant:<id>``) must hold one slot of that tenant's ``tenant:<id>`` global concurrency limit
while it works, so one tenant's burst cannot take every worker slot.

Waiting for the slot inside the run would not give that: a run blocked on its tenant's limit
still holds a worker slot, so a burst of 100 runs from one tenant would fill the pool with
runs that wait, and another tenant's run would start no sooner. So a deployed run that finds
its tenant's slots taken *defers itself*: it puts itself back in its work queue as
``Scheduled`` (named ``AwaitingConcurrencySlot``, as Prefect names its own deployment-limit
waits) a few seconds later, and its process exits cleanly. The worker slot is free at once,
the queue's next run (usually another tenant's) starts, and the deferred run is picked up
again when it is due. No run is duplicated or lost: it is the same flow run, with its own
history; the dead-letter trigger never sees it, since it is neither failed nor crashed.

Runs called in process (the demo, tests, a flow calling a flow) have no worker slot to give
back; they wait for the tenant's slot instead.

A run an event trigger started has only its deployment's tags (Prefect's ``run-deployment``
action sets none), but it names its product (``product: "{{ event.resource.id }}"``): the
run is then tagged with that product's tenant before it takes the slot, so it counts for
the tenant like any other and the tenant can read it through the API.
"""

from __future__ import annotations

import functools
import inspect
import random
import typing
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Final, ParamSpec, TypeVar

import httpx
from prefect.client.orchestration import get_client
from prefect.concurrency._asyncio import ConcurrencySlotAcquisitionError
from prefect.concurrency.sync import concurrency
from prefect.context import FlowRunContext
from prefect.exceptions import Pause
from prefect.runtime import flow_run
from prefect.states import Scheduled

from deployments.setup import TENANT_LIMIT_PREFIX, SetupSettings
from productpilot.db.models import Product
from productpilot.errors import ValidationError
from productpilot.eventbus import product_id_of
from tasks.concurrency import ensure_global_limit
from tasks.store import task_store

P = ParamSpec("P")
R = TypeVar("R")

#: The state name a deferred run waits in (Prefect's own name for deployment-limit waits).
AWAITING_SLOT: Final = "AwaitingConcurrencySlot"
#: How long a deferred run waits before it asks again: long enough that a saturated tenant
#: does not churn worker processes, short next to the minutes its runs take.
DEFER_SECONDS: Final = (5.0, 15.0)
#: How long a tenant's slot stays leased if a run dies without releasing it.
SLOT_LEASE_SECONDS: Final = 300.0


def tenant_of(tags: list[str]) -> str | None:
    """The ``tenant:<id>`` tag among a run's ``tags``, if it has one.

    Example:
        >>> tenant_of(["productpilot", "tenant:7", "area:analytics"])
        'tenant:7'
    """
    return next(
        (tag for tag in tags if tag.startswith(TENANT_LIMIT_PREFIX) and tag[7:].isdigit()), None
    )


def _locked(error: ConcurrencySlotAcquisitionError) -> bool:
    """Whether ``error`` means "every slot is taken" (HTTP 423) rather than a failure."""
    cause = error.__cause__
    return isinstance(cause, httpx.HTTPStatusError) and cause.response.status_code == 423


def defer_run(run_id: str, seconds: float, reason: str) -> None:
    """Put the running flow run ``run_id`` back in its queue, due in ``seconds``, and end
    its process without a final state (Prefect's ``Pause`` exits the engine cleanly).

    Raises:
        Pause: always, once the server accepted the new state.
        RuntimeError: the server refused it (the run then fails rather than run twice).
    """
    due = datetime.now(UTC) + timedelta(seconds=seconds)
    with get_client(sync_client=True) as client:
        result = client.set_flow_run_state(
            run_id, Scheduled(scheduled_time=due, name=AWAITING_SLOT, message=reason)
        )
    if result.state is None or not result.state.is_scheduled():
        raise RuntimeError(f"could not defer flow run {run_id}: {result.status} {result.details}")
    raise Pause(reason, state=result.state)


def tag_with_tenant_of_product(run_id: str, tags: list[str], product: object) -> str | None:
    """Tag run ``run_id`` with the tenant of ``product`` (an id or ``productpilot.product.<id>``)
    and return that tag; ``None`` (and no tag) when it names no known product, which the
    flow itself then reports."""
    try:
        product_id = product_id_of(str(product))
    except ValidationError:
        return None
    with task_store().system_session() as session:
        found = session.get(Product, product_id)
        tenant_id = found.tenant_id if found is not None else None
    if tenant_id is None:
        return None
    tenant = f"{TENANT_LIMIT_PREFIX}{tenant_id}"
    with get_client(sync_client=True) as client:
        client.update_flow_run(run_id, tags=[*tags, tenant])
    return tenant


def fair_share(fn: Callable[P, R]) -> Callable[P, R]:
    """Run the flow function ``fn`` holding one slot of its run's tenant limit.

    Put it under ``@flow``; a run without a ``tenant:<id>`` tag (a scheduled run over every
    tenant) takes no slot. The limit is created with the set-up default when a tenant is
    newer than the last ``productpilot setup``.

    Example:
        >>> @flow(name="import-events")  # doctest: +SKIP
        ... @fair_share
        ... def import_events_flow(path: str) -> dict: ...
    """

    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        tags = list(flow_run.tags or [])
        tenant = tenant_of(tags)
        if tenant is None:
            named = signature.bind_partial(*args, **kwargs).arguments.get("product")
            tenant = tag_with_tenant_of_product(flow_run.id, tags, named) if named else None
        if tenant is None:
            return fn(*args, **kwargs)
        ensure_global_limit(tenant, SetupSettings().tenant_limit)
        context = FlowRunContext.get()
        deployed = bool(context and context.flow_run and context.flow_run.deployment_id)
        with ExitStack() as held:
            try:
                held.enter_context(
                    concurrency(
                        tenant,
                        occupy=1,
                        # A deployed run asks once; one called in process waits its turn.
                        max_retries=0 if deployed else None,
                        lease_duration=SLOT_LEASE_SECONDS,
                        strict=True,
                    )
                )
            except ConcurrencySlotAcquisitionError as error:
                if not (deployed and _locked(error)):
                    raise
                wait = random.uniform(*DEFER_SECONDS)  # jitter: deferred runs do not stampede
                defer_run(flow_run.id, wait, f"every {tenant} slot is taken; again in {wait:.0f} s")
            return fn(*args, **kwargs)

    # Prefect builds the flow's parameter model from the signature, resolving string
    # annotations in the *wrapper's* module: hand it the resolved ones of ``fn``.
    hints = typing.get_type_hints(fn)
    run.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[
            parameter.replace(annotation=hints.get(name, parameter.annotation))
            for name, parameter in signature.parameters.items()
        ],
        return_annotation=hints.get("return", signature.return_annotation),
    )
    return run
