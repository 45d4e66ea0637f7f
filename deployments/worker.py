"""The ProductPilot worker: Prefect's process worker, admitting a run only while its tenant
has a free slot.

Every tenant-scoped flow takes a slot of its ``tenant:<id>`` limit when it starts
(:mod:`tasks.fairness`); a run that finds none puts itself back in the queue. That keeps the
limit exact, but each such run has already cost a Python process: in a burst of one tenant's
runs, workers spend their time starting processes that only defer, and the other tenants'
runs wait behind them (the scale set-up measured others' first starts after ~135 s).

This worker asks before it starts anything. For the runs the server offers, it counts each
tenant's runs that are pending or running (on any worker) and its limit's active slots; a
run whose tenant is already at its limit is not started but moved back in its queue (the same
``AwaitingConcurrencySlot`` state the flow uses), which takes one API call instead of a
process. The runs behind it, usually other tenants', then reach the front. The flow's own slot
stays the enforcement: two workers admitting the same tenant's last slot at the same instant
still cannot exceed the limit, one of the two runs defers itself as before.

Run it as ``python -m deployments.worker --pool productpilot`` (``make up`` does).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final, TypeVar

from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
    FlowRunFilterTags,
)
from prefect.client.schemas.objects import StateType
from prefect.exceptions import ObjectNotFound
from prefect.states import Scheduled
from prefect.utilities.processutils import setup_signal_handlers_worker
from prefect.workers.process import ProcessWorker

from deployments.setup import POOL_NAME
from tasks.fairness import AWAITING_SLOT, tenant_of

if TYPE_CHECKING:
    from prefect.client.orchestration import PrefectClient
    from prefect.client.schemas.responses import WorkerFlowRunResponse

T = TypeVar("T")

#: States in which a run holds, or is about to take, its tenant's slot.
OCCUPYING: Final = (StateType.PENDING, StateType.RUNNING)
#: How long a run left out waits before it is offered again: the cost is one API call, so
#: this can be shorter than the flow's own deferral (which costs a process).
REQUEUE_SECONDS: Final = (2.0, 6.0)
#: The server answers flow-run filters with at most this many runs.
READ_LIMIT: Final = 200


def admit(
    runs: Sequence[T],
    tenant: Callable[[T], str | None],
    occupied: Mapping[str, int],
    limits: Mapping[str, int],
) -> tuple[list[T], list[T]]:
    """Split ``runs`` (in the server's order: queue priority, then due time) into the runs
    to start now and the runs to leave queued.

    A run without a tenant, or whose tenant has no limit yet (the flow creates it), is
    admitted. A tenant's run is admitted while the tenant's occupied slots, counting the
    runs admitted before it in ``runs``, stay under its limit.

    Example:
        >>> runs = ["a1", "a2", "a3", "b1"]
        >>> admit(runs, lambda r: f"tenant:{r[0]}", {"tenant:a": 1}, {"tenant:a": 2})
        (['a1', 'b1'], ['a2', 'a3'])
    """
    taken = Counter(occupied)
    start: list[T] = []
    wait: list[T] = []
    for run in runs:
        name = tenant(run)
        limit = limits.get(name) if name else None
        if name is None or limit is None:
            start.append(run)
        elif taken[name] < limit:
            taken[name] += 1
            start.append(run)
        else:
            wait.append(run)
    return start, wait


def _tenant_of_response(response: WorkerFlowRunResponse) -> str | None:
    return tenant_of(list(response.flow_run.tags or []))


async def occupied_slots(
    client: PrefectClient, limits: Mapping[str, tuple[int, int]]
) -> dict[str, int]:
    """Per tenant of ``limits`` (``{name: (limit, active_slots)}``), the larger of its
    pending-or-running runs and its limit's active slots.

    Runs count from the moment a worker proposes ``Pending``, before their process took the
    slot; the active slots cover runs that hold one outside any worker (a flow called in
    process, a run on another pool).
    """
    names = sorted(limits)
    if not names:
        return {}
    active = await client.read_flow_runs(
        flow_run_filter=FlowRunFilter(
            tags=FlowRunFilterTags(any_=names),
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=list(OCCUPYING))),
        ),
        limit=READ_LIMIT,
    )
    counts = Counter(tenant_of(list(run.tags or [])) for run in active)
    return {name: max(counts[name], limits[name][1]) for name in names}


async def tenant_limits(client: PrefectClient, names: Iterable[str]) -> dict[str, tuple[int, int]]:
    """``{name: (limit, active_slots)}`` for the tenants whose limit exists."""
    found: dict[str, tuple[int, int]] = {}
    for name in names:
        try:
            limit = await client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            continue
        found[name] = (limit.limit, limit.active_slots)
    return found


class FairProcessWorker(ProcessWorker):
    """A process worker that starts a tenant's run only while the tenant has a free slot.

    Example:
        >>> worker = FairProcessWorker(work_pool_name="productpilot")  # doctest: +SKIP
        >>> asyncio.run(worker.start())  # doctest: +SKIP
    """

    @classmethod
    def __dispatch_key__(cls) -> str:
        # Registered under its own key: ``prefect worker start --type process`` keeps
        # Prefect's worker, while this one still serves ``process`` pools.
        return "productpilot-process"

    async def _get_scheduled_flow_runs(self) -> list[WorkerFlowRunResponse]:
        offered = await super()._get_scheduled_flow_runs()
        tenants = {t for t in map(_tenant_of_response, offered) if t is not None}
        if not tenants:
            return offered
        limits = await tenant_limits(self.client, tenants)
        occupied = await occupied_slots(self.client, limits)
        start, wait = admit(
            offered, _tenant_of_response, occupied, {name: lim for name, (lim, _) in limits.items()}
        )
        for response in wait:
            await self._requeue(response)
        return start

    async def _requeue(self, response: WorkerFlowRunResponse) -> None:
        """Move a run whose tenant is at its limit back in its queue, due a little later."""
        run = response.flow_run
        if run.id in self._submitting_flow_run_ids:
            return
        seconds = random.uniform(*REQUEUE_SECONDS)  # jitter: requeued runs do not stampede
        tenant = _tenant_of_response(response)
        await self.client.set_flow_run_state(
            run.id,
            Scheduled(
                scheduled_time=datetime.now(UTC) + timedelta(seconds=seconds),
                name=AWAITING_SLOT,
                message=f"every {tenant} slot is taken; offered again in {seconds:.0f} s",
            ),
        )


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m deployments.worker``: start a :class:`FairProcessWorker`."""
    parser = argparse.ArgumentParser(prog="python -m deployments.worker", description=__doc__)
    parser.add_argument("--pool", default=POOL_NAME, help="The work pool to serve.")
    parser.add_argument("--name", default=None, help="The worker's name (default: generated).")
    parser.add_argument("--queue", action="append", default=None, help="Only these queues.")
    parser.add_argument("--limit", type=int, default=None, help="Runs at once on this worker.")
    arguments = parser.parse_args(argv)
    # As ``prefect worker start`` does: a first SIGTERM or SIGINT stops polling and lets
    # running flow runs finish; a second one kills.
    setup_signal_handlers_worker(os.getpid(), "the ProductPilot worker", print)
    worker = FairProcessWorker(
        name=arguments.name,
        work_pool_name=arguments.pool,
        work_queues=arguments.queue,
        limit=arguments.limit,
    )
    asyncio.run(worker.start())


if __name__ == "__main__":
    main()
