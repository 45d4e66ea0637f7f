"""/api/v1/dead-letters: the caller's failed runs, replayed through the Prefect gateway."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from productpilot.api.app import create_app
from productpilot.api.prefect_gateway import PrefectUnavailable, Workflow
from productpilot.db.store import Store
from productpilot.errors import NotFoundError
from productpilot.operations.deadletters import FailedRun, record
from productpilot.settings import Settings
from tests.productpilot.api.conftest import Caller

RUN_ID = "0b7e7c4e-8e0e-4a51-9d3f-3c1f7f1b2a10"


class FakeGateway:
    """Records what the API asked Prefect for; answers like the real gateway's ``create``."""

    def __init__(self) -> None:
        self.created: list[dict[str, Any]] = []
        self.runs: dict[str, UUID] = {}
        self.failure: Exception | None = None

    async def create(
        self,
        deployment_name: str,
        parameters: dict[str, Any],
        tenant_id: int,
        idempotency_key: str | None = None,
        extra_tags: Sequence[str] = (),
        region: str | None = None,
    ) -> Workflow:
        if self.failure is not None:
            raise self.failure
        self.created.append(
            {
                "deployment": deployment_name,
                "parameters": parameters,
                "tenant_id": tenant_id,
                "idempotency_key": idempotency_key,
                "extra_tags": list(extra_tags),
                "region": region,
            }
        )
        key = f"tenant:{tenant_id}:{idempotency_key}"
        run_id = self.runs.setdefault(key, uuid4())
        return Workflow(
            id=run_id,
            name="replayed-run",
            deployment_id=uuid4(),
            state="Scheduled",
            state_type="SCHEDULED",
            parameters=parameters,
            tags=["productpilot", f"tenant:{tenant_id}"],
            ui_url=None,
        )


@pytest.fixture
def fake() -> FakeGateway:
    return FakeGateway()


@pytest.fixture
def app(store: Store, tmp_path: Path, fake: FakeGateway) -> FastAPI:
    return create_app(store, settings=Settings(home=tmp_path / "home"), gateway=fake)


def dead_letter(
    store: Store, caller: Caller, deployment: str | None = "daily-analysis", run_id: str = RUN_ID
) -> int:
    run = FailedRun(
        flow_run_id=run_id,
        flow_name="daily-analysis",
        deployment_name=deployment,
        parameters={"product_ids": [caller.product_id]},
        error="Failed: KeyError('signups')",
        attempts=3,
    )
    with store.tenant_session(caller.tenant_id) as session:
        letter, _ = record(session, run)
        return letter.id


def test_the_caller_lists_and_reads_its_dead_letters(
    client: TestClient, store: Store, acme: Caller
) -> None:
    letter_id = dead_letter(store, acme)
    listed = client.get("/api/v1/dead-letters", headers=acme.headers)
    one = client.get(f"/api/v1/dead-letters/{letter_id}", headers=acme.headers)
    assert listed.status_code == 200
    assert [d["id"] for d in listed.json()] == [letter_id]
    assert one.status_code == 200
    body = one.json()
    assert (body["flow_run_id"], body["status"], body["attempts"]) == (RUN_ID, "open", 3)
    assert body["parameters"] == {"product_ids": [acme.product_id]}
    assert client.get("/api/v1/dead-letters?status=replayed", headers=acme.headers).json() == []


def test_another_tenants_dead_letter_is_404_problem_json(
    client: TestClient, store: Store, acme: Caller, globex: Caller, fake: FakeGateway
) -> None:
    letter_id = dead_letter(store, acme)
    assert client.get("/api/v1/dead-letters", headers=globex.headers).json() == []
    for response in (
        client.get(f"/api/v1/dead-letters/{letter_id}", headers=globex.headers),
        client.post(f"/api/v1/dead-letters/{letter_id}/replay", headers=globex.headers),
        client.post(f"/api/v1/dead-letters/{letter_id}/discard", headers=globex.headers),
    ):
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/problem+json")
    assert fake.created == []


