"""``/api/v1/products/{id}/rollouts``: start a rollout, read it and its report, steer it
with approve, hold, resume and abort; problem+json for what cannot be done."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from productpilot.api.app import create_app
from productpilot.db.models import Notification
from productpilot.db.store import Store
from productpilot.launch.store import FLAG_CHANGED_EVENT
from productpilot.settings import Settings
from tests.productpilot.api.conftest import Caller, make_caller
from tests.productpilot.launch.test_rollouts import DEFINITION, FLAG, METRICS, PLAN
from tests.productpilot.webhooks.fakes import RecordingEmitter

PROBLEM = "application/problem+json"
ROUTES = [
    {
        "kinds": ["productpilot.rollout.*"],
        "channel": "outbox",
        "recipients": ["#launches"],
        "group_wait_minutes": 0,
    }
]


@pytest.fixture
def emitter() -> RecordingEmitter:
    return RecordingEmitter()


@pytest.fixture
def api(store: Store, tmp_path: Path, emitter: RecordingEmitter) -> Iterator[TestClient]:
    app = create_app(store, settings=Settings(home=tmp_path / "home"), emitter=emitter)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def shop(store: Store, api: TestClient) -> Caller:
    caller = make_caller(store, "Shop", {"metrics": METRICS, "notification_routes": ROUTES})
    created = api.post(
        f"/api/v1/products/{caller.product_id}/flags",
        json={"key": FLAG, "definition": DEFINITION},
        headers=caller.headers,
    )
    assert created.status_code == 201
    return caller


def url(caller: Caller, suffix: str = "") -> str:
    return f"/api/v1/products/{caller.product_id}/rollouts{suffix}"


def start(api: TestClient, caller: Caller, plan: dict[str, Any] = PLAN) -> Any:
    body = {"name": "New checkout", "flag_key": FLAG, "plan": plan}
    return api.post(url(caller), json=body, headers=caller.headers)


def flag_targeting(api: TestClient, caller: Caller) -> Any:
    response = api.get(f"/api/v1/products/{caller.product_id}/flags/{FLAG}", headers=caller.headers)
    return response.json()["definition"]["targeting"]


def test_starting_a_rollout_moves_the_flag_to_stage_1_and_announces_it(
    api: TestClient, shop: Caller, emitter: RecordingEmitter
) -> None:
    response = start(api, shop)

    assert response.status_code == 201
    body = response.json()
    assert response.headers["location"] == url(shop, f"/{body['id']}")
    assert (body["status"], body["stage"], body["stage_count"], body["percentage"]) == (
        "running",
        1,
        4,
        10.0,
    )
    assert flag_targeting(api, shop) == {"fractional": [["on", 10], ["off", 90]]}
    announced = [e for e in emitter.events if e.name == FLAG_CHANGED_EVENT]
    assert announced[-1].payload["actor"] == f"rollout:{body['id']}"
    listed = api.get(url(shop), headers=shop.headers).json()
    assert [r["id"] for r in listed] == [body["id"]]
    assert api.get(url(shop, "?status=completed"), headers=shop.headers).json() == []


def test_a_bad_plan_or_a_second_rollout_of_the_flag_answers_a_problem(
    api: TestClient, shop: Caller
) -> None:
    bad = start(api, shop, {"stages": [{"percentage": 50}, {"percentage": 20}]})
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith(PROBLEM)
    assert "stage percentages must increase" in bad.json()["detail"]
    assert start(api, shop).status_code == 201
    again = start(api, shop)
    assert again.status_code == 409
    assert "already has an active rollout" in again.json()["detail"]


def test_hold_resume_and_abort_are_recorded_with_the_caller_and_abort_notifies(
    api: TestClient, shop: Caller, store: Store
) -> None:
    rollout_id = start(api, shop).json()["id"]
    reason = {"reason": "support is short-staffed"}

    held = api.post(url(shop, f"/{rollout_id}/hold"), json=reason, headers=shop.headers)
    assert held.status_code == 200
    assert (held.json()["action"], held.json()["rollout"]["status"]) == ("manual_hold", "held")
    resumed = api.post(url(shop, f"/{rollout_id}/resume"), headers=shop.headers)
    assert resumed.json()["rollout"]["status"] == "running"
    aborted = api.post(url(shop, f"/{rollout_id}/abort"), headers=shop.headers)

    assert aborted.json()["action"] == "rollback"
    assert aborted.json()["rollout"]["percentage"] == 0.0
    assert flag_targeting(api, shop) == {"fractional": [["on", 0], ["off", 100]]}
    controls = aborted.json()["rollout"]["controls"]
    prefix = shop.key.split("_")[1]
    assert [(c["command"], c["actor"]) for c in controls] == [
        ("hold", f"api-key:{prefix}"),
        ("resume", f"api-key:{prefix}"),
        ("abort", f"api-key:{prefix}"),
    ]
    assert controls[0]["reason"] == "support is short-staffed"
    with store.tenant_session(shop.tenant_id) as session:
        [note] = session.scalars(select(Notification))
    assert (note.kind, note.channel) == ("productpilot.rollout.rolled_back", "outbox")
    finished = api.post(url(shop, f"/{rollout_id}/hold"), headers=shop.headers)
    assert finished.status_code == 409
    assert finished.headers["content-type"].startswith(PROBLEM)


def test_approve_before_the_stage_is_due_is_kept_and_the_answer_says_what_it_waits_for(
    api: TestClient, shop: Caller
) -> None:
    plan = {**PLAN, "stages": [{"percentage": 10, "requires_approval": True}, {"percentage": 100}]}
    rollout_id = start(api, shop, plan).json()["id"]

    approved = api.post(url(shop, f"/{rollout_id}/approve"), headers=shop.headers)

    # No exposure yet: the guardrails have nothing to test, so the stage keeps waiting.
    assert approved.status_code == 200
    assert approved.json()["action"] == "hold"
    assert "waits for guardrail results" in approved.json()["reason"]
    assert approved.json()["rollout"]["controls"][0]["command"] == "approve"


def test_the_report_is_markdown(api: TestClient, shop: Caller) -> None:
    rollout_id = start(api, shop).json()["id"]
    response = api.get(url(shop, f"/{rollout_id}/report"), headers=shop.headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/markdown")
    assert response.text.startswith("# Launch report: New checkout (flag new-checkout)")
    assert "| 1 | 10% |" in response.text


def test_another_tenants_rollout_is_not_found(
    api: TestClient, shop: Caller, globex: Caller
) -> None:
    rollout_id = start(api, shop).json()["id"]
    assert api.get(url(shop, f"/{rollout_id}"), headers=shop.headers).status_code == 200
    theirs = f"/api/v1/products/{shop.product_id}/rollouts/{rollout_id}"
    assert api.get(theirs, headers=globex.headers).status_code == 404
    mine = api.get(url(globex, f"/{rollout_id}"), headers=globex.headers)
    assert mine.status_code == 404
    assert mine.headers["content-type"].startswith(PROBLEM)
    abort = api.post(url(globex, f"/{rollout_id}/abort"), headers=globex.headers)
    assert abort.status_code == 404
