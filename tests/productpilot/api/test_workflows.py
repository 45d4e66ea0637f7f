"""Workflows and automation triggers: Prefect flow runs, scoped to the caller's tenant."""

from __future__ import annotations

from uuid import uuid4

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prefect import flow, tags
from prefect.artifacts import create_markdown_artifact
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.settings import get_current_settings

from productpilot.api.prefect_gateway import PrefectGateway
from productpilot.db.store import Store
from productpilot.tenants import pin_region
from tests.productpilot.api.conftest import Caller


@flow(name="echo")
def echo(product_id: int, note: str = "") -> dict:
    return {"product_id": product_id, "note": note}


@flow(name="product-health")
def product_health(product_id: int) -> int:
    return product_id


@flow(name="reported", persist_result=True)
def reported(value: int) -> dict:
    create_markdown_artifact(f"# value {value}", key="reported-value")
    return {"value": value}


@pytest.fixture(scope="module")
def deployments(prefect_harness: None) -> None:
    """Deployments with no work pool: runs created from them stay scheduled."""
    echo.to_deployment(name="echo").apply()
    product_health.to_deployment(name="product-health").apply()


@pytest.fixture
def live(app: FastAPI, deployments: None) -> FastAPI:
    app.state.workflows = PrefectGateway(get_current_settings().api.url)
    return app


@pytest.fixture
def client(live: FastAPI) -> TestClient:
    with TestClient(live, raise_server_exceptions=False) as test_client:
        yield test_client


def create(client: TestClient, caller: Caller, parameters: dict, **headers: str):
    return client.post(
        "/api/v1/workflows/create",
        json={"deployment": "echo/echo", "parameters": parameters},
        headers={**caller.headers, **headers},
    )


def test_a_run_is_created_with_its_ui_link(client: TestClient, acme: Caller) -> None:
    response = create(client, acme, {"product_id": acme.product_id, "note": "hi"})
    assert response.status_code == 202
    body = response.json()
    assert body["state_type"] == "SCHEDULED"
    assert body["parameters"] == {"product_id": acme.product_id, "note": "hi"}
    assert body["ui_url"].endswith(f"/runs/flow-run/{body['workflow_id']}")


def test_a_missing_parameter_is_422_naming_it(client: TestClient, acme: Caller) -> None:
    response = client.post(
        "/api/v1/workflows/create",
        json={"deployment": "echo/echo", "parameters": {"note": "x"}},
        headers=acme.headers,
    )
    assert response.status_code == 422
    assert "product_id" in response.json()["detail"]


def test_a_parameter_of_the_wrong_type_is_422(client: TestClient, acme: Caller) -> None:
    response = create(client, acme, {"product_id": acme.product_id, "note": 5})
    assert response.status_code == 422
    assert "note" in response.json()["detail"]


def test_a_run_may_not_name_another_tenants_product(
    client: TestClient, acme: Caller, globex: Caller
) -> None:
    assert create(client, acme, {"product_id": globex.product_id}).status_code == 404


def test_an_unknown_deployment_is_404(client: TestClient, acme: Caller) -> None:
    response = client.post(
        "/api/v1/workflows/create",
        json={"deployment": "nothing/here", "parameters": {}},
        headers=acme.headers,
    )
    assert response.status_code == 404


def test_the_idempotency_key_returns_the_same_run_per_tenant(
    client: TestClient, acme: Caller, globex: Caller
) -> None:
    key = f"order-{uuid4()}"
    first = create(client, acme, {"product_id": acme.product_id}, **{"Idempotency-Key": key})
    again = create(client, acme, {"product_id": acme.product_id}, **{"Idempotency-Key": key})
    other = create(client, globex, {"product_id": globex.product_id}, **{"Idempotency-Key": key})
    assert first.json()["workflow_id"] == again.json()["workflow_id"]
    assert other.json()["workflow_id"] != first.json()["workflow_id"]


def test_active_runs_are_listed_for_their_tenant_only(
    client: TestClient, acme: Caller, globex: Caller
) -> None:
    mine = create(client, acme, {"product_id": acme.product_id}).json()["workflow_id"]
    theirs = create(client, globex, {"product_id": globex.product_id}).json()["workflow_id"]
    listed = {
        w["workflow_id"]
        for w in client.get("/api/v1/workflows/active", headers=acme.headers).json()
    }
    assert mine in listed
    assert theirs not in listed


