"""The dead-letter flow, on a real Prefect server: failed runs are recorded once, for the
tenants they served, announced to their products, and replayed as scheduled runs."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.states import Failed, State
from sqlalchemy import select

from flows.deadletters import dead_letter_flow, replay_dead_letter
from productpilot.db.models import DeadLetter, Notification
from productpilot.errors import ConflictError, ValidationError
from productpilot.products import create_product
from productpilot.runtime import open_store
from productpilot.tenants import create_tenant

ROUTES = [{"channel": "outbox", "recipients": ["#ops"], "group_wait_minutes": 0}]


@flow(name="always-fails", retries=1, retry_delay_seconds=0)
def always_fails(product_ids: list[int] | None = None) -> None:
    raise RuntimeError("the vendor is down")


@flow(name="succeeds")
def succeeds() -> int:
    return 1


def run_id_of(state: State) -> str:
    return str(state.state_details.flow_run_id)


@pytest.fixture
def acme(home: Path) -> tuple[int, int]:
    """A tenant and its product, whose routes send everything to the outbox."""
    store = open_store()
    tenant, _ = create_tenant(store, "Acme")
    with store.tenant_session(tenant.id) as session:
        product = create_product(session, "Web App", configuration={"notification_routes": ROUTES})
    return tenant.id, product.id


def letters(tenant_id: int) -> list[DeadLetter]:
    with open_store().tenant_session(tenant_id) as session:
        return list(session.scalars(select(DeadLetter).order_by(DeadLetter.id)))


def test_a_failed_run_is_recorded_once_and_announced_to_its_product(
    acme: tuple[int, int],
) -> None:
    tenant_id, product_id = acme
    state = always_fails(product_ids=[product_id], return_state=True)
    assert state.is_failed()
    run_id = run_id_of(state)

    first = dead_letter_flow(run_id)
    # A deployment trigger passes the event's resource id; it names the same run.
    again = dead_letter_flow(f"prefect.flow-run.{run_id}")

    [letter] = letters(tenant_id)
    assert (letter.flow_run_id, letter.flow_name, letter.deployment_name) == (
        run_id,
        "always-fails",
        None,
    )
    assert letter.attempts == 2  # the first run and its one retry
    assert letter.parameters == {"product_ids": [product_id]}
    assert "RuntimeError" in letter.error
    assert "the vendor is down" in letter.error
    assert letter.status == "open"
    assert first["recorded"] == [
        {
            "dead_letter_id": letter.id,
            "tenant_id": tenant_id,
            "created": True,
            "product_ids": [product_id],
        }
    ]
    assert again["recorded"][0]["created"] is False
    with open_store().tenant_session(tenant_id) as session:
        notes = list(session.scalars(select(Notification)))
    assert [(n.kind, n.severity, n.product_id) for n in notes] == [
        ("productpilot.run.failed", "critical", product_id)
    ]
    # The router namespaces the finding's key by product.
    assert notes[0].dedupe_key.endswith(f"dead-letter:{run_id}")


def test_runs_that_did_not_fail_and_its_own_failures_are_not_recorded(
    acme: tuple[int, int],
) -> None:
    tenant_id, _ = acme
    ok = dead_letter_flow(run_id_of(succeeds(return_state=True)))
    own = dead_letter_flow("not-a-run-id", return_state=True)
    assert own.is_failed()
    # Its own failure would trigger it again: it looks, and does not record (no loop).
    itself = dead_letter_flow(run_id_of(own))
    assert ok["skipped"] == "not a failed top-level run"
    assert itself["skipped"] == "a dead-letter run"
    assert letters(tenant_id) == []


def test_a_scheduled_run_is_recorded_for_the_tenants_whose_products_it_named(
    acme: tuple[int, int],
) -> None:
    tenant_id, _ = acme
    store = open_store()
    other, _key = create_tenant(store, "Globex")
    with store.tenant_session(other.id) as session:
        theirs = create_product(session, "Globex App").id
    named = dead_letter_flow(run_id_of(always_fails(product_ids=[theirs], return_state=True)))
    assert [r["tenant_id"] for r in named["recorded"]] == [other.id]
    assert letters(tenant_id) == []

    everyone = dead_letter_flow(run_id_of(always_fails(return_state=True)))
    recorded_for = [r["tenant_id"] for r in everyone["recorded"]]
    if DeadLetter.__table__.c.flow_run_id.unique:
        # flow_run_id is unique across tenants in this schema: the first tenant holds it.
        assert recorded_for == [tenant_id]
    else:
        assert recorded_for == sorted([tenant_id, other.id])
    # An all-products run names no product: nothing is routed for it.
    assert all(r["product_ids"] == [] for r in everyone["recorded"])


def test_replay_schedules_the_deployment_with_the_same_parameters_and_links_it(
    acme: tuple[int, int],
) -> None:
    tenant_id, product_id = acme
    parameters = {"product_ids": [product_id]}
    with get_client(sync_client=True) as client:
        flow_id = client.create_flow_from_name("nightly-job")
        deployment_id = client.create_deployment(flow_id=flow_id, name="nightly")
        failed = client.create_flow_run_from_deployment(deployment_id, parameters=parameters)
        client.set_flow_run_state(failed.id, Failed(message="out of memory"), force=True)

    dead_letter_flow(str(failed.id))
    [letter] = letters(tenant_id)
    assert (letter.flow_name, letter.deployment_name) == ("nightly-job", "nightly")

    replayed = replay_dead_letter(letter.id, tenant_id)

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(UUID(replayed["flow_run_id"]))
    assert run.deployment_id == deployment_id
    assert run.state.is_scheduled()
    assert run.parameters == parameters
    assert {"productpilot", f"tenant:{tenant_id}", f"replay-of:{failed.id}"} <= set(run.tags)
    [letter] = letters(tenant_id)
    assert (letter.status, letter.replay_flow_run_id) == ("replayed", replayed["flow_run_id"])
    with pytest.raises(ConflictError, match="already replayed"):
        replay_dead_letter(letter.id, tenant_id)


def test_a_bad_run_id_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="not a flow run id"):
        dead_letter_flow("prefect.flow-run.garbage")
