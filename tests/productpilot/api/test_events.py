"""POST /api/v1/products/{id}/events: batches in, every good event kept, nothing twice."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from productpilot.api.routers.events import MAX_BATCH_EVENTS, MAX_BODY_BYTES
from productpilot.db.models import Event
from productpilot.db.store import Store
from tests.productpilot.api.conftest import Caller

RECENT = (datetime.now(UTC) - timedelta(days=2)).isoformat()


def events(count: int, start: int = 0, **extra: object) -> list[dict[str, object]]:
    return [
        {"event": "pageview", "distinct_id": f"u{i}", "timestamp": RECENT, "uuid": f"e{i}", **extra}
        for i in range(start, start + count)
    ]


def post(client: TestClient, caller: Caller, body: object, **headers: str):
    return client.post(
        f"/api/v1/products/{caller.product_id}/events",
        content=orjson.dumps(body),
        headers={**caller.headers, "Content-Type": "application/json", **headers},
    )


def stored(store: Store, caller: Caller) -> int:
    with store.tenant_session(caller.tenant_id) as session:
        return session.scalar(select(func.count()).select_from(Event))


def test_a_batch_is_stored_and_counted(client: TestClient, store: Store, acme: Caller) -> None:
    response = post(client, acme, {"events": events(3)})
    assert response.status_code == 200
    assert response.json() == {"accepted": 3, "duplicates": 0, "rejected": []}
    assert stored(store, acme) == 3


def test_a_repeated_event_is_a_duplicate_not_a_second_row(
    client: TestClient, store: Store, acme: Caller
) -> None:
    post(client, acme, {"events": events(3)})
    response = post(client, acme, {"events": events(2, start=2)})
    assert response.json() == {"accepted": 1, "duplicates": 1, "rejected": []}
    assert stored(store, acme) == 4


def test_a_partly_bad_batch_keeps_the_good_events_and_names_the_bad(
    client: TestClient, store: Store, acme: Caller
) -> None:
    batch = events(4)
    batch[1]["timestamp"] = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    batch[2]["timestamp"] = "2020-01-01T00:00:00Z"
    batch[3] = {"event": "x"}
    response = post(client, acme, {"events": batch})
    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 1
    reasons = {r["index"]: r["reason"] for r in body["rejected"]}
    assert sorted(reasons) == [1, 2, 3]
    assert reasons[1].endswith("is in the future")
    assert " is before " in reasons[2]
    assert reasons[3] == "distinct_id is missing"
    assert stored(store, acme) == 1


def test_a_batch_with_only_bad_events_is_422_listing_them(client: TestClient, acme: Caller) -> None:
    response = post(client, acme, {"events": [{"event": "x"}, 42]})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [r["index"] for r in response.json()["rejected"]] == [0, 1]


def test_gzip_bodies_are_accepted(client: TestClient, store: Store, acme: Caller) -> None:
    response = client.post(
        f"/api/v1/products/{acme.product_id}/events",
        content=gzip.compress(orjson.dumps({"events": events(5)})),
        headers={**acme.headers, "Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert response.json()["accepted"] == 5
    assert stored(store, acme) == 5


@pytest.mark.parametrize(
    ("content", "headers", "status"),
    [
        (b"{not json", {}, 400),
        (b'{"events": 3}', {}, 422),
        (b"[]", {}, 422),
        (b"not gzip", {"Content-Encoding": "gzip"}, 400),
        (b"{}", {"Content-Encoding": "br"}, 415),
        (b"{}", {"Content-Type": "text/plain"}, 415),
    ],
)
def test_malformed_requests_get_a_problem_and_store_nothing(
    client: TestClient, store: Store, acme: Caller, content: bytes, headers: dict, status: int
) -> None:
    response = client.post(
        f"/api/v1/products/{acme.product_id}/events",
        content=content,
        headers={**acme.headers, "Content-Type": "application/json", **headers},
    )
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == status
    assert stored(store, acme) == 0


def test_too_many_events_or_too_large_a_body_is_413(client: TestClient, acme: Caller) -> None:
    too_many = post(client, acme, {"events": events(MAX_BATCH_EVENTS + 1)})
    assert too_many.status_code == 413
    assert str(MAX_BATCH_EVENTS) in too_many.json()["detail"]
    padding = "x" * (MAX_BODY_BYTES + 1)
    too_large = post(client, acme, {"events": [], "padding": padding})
    assert too_large.status_code == 413


def test_a_gzip_bomb_is_refused_without_inflating_it(client: TestClient, acme: Caller) -> None:
    bomb = gzip.compress(b'{"events": [], "x": "' + b"0" * (30 * 1024 * 1024) + b'"}')
    response = client.post(
        f"/api/v1/products/{acme.product_id}/events",
        content=bomb,
        headers={**acme.headers, "Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert response.status_code == 413


def test_another_tenants_product_is_404_and_untouched(
    client: TestClient, store: Store, acme: Caller, globex: Caller
) -> None:
    response = client.post(
        f"/api/v1/products/{globex.product_id}/events",
        content=orjson.dumps({"events": events(1)}),
        headers={**acme.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 404
    assert stored(store, globex) == 0
