"""The dead-letter store: recorded once per tenant and run, listed, replayed or discarded once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from productpilot.db.models import DeadLetter, Product
from productpilot.db.store import Store
from productpilot.errors import ConflictError, NotFoundError, ValidationError
from productpilot.operations.deadletters import (
    FailedRun,
    discard,
    findings_for,
    get_dead_letter,
    list_dead_letters,
    mark_replayed,
    normalize_flow_run_id,
    record,
    replay_target,
    tenants_of,
)
from productpilot.products import create_product
from productpilot.tenants import create_tenant

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
RUN_ID = "0b7e7c4e-8e0e-4a51-9d3f-3c1f7f1b2a10"


def failed(
    run_id: str = RUN_ID, parameters: dict | None = None, tags: tuple[str, ...] = ()
) -> FailedRun:
    return FailedRun(
        flow_run_id=run_id,
        flow_name="daily-analysis",
        deployment_name="daily-analysis",
        parameters={"product_ids": None} if parameters is None else parameters,
        error="Failed: Flow run encountered an exception: KeyError('signups')",
        attempts=3,
        tags=tags,
    )


def recorded(store: Store, tenant_id: int, run: FailedRun | None = None) -> int:
    with store.tenant_session(tenant_id) as session:
        letter, _created = record(session, run or failed())
        return letter.id


def test_a_trigger_resource_id_and_a_bare_id_name_the_same_run() -> None:
    assert normalize_flow_run_id(f"prefect.flow-run.{RUN_ID}") == RUN_ID
    assert normalize_flow_run_id(RUN_ID.upper()) == RUN_ID
    with pytest.raises(ValidationError, match="not a flow run id"):
        normalize_flow_run_id("prefect.flow-run.nonsense")


def test_a_run_names_its_products_by_either_parameter_or_none_for_all() -> None:
    assert failed(parameters={"product_ids": [3, 1, 3]}).named_product_ids() == [1, 3]
    assert failed(parameters={"product_id": 5}).named_product_ids() == [5]
    assert failed(parameters={"product_ids": None}).named_product_ids() is None
    assert failed(parameters={"day": "2026-11-30"}).named_product_ids() is None


def test_recording_is_idempotent_by_flow_run_id(store: Store, tenant_id: int) -> None:
    with store.tenant_session(tenant_id) as session:
        first, created = record(session, failed())
    with store.tenant_session(tenant_id) as session:
        again, created_again = record(session, failed())
        rows = list_dead_letters(session)
    assert (created, created_again) == (True, False)
    assert again.id == first.id
    assert [(r.flow_run_id, r.status, r.attempts) for r in rows] == [(RUN_ID, "open", 3)]
    assert rows[0].parameters == {"product_ids": None}


def test_an_api_run_belongs_to_the_tenant_its_tag_names(store: Store, product: Product) -> None:
    other, _ = create_tenant(store, "Globex")
    with store.system_session() as session:
        tagged = tenants_of(session, failed(tags=("productpilot", f"tenant:{other.id}")))
        unknown = tenants_of(session, failed(tags=("tenant:999",)))
    assert (tagged, unknown) == ([other.id], [])


def test_a_scheduled_run_belongs_to_the_owners_of_the_products_it_names(
    store: Store, tenant_id: int, product: Product
) -> None:
    other, _ = create_tenant(store, "Globex")
    with store.tenant_session(other.id) as session:
        theirs = create_product(session, "Globex App")
    create_tenant(store, "No Products Ltd")
    with store.system_session() as session:
        named = tenants_of(session, failed(parameters={"product_ids": [theirs.id]}))
        everyone = tenants_of(session, failed(parameters={}))
    assert named == [other.id]
    # A run over all products served every tenant that has one, and only those.
    assert everyone == sorted([tenant_id, other.id])


def test_each_tenant_a_run_served_gets_its_own_dead_letter(store: Store, tenant_id: int) -> None:
    other, _ = create_tenant(store, "Globex")
    ours, theirs = recorded(store, tenant_id), recorded(store, other.id)
    assert ours != theirs


def test_another_tenants_dead_letter_is_not_found(store: Store, tenant_id: int) -> None:
    letter_id = recorded(store, tenant_id)
    other, _ = create_tenant(store, "Globex")
    with store.tenant_session(other.id) as session:
        assert list_dead_letters(session) == []
        with pytest.raises(NotFoundError):
            get_dead_letter(session, letter_id)
        with pytest.raises(NotFoundError):
            discard(session, letter_id, NOW)


def test_list_filters_by_status_newest_first(store: Store, tenant_id: int) -> None:
    older = recorded(store, tenant_id)
    newer = recorded(store, tenant_id, failed("1b7e7c4e-8e0e-4a51-9d3f-3c1f7f1b2a10"))
    with store.tenant_session(tenant_id) as session:
        discard(session, older, NOW, "fixed by hand")
        assert [r.id for r in list_dead_letters(session)] == [newer, older]
        assert [r.id for r in list_dead_letters(session, status="open")] == [newer]
        with pytest.raises(ValidationError, match="unknown status"):
            list_dead_letters(session, status="closed")


def test_replaying_links_the_new_run_once(store: Store, tenant_id: int) -> None:
    letter_id = recorded(store, tenant_id)
    with store.tenant_session(tenant_id) as session:
        letter = mark_replayed(session, letter_id, "new-run", NOW)
        assert (letter.status, letter.replay_flow_run_id, letter.resolved_at) == (
            "replayed",
            "new-run",
            NOW,
        )
        # The same replay again (a retried request) changes nothing; another run conflicts.
        assert mark_replayed(session, letter_id, "new-run", NOW).id == letter_id
        with pytest.raises(ConflictError, match="already replayed as new-run"):
            mark_replayed(session, letter_id, "second-run", NOW)
        with pytest.raises(ConflictError):
            discard(session, letter_id, NOW)


def test_discarding_keeps_the_reason_with_the_error(store: Store, tenant_id: int) -> None:
    letter_id = recorded(store, tenant_id)
    with store.tenant_session(tenant_id) as session:
        letter = discard(session, letter_id, NOW, "the product was deleted")
        assert letter.status == "discarded"
        assert letter.error.endswith("KeyError('signups')\n[discarded] the product was deleted")
        with pytest.raises(ConflictError, match="already discarded"):
            mark_replayed(session, letter_id, "new-run", NOW)
        with pytest.raises(ConflictError):
            discard(session, letter_id, NOW)


def test_a_run_without_deployment_cannot_be_replayed(store: Store, tenant_id: int) -> None:
    run = FailedRun(RUN_ID, "adhoc", None, {}, "Crashed: killed")
    letter_id = recorded(store, tenant_id, run)
    with store.tenant_session(tenant_id) as session:
        letter = get_dead_letter(session, letter_id)
        with pytest.raises(ConflictError, match="had no deployment"):
            replay_target(letter)
    assert replay_target(DeadLetter(flow_name="a", deployment_name="b")) == "a/b"


def test_the_finding_is_critical_and_deduplicated_by_run(store: Store, tenant_id: int) -> None:
    letter_id = recorded(store, tenant_id)
    with store.tenant_session(tenant_id) as session:
        letter = get_dead_letter(session, letter_id)
    [finding] = findings_for(letter, [7], link="http://ui/runs/flow-run/x")
    assert (finding.kind, finding.severity, finding.product_id) == (
        "productpilot.run.failed",
        "critical",
        7,
    )
    assert finding.key() == f"dead-letter:{RUN_ID}"
    assert "daily-analysis/daily-analysis" in finding.subject
    assert "KeyError('signups')" in finding.text
    assert ("dead letter", str(letter_id)) in finding.facts
    assert findings_for(letter, []) == []
