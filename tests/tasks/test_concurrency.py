"""Global concurrency limits held by tasks: created on first use, one holder at a time."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitUpdate

import tasks.analytics as analytics
from productpilot.ingest.importer import import_events
from productpilot.products import create_product
from productpilot.runtime import open_store
from productpilot.tenants import create_tenant
from tasks.analytics import ROLLUP_LIMIT, fold_new_events
from tasks.concurrency import ensure_global_limit, exclusive


def limit_of(name: str) -> int:
    with get_client(sync_client=True) as client:
        return client.read_global_concurrency_limit_by_name(name).limit


def test_the_limit_is_created_on_first_use_and_then_left_as_an_operator_set_it() -> None:
    name = f"test-{uuid.uuid4().hex[:8]}"
    ensure_global_limit(name, 1)
    assert limit_of(name) == 1
    with get_client(sync_client=True) as client:
        client.update_global_concurrency_limit(name, GlobalConcurrencyLimitUpdate(limit=3))
    ensure_global_limit(name, 1)
    assert limit_of(name) == 3


def test_a_second_holder_gives_up_after_its_wait_and_gets_the_slot_once_free() -> None:
    name = f"test-{uuid.uuid4().hex[:8]}"
    with exclusive(name, wait_seconds=5) as first:
        assert first
        with exclusive(name, wait_seconds=0.5) as second:
            assert not second
    with exclusive(name, wait_seconds=5) as third:
        assert third


def test_a_rollup_while_another_holds_the_slot_leaves_its_events_to_the_next(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store()
    tenant, _ = create_tenant(store, "Busy")
    with store.tenant_session(tenant.id) as session:
        product = create_product(session, "Busy")
    events = tmp_path / "events.jsonl"
    events.write_text(
        '{"event": "signup", "distinct_id": "u1", "timestamp": "2026-11-30T10:00:00Z"}\n'
    )
    import_events(store, product, events)
    monkeypatch.setattr(analytics, "ROLLUP_WAIT_SECONDS", 0.5)
    with exclusive(ROLLUP_LIMIT, wait_seconds=5):
        assert fold_new_events.fn([product.id], settle_seconds=0) == []
    [folded] = fold_new_events.fn([product.id], settle_seconds=0)
    assert folded["events"] == 1
