"""The ProductPilot worker admits a tenant's run only while the tenant has a free slot, and
moves the others back in their queue instead of starting a process for them."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import (
    DeploymentCreate,
    GlobalConcurrencyLimitCreate,
    WorkPoolCreate,
)
from prefect.states import Running

from deployments.worker import FairProcessWorker, admit
from tasks.fairness import AWAITING_SLOT


def tenant_of_name(run: str) -> str | None:
    return f"tenant:{run[0]}" if run[0].isdigit() else None


def test_runs_are_admitted_in_order_while_their_tenant_has_slots() -> None:
    runs = ["1a", "1b", "2a", "1c", "2b", "xa"]
    start, wait = admit(runs, tenant_of_name, {"tenant:1": 1}, {"tenant:1": 2, "tenant:2": 1})
    assert start == ["1a", "2a", "xa"]
    assert wait == ["1b", "1c", "2b"]


def test_a_tenant_without_a_limit_yet_is_not_held_back() -> None:
    start, wait = admit(["3a", "3b"], tenant_of_name, {}, {})
    assert (start, wait) == (["3a", "3b"], [])


def test_a_full_tenant_has_nothing_admitted_even_with_nothing_ahead() -> None:
    start, wait = admit(["1a"], tenant_of_name, {"tenant:1": 2}, {"tenant:1": 2})
    assert (start, wait) == ([], ["1a"])


async def _offered_by_the_worker(pool: str) -> list[uuid.UUID]:
    async with FairProcessWorker(work_pool_name=pool) as worker:
        return [response.flow_run.id for response in await worker._get_scheduled_flow_runs()]


def test_the_worker_starts_free_tenants_runs_and_requeues_the_rest() -> None:
    pool = f"pp-{uuid.uuid4().hex[:8]}"
    busy, free = f"tenant:{900 + uuid.uuid4().int % 99}", "tenant:999"
    with get_client(sync_client=True) as client:
        client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
        flow_id = client.create_flow_from_name("fair-probe")
        deployment_id = client.create_deployment(
            **DeploymentCreate(
                name=pool, flow_id=flow_id, work_pool_name=pool, entrypoint="x.py:probe"
            ).model_dump(exclude_unset=True)
        )
        for name in (busy, free):
            client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))
        try:

            def queued(tags: list[str]) -> uuid.UUID:
                return client.create_flow_run_from_deployment(deployment_id, tags=tags).id

            running = queued([busy])
            client.set_flow_run_state(running, Running(), force=True)
            held_back = [queued([busy]), queued([busy])]
            admitted = [queued([free]), queued(["productpilot"])]

            offered = asyncio.run(_offered_by_the_worker(pool))

            assert sorted(offered) == sorted(admitted)
            for run_id in held_back:
                state = client.read_flow_run(run_id).state
                assert state.is_scheduled()
                assert state.name == AWAITING_SLOT
                assert state.state_details.scheduled_time > datetime.now(UTC)
            assert all(client.read_flow_run(r).state.name == "Scheduled" for r in admitted)
        finally:
            for name in (busy, free):
                client.delete_global_concurrency_limit_by_name(name)
            client.delete_work_pool(pool)
