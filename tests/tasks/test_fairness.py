"""Per-tenant slots: a run takes one of its tenant's slots before working; a deployed run
that finds them all taken goes back to its queue instead of holding a worker slot.

That a deferred run frees its worker for another tenant, on real workers, is shown end to end
in ``tests/e2e/test_scale.py``.
"""

from __future__ import annotations

import uuid

import pytest
from prefect import flow, tags
from prefect.client.orchestration import get_client
from prefect.exceptions import Pause
from prefect.states import Running

from tasks.fairness import AWAITING_SLOT, defer_run, fair_share, tenant_of


def active_slots(name: str) -> int:
    with get_client(sync_client=True) as client:
        return client.read_global_concurrency_limit_by_name(name).active_slots


def a_tenant() -> str:
    return f"tenant:{uuid.uuid4().int % 10**9}"


def test_the_tenant_is_read_from_the_runs_tenant_tag() -> None:
    assert tenant_of(["productpilot", "tenant:12", "area:analytics"]) == "tenant:12"
    assert tenant_of(["productpilot", "area:analytics"]) is None
    assert tenant_of(["tenant:acme"]) is None  # not a tenant id: not ours


def test_a_tenants_run_holds_one_of_its_slots_while_it_works_and_frees_it_after() -> None:
    tenant = a_tenant()

    @flow
    @fair_share
    def work() -> int:
        return active_slots(tenant)

    with tags(tenant):
        assert work() == 1
    assert active_slots(tenant) == 0


def test_a_run_without_a_tenant_takes_no_slot() -> None:
    @flow
    @fair_share
    def system_wide(x: int) -> int:
        return x * 2

    assert system_wide(21) == 42


def test_the_slot_is_freed_when_the_run_fails() -> None:
    tenant = a_tenant()

    @flow
    @fair_share
    def broken() -> None:
        raise ValueError("boom")

    with tags(tenant), pytest.raises(ValueError, match="boom"):
        broken()
    assert active_slots(tenant) == 0


def test_a_deferred_run_goes_back_to_its_queue_as_awaiting_a_slot() -> None:
    @flow
    def queued() -> None: ...

    with get_client(sync_client=True) as client:
        run = client.create_flow_run(queued, state=Running())
        with pytest.raises(Pause):
            defer_run(str(run.id), 30, "every tenant:1 slot is taken")
        state = client.read_flow_run(run.id).state
    assert state is not None
    assert state.is_scheduled()
    assert state.name == AWAITING_SLOT
    assert state.message == "every tenant:1 slot is taken"