def test_without_a_key_it_is_401(client: TestClient) -> None:
    assert client.get("/api/v1/dead-letters").status_code == 401


def test_an_unknown_status_is_422(client: TestClient, acme: Caller) -> None:
    response = client.get("/api/v1/dead-letters?status=closed", headers=acme.headers)
    assert response.status_code == 422


def test_replay_starts_the_same_deployment_with_the_same_parameters(
    client: TestClient, store: Store, acme: Caller, fake: FakeGateway
) -> None:
    letter_id = dead_letter(store, acme)
    response = client.post(f"/api/v1/dead-letters/{letter_id}/replay", headers=acme.headers)
    assert response.status_code == 202
    body = response.json()
    assert fake.created == [
        {
            "deployment": "daily-analysis/daily-analysis",
            "parameters": {"product_ids": [acme.product_id]},
            "tenant_id": acme.tenant_id,
            "idempotency_key": f"replay-of:{RUN_ID}",
            "extra_tags": [f"replay-of:{RUN_ID}"],
            "region": None,
        }
    ]
    assert body["workflow"]["state_type"] == "SCHEDULED"
    assert body["dead_letter"]["status"] == "replayed"
    assert body["dead_letter"]["replay_flow_run_id"] == body["workflow"]["workflow_id"]
    assert body["dead_letter"]["resolved_at"] is not None
    again = client.post(f"/api/v1/dead-letters/{letter_id}/replay", headers=acme.headers)
    assert again.status_code == 409
    assert "already replayed" in again.json()["detail"]


def test_a_run_without_deployment_cannot_be_replayed(
    client: TestClient, store: Store, acme: Caller, fake: FakeGateway
) -> None:
    letter_id = dead_letter(store, acme, deployment=None)
    response = client.post(f"/api/v1/dead-letters/{letter_id}/replay", headers=acme.headers)
    assert response.status_code == 409
    assert "had no deployment" in response.json()["detail"]
    assert fake.created == []


def test_replay_while_prefect_is_down_is_503_and_leaves_it_open(
    client: TestClient, store: Store, acme: Caller, fake: FakeGateway
) -> None:
    letter_id = dead_letter(store, acme)
    fake.failure = PrefectUnavailable("Prefect API unreachable: ConnectError")
    response = client.post(f"/api/v1/dead-letters/{letter_id}/replay", headers=acme.headers)
    assert response.status_code == 503
    assert "retry-after" in response.headers
    after = client.get(f"/api/v1/dead-letters/{letter_id}", headers=acme.headers)
    assert after.json()["status"] == "open"


def test_replay_of_a_deleted_deployment_is_404(
    client: TestClient, store: Store, acme: Caller, fake: FakeGateway
) -> None:
    letter_id = dead_letter(store, acme)
    fake.failure = NotFoundError("no deployment 'daily-analysis/daily-analysis'")
    response = client.post(f"/api/v1/dead-letters/{letter_id}/replay", headers=acme.headers)
    assert response.status_code == 404
    assert "no deployment" in response.json()["detail"]


def test_discard_closes_it_with_the_reason(
    client: TestClient, store: Store, acme: Caller, fake: FakeGateway
) -> None:
    letter_id = dead_letter(store, acme)
    response = client.post(
        f"/api/v1/dead-letters/{letter_id}/discard",
        json={"reason": "superseded by tomorrow's run"},
        headers=acme.headers,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "discarded"
    assert body["error"].endswith("[discarded] superseded by tomorrow's run")
    replay = client.post(f"/api/v1/dead-letters/{letter_id}/replay", headers=acme.headers)
    assert replay.status_code == 409
    assert fake.created == []


def test_discard_needs_no_body(client: TestClient, store: Store, acme: Caller) -> None:
    letter_id = dead_letter(store, acme)
    response = client.post(f"/api/v1/dead-letters/{letter_id}/discard", headers=acme.headers)
    assert (response.status_code, response.json()["status"]) == (200, "discarded")
