"""Every error is an RFC 9457 problem document; authentication is a Bearer API key."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.productpilot.api.conftest import Caller


def test_an_unknown_route_is_a_problem_document(client: TestClient) -> None:
    response = client.get("/api/v1/nowhere")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 404


def test_probes_answer_without_a_key(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["status"] == "ready"


def test_the_openapi_document_declares_bearer_auth_and_problem_responses(
    client: TestClient,
) -> None:
    document = client.get("/openapi.json").json()
    assert document["components"]["schemas"]["Problem"]["required"] == ["title", "status"]
    schemes = document["components"]["securitySchemes"].values()
    assert [scheme["scheme"] for scheme in schemes] == ["bearer"]


def test_a_missing_or_wrong_key_is_401_with_a_challenge(client: TestClient, acme: Caller) -> None:
    url = f"/api/v1/products/{acme.product_id}/configuration"
    for headers in ({}, {"Authorization": "Bearer pp_nope_nope"}, {"Authorization": "Basic x"}):
        response = client.get(url, headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.headers["content-type"] == "application/problem+json"


def test_a_revoked_key_stops_working_once_the_cache_expires(
    app, client: TestClient, store, acme: Caller
) -> None:
    from sqlalchemy import select

    from productpilot.api.cache import TtlCache
    from productpilot.db.models import ApiKey
    from productpilot.db.types import utcnow

    now = [0.0]
    app.state.key_cache = TtlCache[int](ttl_seconds=30, clock=lambda: now[0])
    url = f"/api/v1/products/{acme.product_id}/configuration"
    assert client.get(url, headers=acme.headers).status_code == 200
    with store.system_session() as session:
        for key in session.scalars(select(ApiKey)):
            key.revoked_at = utcnow()
    now[0] = 29.0
    assert client.get(url, headers=acme.headers).status_code == 200  # trusted a while longer
    now[0] = 31.0
    assert client.get(url, headers=acme.headers).status_code == 401


def test_a_zero_ttl_cache_remembers_nothing() -> None:
    from productpilot.api.cache import TtlCache

    cache = TtlCache[int](ttl_seconds=0)
    cache.put("k", 1)
    assert cache.get("k") is None


def test_the_cache_keeps_at_most_its_size() -> None:
    from productpilot.api.cache import TtlCache

    cache = TtlCache[int](ttl_seconds=60, size=2)
    for key in ("a", "b", "c"):
        cache.put(key, 1)
    assert [cache.get(k) for k in ("a", "b", "c")] == [None, 1, 1]
