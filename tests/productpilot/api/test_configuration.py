"""/api/v1/products/{id}/configuration: validated, versioned, optimistic, secrets write-only."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from productpilot.db.store import Store
from productpilot.products import current_configuration, get_product
from tests.productpilot.api.conftest import Caller

CONFIG = {
    "metrics": [{"name": "signups", "kind": "count", "event": "signup"}],
    "kpis": [{"name": "growth", "metric": "signups", "target": 100}],
}


def url(caller: Caller) -> str:
    return f"/api/v1/products/{caller.product_id}/configuration"


def put(client: TestClient, caller: Caller, body: dict, if_match: str | None = '"1"'):
    headers = dict(caller.headers)
    if if_match is not None:
        headers["If-Match"] = if_match
    return client.put(url(caller), json=body, headers=headers)


def test_reading_gives_the_version_as_etag(client: TestClient, acme: Caller) -> None:
    response = client.get(url(acme), headers=acme.headers)
    assert response.status_code == 200
    assert response.headers["etag"] == '"1"'
    assert response.json()["version"] == 1
    assert response.json()["configuration"]["kpis"] == []


def test_a_put_with_the_current_etag_stores_a_new_version(client: TestClient, acme: Caller) -> None:
    response = put(client, acme, CONFIG)
    assert response.status_code == 200
    assert response.headers["etag"] == '"2"'
    assert response.json()["configuration"]["kpis"][0]["target"] == 100
    assert client.get(url(acme), headers=acme.headers).json()["version"] == 2


def test_a_stale_etag_is_412_and_changes_nothing(client: TestClient, acme: Caller) -> None:
    put(client, acme, CONFIG)
    response = put(client, acme, {}, if_match='"1"')
    assert response.status_code == 412
    assert response.json()["current_etag"] == '"2"'
    assert client.get(url(acme), headers=acme.headers).json()["configuration"]["kpis"]


@pytest.mark.parametrize(("if_match", "status"), [(None, 428), ("*", 200), ('W/"1"', 200)])
def test_if_match_is_required_and_may_be_a_wildcard_or_weak(
    client: TestClient, acme: Caller, if_match: str | None, status: int
) -> None:
    assert put(client, acme, CONFIG, if_match=if_match).status_code == status


@pytest.mark.parametrize(
    ("body", "location"),
    [
        ({"kpi": []}, "body.kpi"),
        ({"metrics": [{"name": "r", "kind": "ratio", "event": "a"}]}, "body.metrics.0"),
        ({"gates": [{"name": "g", "kind": "vibes"}]}, "body.gates.0.kind"),
        ({"webhook_secrets": {"gitlab": "x"}}, "body.webhook_secrets.gitlab"),
    ],
)
def test_an_invalid_configuration_is_422_naming_the_field(
    client: TestClient, acme: Caller, body: dict, location: str
) -> None:
    response = put(client, acme, body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert any(error["location"].startswith(location) for error in response.json()["errors"])


def test_secrets_are_write_only_and_kept_unless_changed(
    client: TestClient, store: Store, acme: Caller
) -> None:
    put(client, acme, {"webhook_secrets": {"github": "s3cr3t", "slack": "x0x"}})
    shown = client.get(url(acme), headers=acme.headers)
    assert "s3cr3t" not in shown.text
    configuration = shown.json()["configuration"]
    assert configuration["webhook_secrets_configured"] == ["github", "slack"]

    # Sending back what was read keeps the secrets; null removes one.
    del configuration["webhook_secrets_configured"]
    put(client, acme, configuration, if_match='"2"')
    put(client, acme, {"webhook_secrets": {"slack": None}}, if_match='"3"')
    with store.tenant_session(acme.tenant_id) as session:
        secrets = current_configuration(session, get_product(session, acme.product_id))
    assert {k: v.get_secret_value() for k, v in secrets.webhook_secrets.items()} == {
        "github": "s3cr3t"
    }


def test_another_tenants_configuration_is_404_both_ways(
    client: TestClient, acme: Caller, globex: Caller
) -> None:
    assert client.get(url(globex), headers=acme.headers).status_code == 404
    response = client.put(url(globex), json=CONFIG, headers={**acme.headers, "If-Match": "*"})
    assert response.status_code == 404
