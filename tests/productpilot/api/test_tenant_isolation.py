"""Every product endpoint in the OpenAPI document answers 404 for another tenant's product.

The sweep reads the document, so an endpoint added later is covered without editing this
file; give it a minimal request below if it needs parameters to reach its handler.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from productpilot.db.models import Event, ProductConfiguration
from productpilot.db.store import Store
from tests.productpilot.api.conftest import Caller

#: Just enough of a valid request for each operation to reach its ownership check.
MINIMAL: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/api/v1/products/{product_id}/events"): {"json": {"events": []}},
    ("get", "/api/v1/products/{product_id}/metrics"): {
        "params": {"from": "2026-08-01", "to": "2026-08-02"}
    },
    ("get", "/api/v1/products/{product_id}/analytics"): {
        "params": {"insight": "stickiness", "from": "2026-08-01", "to": "2026-08-02"}
    },
    ("put", "/api/v1/products/{product_id}/configuration"): {
        "json": {},
        "headers": {"If-Match": "*"},
    },
}


def product_operations(client: TestClient) -> list[tuple[str, str]]:
    document = client.get("/openapi.json").json()
    return [
        (method, path)
        for path, operations in document["paths"].items()
        if "{product_id}" in path
        for method in operations
    ]


def test_the_sweep_sees_every_product_endpoint(client: TestClient) -> None:
    assert set(product_operations(client)) >= set(MINIMAL)


def test_no_product_endpoint_reaches_another_tenants_product(
    client: TestClient, store: Store, acme: Caller, globex: Caller
) -> None:
    for method, path in product_operations(client):
        request = MINIMAL.get((method, path), {})
        response = client.request(
            method.upper(),
            path.replace("{product_id}", str(globex.product_id)),
            params=request.get("params"),
            json=request.get("json"),
            headers={**acme.headers, **request.get("headers", {})},
        )
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["detail"] == f"no product {globex.product_id!r}"

    with store.tenant_session(globex.tenant_id) as session:
        assert session.scalar(select(func.count()).select_from(Event)) == 0
        assert session.scalar(select(func.count(ProductConfiguration.id))) == 1


@pytest.mark.parametrize("product_id", [0, -1, 2**31, "abc"])
def test_impossible_product_ids_are_422_not_errors(
    client: TestClient, acme: Caller, product_id: object
) -> None:
    response = client.get(f"/api/v1/products/{product_id}/configuration", headers=acme.headers)
    assert response.status_code == 422