def test_a_scheduled_run_can_be_cancelled_once(client: TestClient, acme: Caller) -> None:
    run = create(client, acme, {"product_id": acme.product_id}).json()["workflow_id"]
    url = f"/api/v1/workflows/{run}/status"
    cancelled = client.put(url, json={"action": "cancel"}, headers=acme.headers)
    assert cancelled.status_code == 200
    assert cancelled.json()["state_type"] == "CANCELLED"
    resumed = client.put(url, json={"action": "resume"}, headers=acme.headers)
    assert resumed.status_code == 409
    assert resumed.headers["content-type"] == "application/problem+json"


def test_another_tenants_run_cannot_be_seen_or_steered(
    client: TestClient, acme: Caller, globex: Caller
) -> None:
    run = create(client, globex, {"product_id": globex.product_id}).json()["workflow_id"]
    assert client.get(f"/api/v1/workflows/{run}/results", headers=acme.headers).status_code == 404
    steer = client.put(
        f"/api/v1/workflows/{run}/status", json={"action": "cancel"}, headers=acme.headers
    )
    assert steer.status_code == 404


def test_results_carry_the_state_return_value_and_artifacts(
    client: TestClient, acme: Caller
) -> None:
    with tags("productpilot", f"tenant:{acme.tenant_id}"):
        state = reported(7, return_state=True)
    run_id = state.state_details.flow_run_id
    response = client.get(f"/api/v1/workflows/{run_id}/results", headers=acme.headers)
    assert response.status_code == 200
    body = response.json()
    assert body["workflow"]["state_type"] == "COMPLETED"
    assert body["result"] == {"value": 7}
    assert [a["key"] for a in body["artifacts"]] == ["reported-value"]


def test_a_trigger_starts_its_deployment_with_the_body_as_parameters(
    client: TestClient, acme: Caller
) -> None:
    response = client.post(
        "/api/v1/automation/triggers/product-health",
        json={"product_id": acme.product_id},
        headers=acme.headers,
    )
    assert response.status_code == 202
    assert response.json()["parameters"] == {"product_id": acme.product_id}
    not_deployed = client.post(
        "/api/v1/automation/triggers/market-opportunity", json={}, headers=acme.headers
    )
    assert not_deployed.status_code == 404
    unknown = client.post("/api/v1/automation/triggers/vibes", json={}, headers=acme.headers)
    assert unknown.status_code == 422


def test_without_prefect_workflows_are_503_and_the_rest_still_works(
    app: FastAPI, acme: Caller
) -> None:
    app.state.workflows = PrefectGateway("http://127.0.0.1:9/api", timeout=2)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/api/v1/workflows/active", headers=acme.headers)
        assert response.status_code == 503
        assert response.headers["retry-after"] == "30"
        assert response.headers["content-type"] == "application/problem+json"
        configuration = client.get(
            f"/api/v1/products/{acme.product_id}/configuration", headers=acme.headers
        )
        assert configuration.status_code == 200


def test_a_deployment_name_with_control_characters_is_422(client: TestClient, acme: Caller) -> None:
    response = client.post(
        "/api/v1/workflows/create",
        json={"deployment": "0/\u001f", "parameters": {}},
        headers=acme.headers,
    )
    assert response.status_code == 422


@pytest.fixture(scope="module")
def pooled(prefect_harness: None) -> str:
    """``echo`` deployed on a work pool's default queue, which has a copy for region eu."""
    pool = f"pp-regions-{uuid4().hex[:6]}"
    with get_client(sync_client=True) as prefect:
        prefect.create_work_pool(WorkPoolCreate(name=pool, type="process"))
        prefect.create_work_queue(name="default-eu", work_pool_name=pool)  # "default" comes with it
    echo.to_deployment(name="pooled", work_pool_name=pool, work_queue_name="default").apply()
    return "echo/pooled"


def test_a_tenant_pinned_to_a_region_has_its_runs_on_that_regions_queue(
    client: TestClient, acme: Caller, globex: Caller, store: Store, pooled: str
) -> None:
    pin_region(store, acme.tenant_id, "eu")

    def start(caller: Caller):
        return client.post(
            "/api/v1/workflows/create",
            json={"deployment": pooled, "parameters": {"product_id": caller.product_id}},
            headers=caller.headers,
        )

    pinned, anywhere = start(acme), start(globex)
    assert (pinned.status_code, anywhere.status_code) == (202, 202), pinned.text
    with get_client(sync_client=True) as prefect:
        queues = {
            name: prefect.read_flow_run(response.json()["workflow_id"]).work_queue_name
            for name, response in (("acme", pinned), ("globex", anywhere))
        }
    assert queues == {"acme": "default-eu", "globex": "default"}
