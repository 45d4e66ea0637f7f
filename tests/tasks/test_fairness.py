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


def test_a_triggered_run_is_tagged_with_its_products_tenant_and_holds_its_slot(
    home: object,
) -> None:
    """An event trigger starts a run with the deployment's tags only; the product it names
    gives it its tenant."""
    from prefect.runtime import flow_run

    from productpilot.products import create_product
    from productpilot.runtime import open_store
    from productpilot.tenants import create_tenant

    store = open_store()
    tenant, _key = create_tenant(store, f"Triggered {uuid.uuid4().hex[:6]}")
    with store.tenant_session(tenant.id) as session:
        product_id = create_product(session, "Web App").id

    @flow
    @fair_share
    def triggered(product: str | None = None) -> tuple[str, int]:
        return flow_run.id, active_slots(f"tenant:{tenant.id}")

    run_id, slots = triggered(product=f"productpilot.product.{product_id}")
    with get_client(sync_client=True) as client:
        assert f"tenant:{tenant.id}" in client.read_flow_run(run_id).tags
    assert slots == 1
    assert active_slots(f"tenant:{tenant.id}") == 0


def test_a_run_naming_an_unknown_product_takes_no_slot_and_is_not_tagged(home: object) -> None:
    from productpilot.runtime import open_store

    open_store()

    @flow
    @fair_share
    def triggered(product: str | None = None) -> str:
        from prefect.runtime import flow_run

        return flow_run.id

    run_id = triggered(product="productpilot.product.999999")
    with get_client(sync_client=True) as client:
        assert tenant_of(client.read_flow_run(run_id).tags) is None
